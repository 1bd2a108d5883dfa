//! The latent index on disk (`runs/NAME/latents/index.safetensors`), rebuilt only when the
//! run's weights or the set it indexes change.

use std::collections::HashMap;
use std::path::Path;

use super::index::{LatentIndex, LatentStats, HIST_BINS};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::run::{RunDir, WEIGHTS_FILE};
use crate::sae::checkpoint::load_weights;
use crate::set::EmbeddingSet;
use crate::tensorfile::{self, Named, TensorFile};

pub const LATENTS_DIR: &str = "latents";
pub const INDEX_FILE: &str = "index.safetensors";
/// Cached collages, drawn from the index: cleared whenever the index is rebuilt.
pub const COLLAGES_DIR: &str = "collages";
/// Pads top lists shorter than K.
const NO_ROW: u32 = u32::MAX;

/// Identifies the weights and set an index was built from.
pub(crate) fn fingerprint(weights: &Path, set: &EmbeddingSet, k: usize) -> String {
    let modified = std::fs::metadata(weights)
        .ok()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let size = std::fs::metadata(weights).map(|m| m.len()).unwrap_or(0);
    format!(
        "{modified}:{size}:{}:{}:{}:{k}",
        set.name(),
        set.meta.created,
        set.rows()
    )
}

fn save(path: &Path, index: &LatentIndex, fingerprint: &str) -> Result<()> {
    let (m, k) = (index.latents.len(), index.k);
    let mut values = vec![0.0f32; m * k];
    let mut rows = vec![NO_ROW; m * k];
    for (j, l) in index.latents.iter().enumerate() {
        for (t, &(v, r)) in l.top.iter().enumerate() {
            values[j * k + t] = v;
            rows[j * k + t] = r;
        }
    }
    let active: Vec<u32> = index.latents.iter().map(|l| l.active as u32).collect();
    let mean: Vec<f32> = index
        .latents
        .iter()
        .map(|l| l.mean_active() as f32)
        .collect();
    let max: Vec<f32> = index.latents.iter().map(|l| l.max).collect();
    let hist: Vec<u32> = index.latents.iter().flat_map(|l| l.histogram).collect();
    let meta = HashMap::from([
        ("fingerprint".to_string(), fingerprint.to_string()),
        ("rows".to_string(), index.rows.to_string()),
        ("k".to_string(), k.to_string()),
    ]);
    tensorfile::write(
        path,
        &[
            Named::new("top_values", vec![m, k], &values),
            Named::u32("top_rows", vec![m, k], &rows),
            Named::u32("active", vec![m], &active),
            Named::new("mean_active", vec![m], &mean),
            Named::new("max", vec![m], &max),
            Named::u32("histogram", vec![m, HIST_BINS], &hist),
        ],
        meta,
    )
}

fn load(path: &Path, m: usize) -> Result<(LatentIndex, String)> {
    let f = TensorFile::read(path)?;
    let (k, rows): (usize, usize) = (f.meta("k")?, f.meta("rows")?);
    let values = f.f32("top_values", &[m, k])?;
    let top_rows = f.u32("top_rows", &[m, k])?;
    let active = f.u32("active", &[m])?;
    let mean = f.f32("mean_active", &[m])?;
    let max = f.f32("max", &[m])?;
    let hist = f.u32("histogram", &[m, HIST_BINS])?;
    let latents = (0..m)
        .map(|j| LatentStats {
            active: active[j] as u64,
            sum: mean[j] as f64 * active[j] as f64,
            max: max[j],
            histogram: hist[j * HIST_BINS..(j + 1) * HIST_BINS]
                .try_into()
                .expect("HIST_BINS wide"),
            top: (0..k)
                .filter(|&t| top_rows[j * k + t] != NO_ROW)
                .map(|t| (values[j * k + t], top_rows[j * k + t]))
                .collect(),
        })
        .collect();
    let fp = f.metadata().remove("fingerprint").unwrap_or_default();
    let index = LatentIndex { k, rows, latents };
    check(&index).map_err(|why| Error::bad_file(path, why))?;
    Ok((index, fp))
}

/// Refuses an index no build could have made: a row past the set, more firings than rows,
/// a value that is not finite.
fn check(index: &LatentIndex) -> std::result::Result<(), String> {
    for (j, l) in index.latents.iter().enumerate() {
        if l.active > index.rows as u64 {
            return Err(format!(
                "latent {j} fires on {} of {} rows",
                l.active, index.rows
            ));
        }
        if !(l.max.is_finite() && l.sum.is_finite()) {
            return Err(format!("latent {j} has a value that is not finite"));
        }
        if let Some(&(v, r)) = l
            .top
            .iter()
            .find(|(v, r)| !v.is_finite() || *r as usize >= index.rows)
        {
            return Err(format!(
                "latent {j} lists row {r} ({v}) of a set of {} rows",
                index.rows
            ));
        }
        if l.histogram.iter().map(|&h| h as u64).sum::<u64>() > l.active {
            return Err(format!(
                "latent {j}'s histogram counts more than its firings"
            ));
        }
    }
    Ok(())
}

/// The run's latent index over `set` with the top `k` rows per latent: read from disk when it
/// is current, else built and saved. Returns it and whether it was (re)built.
pub fn index_for_run(run: &RunDir, set: &EmbeddingSet, k: usize) -> Result<(LatentIndex, bool)> {
    let weights = run.path(WEIGHTS_FILE);
    let params = load_weights(&weights)?;
    let fp = fingerprint(&weights, set, k);
    let dir = run.path(LATENTS_DIR);
    let path = dir.join(INDEX_FILE);
    if let Ok((index, saved_fp)) = load(&path, params.m) {
        if saved_fp == fp {
            return Ok((index, false));
        }
    }
    let index = LatentIndex::build(&params, set, k)?;
    let _ = std::fs::remove_dir_all(dir.join(COLLAGES_DIR));
    fsutil::create_dir(&dir)?;
    save(&path, &index, &fp)?;
    Ok((index, true))
}
