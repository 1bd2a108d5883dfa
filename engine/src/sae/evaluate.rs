//! The metrics of a trained SAE over a whole set, exactly as the field notes define them, with
//! every sum in f64:
//!
//! - avg L0: mean over rows of the number of latents > 0
//! - MSE: mean over all elements of (x − x̂)²
//! - L1: Σ|z| in the run's convention (mean over rows and latents, or mean over rows of the sum)
//! - R² = 1 − Σ‖x − x̂‖² / Σ‖x − x̄‖², x̄ the per-dimension mean; FVU = 1 − R²
//! - dead: never active on the set; dense: active on more than 10% of rows
//! - gt_recovery: mean over ground-truth directions of the best cosine with a decoder row;
//!   gt_recovered_frac: the share of them above 0.9
//! - gt_mcc and gt_f1: one-to-one matched directions and their detection F1 (`gt_match.rs`)

use serde::{Deserialize, Serialize};

use super::config::L1Convention;
use super::gt_match::{match_directions, Detection};
use super::linalg::{matmul, MatRef, Threads};
use super::params::SaeParams;
use super::step::{forward, BatchSums, Scratch};
use crate::error::Result;
use crate::set::{DataStats, GroundTruth, RowSource};

/// A latent firing on more than this share of rows counts as dense.
pub const DENSE_FIRING: f64 = 0.1;
/// A ground-truth direction counts as recovered when a decoder row is this close (cosine).
pub const RECOVERED_COSINE: f32 = 0.9;
/// Rows evaluated at a time.
const CHUNK_ROWS: usize = 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalMetrics {
    pub rows: usize,
    pub avg_l0: f64,
    pub mse: f64,
    pub l1: f64,
    pub r2: f64,
    pub fvu: f64,
    pub dead_frac: f64,
    pub dense_frac: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gt_recovery: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gt_recovered_frac: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gt_mcc: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gt_f1: Option<f64>,
}

/// A set's ground truth: its directions, and which of them each row holds where known.
#[derive(Clone, Copy)]
pub struct Truth<'a> {
    pub gt: &'a GroundTruth,
    /// present[r]: indices of the directions in row r.
    pub present: Option<&'a [Vec<u32>]>,
}

/// How often each latent fired over the evaluated rows.
pub struct Firing {
    pub counts: Vec<u64>,
    pub rows: usize,
}

/// Evaluates the SAE on `rows` (of width `p.d`), read a piece at a time.
pub fn evaluate(
    p: &SaeParams,
    rows: &dyn RowSource,
    stats: &DataStats,
    l1: L1Convention,
    truth: Option<Truth>,
    threads: Threads,
) -> Result<(EvalMetrics, Firing)> {
    let (d, m) = (p.d, p.m);
    let mut scratch = Scratch::new(d, m, CHUNK_ROWS);
    let mut total = BatchSums::default();
    let mut counts = vec![0u64; m];
    // One [directions, m] cosine matrix serves gt_recovery and the matching.
    let cosines = truth.map(|t| concept_cosines(p, t.gt));
    let k = truth.map_or(0, |t| t.gt.names.len());
    let matching = cosines.as_deref().map(|cos| match_directions(cos, k, m));
    let mut detection = truth.and_then(|t| t.present).map(|_| Detection::new(k));
    let mut first_row = 0;
    rows.each_piece(CHUNK_ROWS, &mut |chunk| {
        let rows = chunk.len() / d;
        let sums = forward(p, chunk, rows, &mut scratch, threads);
        for (r, row) in scratch.z[..rows * m].chunks(m).enumerate() {
            counts
                .iter_mut()
                .zip(row)
                .for_each(|(c, &z)| *c += (z > 0.0) as u64);
            let present = truth
                .and_then(|t| t.present)
                .and_then(|p| p.get(first_row + r));
            if let (Some(det), Some(matching), Some(present)) =
                (detection.as_mut(), matching.as_ref(), present)
            {
                det.add(matching, row, present);
            }
        }
        first_row += rows;
        total.rows += sums.rows;
        total.sse += sums.sse;
        total.l1 += sums.l1;
        total.active += sums.active;
        Ok(())
    })?;
    let n = total.rows.max(1) as f64;
    let r2 = if stats.sst > 0.0 {
        1.0 - total.sse / stats.sst
    } else {
        f64::NAN
    };
    let dead = counts.iter().filter(|&&c| c == 0).count();
    let dense = counts
        .iter()
        .filter(|&&c| c as f64 > DENSE_FIRING * n)
        .count();
    let (gt_recovery, gt_recovered_frac) = match &cosines {
        Some(cos) => {
            let (mean, frac) = gt_recovery(cos, k, m);
            (Some(mean), Some(frac))
        }
        None => (None, None),
    };
    let metrics = EvalMetrics {
        rows: total.rows,
        avg_l0: total.active as f64 / n,
        mse: total.sse / (n * d as f64),
        l1: total.l1 / l1.divisor(total.rows.max(1), m),
        r2,
        fvu: 1.0 - r2,
        dead_frac: dead as f64 / m as f64,
        dense_frac: dense as f64 / m as f64,
        gt_recovery,
        gt_recovered_frac,
        gt_mcc: matching.map(|m| m.mcc()),
        gt_f1: detection.map(|d| d.mean_f1()),
    };
    Ok((
        metrics,
        Firing {
            counts,
            rows: total.rows,
        },
    ))
}

/// For each ground-truth direction, the best cosine with any decoder row; returns their mean
/// and the share above [`RECOVERED_COSINE`]. cos: [k, m] (`concept_cosines`)
pub fn gt_recovery(cos: &[f32], k: usize, m: usize) -> (f64, f64) {
    let best: Vec<f32> = cos
        .chunks(m)
        .map(|row| row.iter().copied().fold(f32::NEG_INFINITY, f32::max))
        .collect();
    let mean = best.iter().map(|&b| b as f64).sum::<f64>() / k.max(1) as f64;
    let frac = best.iter().filter(|&&b| b > RECOVERED_COSINE).count() as f64 / k.max(1) as f64;
    (mean, frac)
}

/// Cosine of every ground-truth direction with every decoder row. shape: [concepts, m]
pub fn concept_cosines(p: &SaeParams, gt: &GroundTruth) -> Vec<f32> {
    let (d, m, k) = (p.d, p.m, gt.names.len());
    let mut unit = p.clone();
    unit.normalise_decoder();
    let mut cos = vec![0.0f32; k * m];
    matmul(
        &mut cos,
        MatRef::new(&gt.directions, k, d),
        MatRef::new(&unit.w_dec, m, d).t(),
        false,
        Threads::All,
    );
    cos
}
