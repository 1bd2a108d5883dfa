//! Saving and loading SAE weights (`sae.safetensors`) and training checkpoints
//! (`checkpoint.safetensors`: weights, Adam moments, step and data-order state, in one file so
//! a single atomic rename publishes all of it).

use std::collections::HashMap;
use std::path::Path;

use super::adam::Adam;
use super::arch::Activation;
use super::family_state::FamilyState;
use super::params::{SaeParams, TENSOR_NAMES};
use super::snapshot::Snapshot;
use crate::error::{Error, Result};
use crate::tensorfile::{self, Named, TensorFile};

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

/// The four weight tensors under SAELens' names, each prefixed (`adam_m.` for a moment).
pub(crate) fn named<'a>(prefix: &str, p: &'a SaeParams) -> Vec<Named<'a>> {
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

/// The metadata key naming the activation (SAELens' `architecture` spelling) and TopK's k.
const ACTIVATION_KEY: &str = "architecture";
const K_KEY: &str = "k";
/// JumpReLU's per-latent thresholds, as SAELens names them. [m]
const THRESHOLD: &str = "threshold";

/// Writes final SAE weights with their sizes, activation and any extra metadata. A JumpReLU
/// activation (also BatchTopK's and Matryoshka's inference form) saves its `threshold`.
pub fn save_weights(path: &Path, p: &SaeParams, extra: HashMap<String, String>) -> Result<()> {
    let mut meta = extra;
    meta.insert("d_in".into(), p.d.to_string());
    meta.insert("d_sae".into(), p.m.to_string());
    meta.insert(ACTIVATION_KEY.into(), p.activation.name().into());
    let mut tensors = named("", p);
    match &p.activation {
        Activation::Relu => {}
        Activation::TopK { k } => {
            meta.insert(K_KEY.into(), k.to_string());
        }
        Activation::JumpRelu { threshold } => {
            tensors.push(Named::new(THRESHOLD, vec![p.m], threshold));
        }
    }
    tensorfile::write(path, &tensors, meta)
}

/// The activation a weights file records: a `threshold` tensor makes it JumpReLU, metadata
/// `architecture = topk` with `k` makes it TopK, anything else ReLU.
fn read_activation(f: &TensorFile, path: &Path, m: usize) -> Result<Activation> {
    if f.shape(THRESHOLD).is_some() {
        return Ok(Activation::JumpRelu {
            threshold: f.f32(THRESHOLD, &[m])?,
        });
    }
    match f.metadata().get(ACTIVATION_KEY).map(String::as_str) {
        Some("topk") => {
            let k: usize = f.meta(K_KEY)?;
            if k == 0 || k > m {
                return Err(Error::bad_file(
                    path,
                    format!("says k = {k}, which must be between 1 and its {m} latents"),
                ));
            }
            Ok(Activation::TopK { k })
        }
        _ => Ok(Activation::Relu),
    }
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
    let mut p = read_params(&f, "", d, m)?;
    p.activation = read_activation(&f, path, m)?;
    Ok(p)
}

/// Names of the family's state in a checkpoint.
const SINCE_FIRED: &str = "family.since_fired";
const FAMILY_THRESHOLD: [&str; 3] = [
    "family.threshold",
    "family.threshold_adam_m",
    "family.threshold_adam_v",
];
const BATCH_THRESHOLD: &str = "batch_threshold";

pub fn save_checkpoint(path: &Path, snap: &Snapshot, pos: Position) -> Result<()> {
    let (p, adam) = (&snap.params, &snap.adam);
    let mut tensors = named("", p);
    tensors.extend(named("adam_m.", &adam.m));
    tensors.extend(named("adam_v.", &adam.v));
    let mut family_meta = None;
    if let Some(f) = &snap.family {
        tensors.push(Named::u32(SINCE_FIRED, vec![p.m], &f.since_fired));
        let theta = [&f.threshold, &f.threshold_m, &f.threshold_v];
        for (name, buf) in FAMILY_THRESHOLD.iter().zip(theta) {
            if !buf.is_empty() {
                tensors.push(Named::new(*name, vec![p.m], buf));
            }
        }
        family_meta = Some(f.batch_threshold.to_bits().to_string());
    }
    let mut meta = HashMap::from([
        ("format".to_string(), CHECKPOINT_FORMAT.to_string()),
        ("step".to_string(), pos.step.to_string()),
        ("adam_t".to_string(), adam.t.to_string()),
        ("rows".to_string(), pos.rows.to_string()),
        ("seed".to_string(), pos.seed.to_string()),
        ("data_order".to_string(), DATA_ORDER.to_string()),
        ("d_in".to_string(), p.d.to_string()),
        ("d_sae".to_string(), p.m.to_string()),
    ]);
    if let Some(bits) = family_meta {
        meta.insert(BATCH_THRESHOLD.into(), bits);
    }
    tensorfile::write(path, &tensors, meta)
}

/// The family's state, where the checkpoint has one.
fn read_family(f: &TensorFile, path: &Path, m: usize) -> Result<Option<FamilyState>> {
    if f.shape(SINCE_FIRED).is_none() {
        return Ok(None);
    }
    let present = FAMILY_THRESHOLD
        .iter()
        .filter(|n| f.shape(n).is_some())
        .count();
    if present != 0 && present != FAMILY_THRESHOLD.len() {
        return Err(Error::bad_file(
            path,
            "holds JumpReLU's threshold without its Adam moments (or the reverse); it is damaged",
        ));
    }
    let mut theta = Vec::new();
    for name in FAMILY_THRESHOLD {
        theta.push(match f.shape(name) {
            Some(_) => f.f32(name, &[m])?,
            None => Vec::new(),
        });
    }
    let [threshold, threshold_m, threshold_v]: [Vec<f32>; 3] = theta.try_into().unwrap_or_default();
    Ok(Some(FamilyState {
        since_fired: f.u32(SINCE_FIRED, &[m])?,
        batch_threshold: f32::from_bits(f.meta(BATCH_THRESHOLD)?),
        threshold,
        threshold_m,
        threshold_v,
    }))
}

/// Reads a checkpoint, checking it matches an SAE of `d` inputs and `m` latents.
pub fn load_checkpoint(path: &Path, d: usize, m: usize) -> Result<(Snapshot, Position)> {
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
    let snapshot = Snapshot {
        params,
        adam,
        family: read_family(&f, path, m)?,
    };
    Ok((snapshot, pos))
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
        let mut family = FamilyState::fresh(6, Some(0.25));
        family.since_fired[2] = 7;
        family.batch_threshold = 0.125;
        for f in [None, Some(family)] {
            let snap = Snapshot {
                params: p.clone(),
                adam: adam.clone(),
                family: f,
            };
            save_checkpoint(&path, &snap, pos).unwrap();
            assert_eq!(load_checkpoint(&path, 4, 6).unwrap(), (snap, pos));
        }
        let err = load_checkpoint(&path, 4, 8).unwrap_err().to_string();
        assert!(err.contains("4 inputs x 6 latents"), "{err}");
    }

    #[test]
    fn weights_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sae.safetensors");
        let mut p = SaeParams::init(3, 5, 1);
        for activation in [
            Activation::Relu,
            Activation::TopK { k: 2 },
            Activation::JumpRelu {
                threshold: vec![0.5, 0.0, 1.0, 0.25, 0.125],
            },
        ] {
            p.activation = activation;
            save_weights(&path, &p, HashMap::new()).unwrap();
            assert_eq!(load_weights(&path).unwrap(), p);
        }
    }
}
