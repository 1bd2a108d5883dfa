//! How faithfully an SAE reconstructs, and how its latents fire and point: the parts of the
//! card that need only the SAE and the rows.

use serde::{Deserialize, Serialize};

use super::each_code;
use crate::sae::evaluate::DENSE_FIRING;
use crate::sae::linalg::{matmul, MatRef, Threads};
use crate::sae::SaeParams;

/// Rows of the decoder's Gram matrix made at a time.
const GRAM_ROWS: usize = 1024;
/// The firing shares SAEBench counts latents above (the higher is the metrics' "dense").
const DENSE_1: f64 = 0.01;
const DENSE_10: f64 = DENSE_FIRING;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fidelity {
    /// Mean cosine between x and x̂.
    pub cosine: f64,
    /// Mean ‖x̂‖ / ‖x‖: below 1 is shrinkage.
    pub l2_ratio: f64,
    /// Share of latents that fire on at least one row.
    pub alive_frac: f64,
    /// Shares of latents firing on more than 1% and 10% of rows.
    pub over_1pct_frac: f64,
    pub over_10pct_frac: f64,
    /// Mean |cosine| and largest cosine between two different decoder rows.
    pub decoder_cos_mean: f64,
    pub decoder_cos_max: f64,
}

fn norm(v: &[f32]) -> f64 {
    v.iter().map(|&a| a as f64 * a as f64).sum::<f64>().sqrt()
}

/// The card's fidelity and firing parts on rows `x`.
pub fn fidelity(p: &SaeParams, x: &[f32]) -> Fidelity {
    let rows = x.len() / p.d.max(1);
    let mut fired = vec![0u64; p.m];
    let (mut cosine, mut ratio, mut counted) = (0.0, 0.0, 0usize);
    each_code(p, x, |_, xr, z, hr| {
        for (f, &v) in fired.iter_mut().zip(z) {
            *f += (v != 0.0) as u64;
        }
        let (nx, nh) = (norm(xr), norm(hr));
        if nx == 0.0 {
            return;
        }
        let dot: f64 = xr.iter().zip(hr).map(|(&a, &b)| a as f64 * b as f64).sum();
        cosine += if nh == 0.0 { 0.0 } else { dot / (nx * nh) };
        ratio += nh / nx;
        counted += 1;
    });
    let share = |above: f64| {
        fired
            .iter()
            .filter(|&&f| f as f64 > above * rows as f64)
            .count() as f64
            / p.m.max(1) as f64
    };
    let (decoder_cos_mean, decoder_cos_max) = decoder_cosines(p);
    Fidelity {
        cosine: cosine / counted.max(1) as f64,
        l2_ratio: ratio / counted.max(1) as f64,
        alive_frac: fired.iter().filter(|&&f| f > 0).count() as f64 / p.m.max(1) as f64,
        over_1pct_frac: share(DENSE_1),
        over_10pct_frac: share(DENSE_10),
        decoder_cos_mean,
        decoder_cos_max,
    }
}

/// Mean |cos| and max cos over pairs of different decoder rows: the Gram matrix of the unit
/// rows, [m, m], a block of rows at a time.
fn decoder_cosines(p: &SaeParams) -> (f64, f64) {
    let (m, d) = (p.m, p.d);
    if m < 2 {
        return (0.0, 0.0);
    }
    let mut unit = p.w_dec.clone();
    for row in unit.chunks_mut(d) {
        let n = norm(row) as f32;
        if n > 0.0 {
            row.iter_mut().for_each(|v| *v /= n);
        }
    }
    let (mut sum, mut max) = (0.0f64, f64::NEG_INFINITY);
    let mut gram = vec![0.0f32; GRAM_ROWS * m];
    for (b, block) in unit.chunks(GRAM_ROWS * d).enumerate() {
        let n = block.len() / d;
        matmul(
            &mut gram[..n * m],
            MatRef::new(block, n, d),
            MatRef::new(&unit, m, d).t(),
            false,
            Threads::All,
        );
        for (r, row) in gram[..n * m].chunks(m).enumerate() {
            let i = b * GRAM_ROWS + r;
            for (j, &c) in row.iter().enumerate() {
                if j != i {
                    sum += (c as f64).abs();
                    max = max.max(c as f64);
                }
            }
        }
    }
    (sum / (m * (m - 1)) as f64, max)
}
