//! An image, a text or a class in terms of a run's SAE latents. CLIP puts pictures and text in
//! one space, so the SAE trained on its image embeddings reads all three:
//!
//! - an image x: its code z and each active latent's share of the reconstruction,
//!   z_j ⟨d_j, x⟩ (d_j the decoder row); with a zero-shot task, each latent's part of the
//!   margin between the predicted class and the runner-up (`image.rs`);
//! - a text t: its embedding moved across the gap between text and image embeddings, then
//!   encoded; latents ranked by z_j ‖d_j‖ (`text.rs`);
//! - a class: over the set, the latents that carry the decisions for it (`class.rs`).

pub mod class;
pub mod image;
pub mod text;

use serde::Serialize;

use crate::error::Result;
use crate::latents::Analysis;
use crate::sae::evaluate::concept_cosines;
use crate::sae::step::Scratch;
use crate::steer::ops::code;
use crate::steer::{Steerer, Units};
use crate::workspace::Workspace;
use crate::zeroshot::{Classifier, TaskSpec};

pub use class::ClassExplanation;
pub use image::{ImageExplanation, Margin};
pub use text::TextExplanation;

/// Latents listed per explanation unless asked otherwise.
pub const DEFAULT_TOP: usize = 10;

/// One latent in an explanation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatentScore {
    pub latent: usize,
    /// Its label's best words.
    pub label: String,
    /// What it is ranked by: its share of the reconstruction (an image), its activation times
    /// its decoder row's length (a text), or its mean part of the class margin (a class).
    pub score: f64,
    pub activation: f32,
    /// Share of the set's rows it fires on.
    pub frequency: f64,
    /// Its part of the predicted class's margin over the runner-up, in the classifier's logit
    /// units (an image explained against a task).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub margin: Option<f64>,
    /// The demo world's concept its decoder row is closest to, and that cosine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concept: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concept_cosine: Option<f32>,
}

/// A run's SAE ready to explain: its analysis (labels, index), the set's rows and zero-shot
/// classifier (through the steerer), and, once a text is explained, the text tower.
pub struct Explainer {
    pub steerer: Steerer,
    scratch: Scratch,
    /// Each latent's closest concept and cosine (demo world).
    concepts: Vec<Option<(String, f32)>>,
    /// ‖d_j‖ per latent.
    row_norms: Vec<f32>,
    /// μ_image − μ_text, once a text was explained (`text.rs`).
    shift: Option<Vec<f32>>,
    /// The task's class table, once asked for.
    table: Option<class::Table>,
}

impl Explainer {
    /// Explains with `analysis`; `task` is the zero-shot task images and classes are explained
    /// against (default: the set's own).
    pub fn new(ws: &Workspace, analysis: Analysis, task: Option<&TaskSpec>) -> Result<Self> {
        let own = match task {
            Some(_) => None,
            None => TaskSpec::for_set(&analysis.set)?,
        };
        let steerer = Steerer::new(ws, analysis, Units::Typical, task.or(own.as_ref()))?;
        Ok(Self::from_steerer(steerer))
    }

    fn from_steerer(steerer: Steerer) -> Self {
        let p = &steerer.analysis.params;
        let row_norms = p
            .w_dec
            .chunks(p.d)
            .map(|r| r.iter().map(|v| v * v).sum::<f32>().sqrt())
            .collect();
        let concepts = match &steerer.gt {
            Some(gt) => {
                let cos = concept_cosines(p, gt);
                let k = gt.names.len();
                (0..p.m)
                    .map(|j| {
                        (0..k)
                            .map(|c| (c, cos[c * p.m + j]))
                            .max_by(|a, b| a.1.total_cmp(&b.1))
                            .map(|(c, v)| (gt.names[c].clone(), v))
                    })
                    .collect()
            }
            None => vec![None; p.m],
        };
        Explainer {
            scratch: Scratch::new(p.d, p.m, 1),
            steerer,
            concepts,
            row_norms,
            shift: None,
            table: None,
        }
    }

    pub fn analysis(&self) -> &Analysis {
        &self.steerer.analysis
    }

    /// Latent j's mean activation where it fires, over the set.
    fn mean_activation(&self, j: usize) -> f32 {
        let index = &self.steerer.analysis.index;
        index.latents.get(j).map_or(0.0, |l| l.mean_active() as f32)
    }

    /// The SAE's code of a unit embedding. x: [d] → z: [m]
    fn code(&mut self, x: &[f32]) -> Vec<f32> {
        code(&self.steerer.analysis.params, x, &mut self.scratch)
    }

    /// Latent j's entry, scored `score`.
    fn entry(&self, j: usize, score: f64, activation: f32, margin: Option<f64>) -> LatentScore {
        let a = &self.steerer.analysis;
        let label = a.labels.get(j).map_or(String::new(), |l| {
            l.top_words
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        });
        let concept = self.concepts.get(j).cloned().flatten();
        LatentScore {
            latent: j,
            label,
            score,
            activation,
            frequency: a
                .index
                .latents
                .get(j)
                .map_or(0.0, |l| l.frequency(a.index.rows)),
            margin,
            concept_cosine: concept.as_ref().map(|c| c.1),
            concept: concept.map(|c| c.0),
        }
    }
}

/// The classifier's predicted class and runner-up on a unit x (the runner-up is the class
/// itself when the task has one class): one pass over the logits ⟨w_c, x⟩.
fn top_two(clf: &Classifier, x: &[f32]) -> Option<(usize, usize)> {
    let mut best: Option<(usize, f64)> = None;
    let mut second: Option<(usize, f64)> = None;
    for (c, w) in clf.weights.chunks(clf.dim).enumerate() {
        let logit: f64 = w.iter().zip(x).map(|(a, b)| *a as f64 * *b as f64).sum();
        if best.is_none_or(|(_, b)| logit > b) {
            second = best;
            best = Some((c, logit));
        } else if second.is_none_or(|(_, s)| logit > s) {
            second = Some((c, logit));
        }
    }
    let (c, _) = best?;
    Some((c, second.map_or(c, |(r, _)| r)))
}

/// The `k` best of `scores` by value, best first: (index, score).
fn best(scores: impl Iterator<Item = (usize, f64)>, k: usize) -> Vec<(usize, f64)> {
    let mut all: Vec<(usize, f64)> = scores.collect();
    all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    all.truncate(k);
    all
}

#[cfg(test)]
mod tests;
