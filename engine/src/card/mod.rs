//! The evaluation card of a run, beside the study's metrics, as SAEBench's core metrics read:
//! reconstruction fidelity and shrinkage, how latents fire and how alike their directions are
//! (`fidelity.rs`), zero-shot accuracy and loss recovered against mean ablation
//! (`recovered.rs`), and sparse probing on labelled sets (`probing.rs`). Kept in the run's
//! `card.json`, which `metrics --json` and the report read.

pub mod fidelity;
pub mod probing;
pub mod recovered;

use serde::{Deserialize, Serialize};

pub use fidelity::{fidelity, Fidelity};
pub use probing::{probing, Probing};
pub use recovered::{recovered, Recovered};

use crate::error::Result;
use crate::fsutil;
use crate::run::{self, RunDir, WEIGHTS_FILE};
use crate::sae::checkpoint::load_weights;
use crate::sae::linalg::Threads;
use crate::sae::step::{forward, Scratch};
use crate::sae::SaeParams;
use crate::set::EmbeddingSet;
use crate::workspace::Workspace;

pub const CARD_FILE: &str = "card.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Card {
    pub run: String,
    /// The set the fidelity and probing parts were measured on.
    pub set: String,
    #[serde(flatten)]
    pub fidelity: Fidelity,
    /// Where the set has a zero-shot task.
    pub zeroshot: Option<Recovered>,
    /// Where the set's items carry labels.
    pub probing: Option<Probing>,
}

/// Measures a finished run's card on its set and keeps it in the run's `card.json`.
pub fn evaluate_card(ws: &Workspace, name: &str) -> Result<Card> {
    let (run, summary) = run::finished(ws, name)?;
    let set = EmbeddingSet::open(ws, &summary.data)?;
    let p = load_weights(&run.path(WEIGHTS_FILE))?;
    let card = Card {
        run: name.to_string(),
        set: summary.data.clone(),
        fidelity: fidelity(&p, set.data()?),
        zeroshot: recovered(ws, &p, &set)?,
        probing: probing(&p, &set)?,
    };
    fsutil::write_json(&run.path(CARD_FILE), &card)?;
    Ok(card)
}

/// Rows encoded at a time.
const CHUNK_ROWS: usize = 1024;

/// Every row of `x` through the SAE, a chunk at a time, to `each(row, x, z, x̂)`.
fn each_code(p: &SaeParams, x: &[f32], mut each: impl FnMut(usize, &[f32], &[f32], &[f32])) {
    let mut s = Scratch::new(p.d, p.m, CHUNK_ROWS);
    for (c, chunk) in x.chunks(CHUNK_ROWS * p.d).enumerate() {
        let n = chunk.len() / p.d;
        forward(p, chunk, n, &mut s, Threads::All);
        let codes = s.z[..n * p.m].chunks(p.m);
        let recons = s.recon[..n * p.d].chunks(p.d);
        for (r, ((xr, z), xh)) in chunk.chunks(p.d).zip(codes).zip(recons).enumerate() {
            each(c * CHUNK_ROWS + r, xr, z, xh);
        }
    }
}

/// The card a run keeps, if `saelab eval` measured one.
pub fn saved_card(run: &RunDir) -> Option<Card> {
    fsutil::read_json(&run.path(CARD_FILE)).ok()
}

#[cfg(test)]
mod tests;
