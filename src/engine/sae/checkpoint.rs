//! Saving and loading SAE weights (`sae.safetensors`) and training checkpoints
//! (`checkpoint.safetensors`: weights, Adam moments, step and data-order state, in one file so
//! a single atomic rename publishes all of it).

use std::collections::HashMap;
use std::path::Path;

use super::adam::Adam;
use super::params::{SaeParams, TENSOR_NAMES};
use crate::engine::error::{Error, Result};
use crate::engine::tensorfile::{self, Named, TensorFile};

const CHECKPOINT_FORMAT: &str = "saelab-checkpoint-1";
/// The data order is a fresh seeded permutation each epoch (see `set::batches`).
pub const DATA_ORDER: &str = "chacha8-epoch-permutation-1";

/// Where a run stands, beside its weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Optimiser steps taken.
    pub step: u64,
    /// Rows of the training set, which fixes the data order together with the seed.
    pub rows: usize,
    pub seed: u64,
}

fn named<'a>(prefix: &str, p: &'a SaeParams) -> Vec<Named<'a>> {
    let shapes = SaeParams::shapes(p.d, p.m);
    TENSOR_NAMES
        .iter()
        .zip(shapes)
        .zip(p.buffers())
        .map(|((n, s), b)| Named::new(format!("{prefix}{n}"), s, b))
        .collect()
}

fn read_params(f: &TensorFile, prefix: &str, d: usize, m: usize) -> Result<SaeParams> {
    let mut p = SaeParams::zeros(d, m);
    let shapes = SaeParams::shapes(d, m);
    for ((name, shape), buf) in TENSOR_NAMES.iter().zip(shapes).zip(p.buffers_mut()) {
        buf.copy_from_slice(&f.f32(&format!("{prefix}{name}"), &shape)?);
    }
    Ok(p)
}

/// Writes final SAE weights with their sizes and any extra metadata.
pub fn save_weights(path: &Path, p: &SaeParams, extra: HashMap<String, String>) -> Result<()> {
    let mut meta = extra;
    meta.insert("d_in".into(), p.d.to_string());
    meta.insert("d_sae".into(), p.m.to_string());
    tensorfile::write(path, &named("", p), meta)
}

/// Reads SAE weights written by [`save_weights`] (or any file with SAELens' tensor names).
pub fn load_weights(path: &Path) -> Result<SaeParams> {
    let f = TensorFile::read(path)?;
    let (d, m) = match (f.meta::<usize>("d_in"), f.meta::<usize>("d_sae")) {
        (Ok(d), Ok(m)) => (d, m),
        // Files from other tools carry no sizes in their metadata: read them off W_enc.
        _ => match f.shape("W_enc") {
            Some(s) if s.len() == 2 => (s[0], s[1]),
            _ => {
                return Err(Error::bad_file(
                    path,
                    "has no 2-D tensor 'W_enc'; it is not an SAE file",
                ))
            }
        },
    };
    read_params(&f, "", d, m)
}

pub fn save_checkpoint(path: &Path, p: &SaeParams, adam: &Adam, pos: Position) -> Result<()> {
    let mut tensors = named("", p);
    tensors.extend(named("adam_m.", &adam.m));
    tensors.extend(named("adam_v.", &adam.v));
    let meta = HashMap::from([
        ("format".to_string(), CHECKPOINT_FORMAT.to_string()),
        ("step".to_string(), pos.step.to_string()),
        ("adam_t".to_string(), adam.t.to_string()),
        ("rows".to_string(), pos.rows.to_string()),
        ("seed".to_string(), pos.seed.to_string()),
        ("data_order".to_string(), DATA_ORDER.to_string()),
        ("d_in".to_string(), p.d.to_string()),
        ("d_sae".to_string(), p.m.to_string()),
    ]);
    tensorfile::write(path, &tensors, meta)
}

/// Reads a checkpoint, checking it matches an SAE of `d` inputs and `m` latents.
pub fn load_checkpoint(path: &Path, d: usize, m: usize) -> Result<(SaeParams, Adam, Position)> {
    let f = TensorFile::read(path)?;
    if f.metadata().get("format").map(String::as_str) != Some(CHECKPOINT_FORMAT) {
        return Err(Error::bad_file(path, "is not a saelab checkpoint"));
    }
    let (fd, fm) = (f.meta::<usize>("d_in")?, f.meta::<usize>("d_sae")?);
    if (fd, fm) != (d, m) {
        return Err(Error::bad_file(
            path,
            format!("holds an SAE of {fd} inputs x {fm} latents, but the run needs {d} x {m}"),
        ));
    }
    let params = read_params(&f, "", d, m)?;
    let adam = Adam {
        m: read_params(&f, "adam_m.", d, m)?,
        v: read_params(&f, "adam_v.", d, m)?,
        t: f.meta("adam_t")?,
    };
    let pos = Position {
        step: f.meta("step")?,
        rows: f.meta("rows")?,
        seed: f.meta("seed")?,
    };
    Ok((params, adam, pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_round_trips_and_checks_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoint.safetensors");
        let p = SaeParams::init(4, 6, 1);
        let mut adam = Adam::new(4, 6);
        adam.m = SaeParams::init(4, 6, 2);
        adam.t = 9;
        let pos = Position {
            step: 9,
            rows: 100,
            seed: 5,
        };
        save_checkpoint(&path, &p, &adam, pos).unwrap();
        let (p2, adam2, pos2) = load_checkpoint(&path, 4, 6).unwrap();
        assert_eq!((p2, adam2, pos2), (p, adam, pos));
        let err = load_checkpoint(&path, 4, 8).unwrap_err().to_string();
        assert!(err.contains("4 inputs x 6 latents"), "{err}");
    }

    #[test]
    fn weights_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sae.safetensors");
        let p = SaeParams::init(3, 5, 1);
        save_weights(&path, &p, HashMap::new()).unwrap();
        assert_eq!(load_weights(&path).unwrap(), p);
    }
}
