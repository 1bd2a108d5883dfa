//! Steering operations on one embedding with a run's SAE.
//!
//! - *Feature edit, error kept* (the careful method): z = enc(x), change z_j, and return
//!   dec(z') + (x − dec(z)) = x + (z'_j − z_j)·W_dec[j]: only that feature moves, and nothing
//!   passes through the decoder bias.
//! - *Direction add*: x' = x + α·d_j, d_j latent j's unit decoder row.
//!
//! Strengths are in units of the latent's typical activation (its 90th percentile when it
//! fires) or its maximum, from the latent index. Results are L2-normalised, as CLIP
//! embeddings are; renormalising after the edit, not before, keeps α's effect.

use serde::{Deserialize, Serialize};

use crate::latents::{LatentStats, HIST_BINS};
use crate::sae::linalg::Threads;
use crate::sae::step::{encode, Scratch};
use crate::sae::SaeParams;
use crate::unit::normalise;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Edit the code, keep the reconstruction error.
    Edit,
    /// Add the latent's unit decoder direction.
    Add,
}

impl Method {
    /// The name commands, JSON and the lab show.
    pub fn name(self) -> &'static str {
        match self {
            Method::Edit => "edit",
            Method::Add => "add",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Units {
    /// The latent's 90th-percentile activation where it fires.
    Typical,
    /// Its largest activation on the set.
    Max,
}

/// One change to one latent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Change {
    /// Add `strength` units to the latent (negative removes).
    Add(f32),
    /// Set the latent to `strength` units.
    Set(f32),
    /// Clamp the latent to zero (ablation).
    Ablate,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Edit {
    pub latent: usize,
    pub change: Change,
}

/// Where the index's log₂ histogram bins start: bin b begins at 2^(b − HIST_OFFSET).
const HIST_LOWEST_EXP: i32 = -crate::latents::index::HIST_OFFSET;
const PERCENTILE: f64 = 0.9;

/// A latent's activation unit for strengths.
pub fn unit_of(stats: &LatentStats, units: Units) -> f32 {
    match units {
        Units::Max => stats.max,
        Units::Typical => percentile(stats, PERCENTILE).min(stats.max),
    }
}

/// The q-th quantile of a latent's activations, from its log₂ histogram (geometric
/// interpolation inside a bin).
fn percentile(stats: &LatentStats, q: f64) -> f32 {
    let total: u64 = stats.histogram.iter().map(|&c| c as u64).sum();
    if total == 0 {
        return 0.0;
    }
    let target = q * total as f64;
    let mut seen = 0.0;
    for (b, &c) in stats.histogram.iter().enumerate().take(HIST_BINS) {
        if seen + c as f64 >= target && c > 0 {
            let within = (target - seen) / c as f64;
            let exp = HIST_LOWEST_EXP + b as i32;
            return 2f64.powf(exp as f64 + within) as f32;
        }
        seen += c as f64;
    }
    stats.max
}

/// The SAE code of one embedding. x: [d] → z: [m]
pub fn code(p: &SaeParams, x: &[f32], scratch: &mut Scratch) -> Vec<f32> {
    encode(p, x, 1, scratch, Threads::One);
    scratch.z[..p.m].to_vec()
}

/// Steers x ([d]) by the edits; returns the unit result and the edited code (for Edit).
pub fn steer(
    p: &SaeParams,
    x: &[f32],
    edits: &[Edit],
    units: &[f32],
    method: Method,
    scratch: &mut Scratch,
) -> (Vec<f32>, Vec<f32>) {
    let d = p.d;
    let mut out = x.to_vec();
    let mut z = Vec::new();
    match method {
        Method::Edit => {
            z = code(p, x, scratch);
            for e in edits {
                let unit = units[e.latent];
                let new = match e.change {
                    Change::Add(s) => (z[e.latent] + s * unit).max(0.0),
                    Change::Set(s) => (s * unit).max(0.0),
                    Change::Ablate => 0.0,
                };
                let delta = new - z[e.latent];
                let row = &p.w_dec[e.latent * d..(e.latent + 1) * d];
                out.iter_mut().zip(row).for_each(|(o, w)| *o += delta * w);
                z[e.latent] = new;
            }
        }
        Method::Add => {
            for e in edits {
                let mut dir = p.w_dec[e.latent * d..(e.latent + 1) * d].to_vec();
                normalise(&mut dir);
                let alpha = match e.change {
                    Change::Add(s) | Change::Set(s) => s * units[e.latent],
                    Change::Ablate => 0.0,
                };
                out.iter_mut().zip(&dir).for_each(|(o, w)| *o += alpha * w);
            }
        }
    }
    normalise(&mut out);
    (out, z)
}
