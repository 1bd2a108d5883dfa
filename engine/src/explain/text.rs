//! A text in latents. Text and image embeddings of one CLIP sit in two separate cones (the
//! modality gap), and the SAE was trained on the image cone, so the text's unit embedding t is
//! moved across before it is encoded:
//!
//! ```text
//!   t' = normalise(t − μ_text + μ_image)     then z = SAE code of t'
//!   score_j = z_j ‖d_j‖
//! ```
//! μ_image is the mean of the set's unit rows; μ_text the mean embedding of prompts made from
//! the set's items (their captions, else "a photo of a {label}."), both computed once and kept
//! with the set (`text_gap.json`).

use serde::{Deserialize, Serialize};

use super::{best, Explainer, LatentScore};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::set::EmbeddingSet;
use crate::text_encoder::TextEncoder;
use crate::unit::normalise;

/// The gap's means, kept in the set's folder.
pub const GAP_FILE: &str = "text_gap.json";
/// Prompts whose mean stands for the text side.
const GAP_PROMPTS: usize = 512;
/// Prompts embedded at a time.
const BATCH: usize = 64;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TextExplanation {
    pub run: String,
    pub text: String,
    /// The text's embedding was moved across the gap between text and image embeddings.
    pub moved: bool,
    pub latents: Vec<LatentScore>,
    pub active: usize,
}

/// The means either side of the gap.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Gap {
    model: String,
    prompts: usize,
    text_mean: Vec<f32>,
    image_mean: Vec<f32>,
}

impl Explainer {
    /// Explains a text query by its `top` latents.
    pub fn text(&mut self, text: &str, top: usize) -> Result<TextExplanation> {
        if text.trim().is_empty() {
            return Err(Error::invalid("--text", "give some words to explain"));
        }
        let analysis = &self.steerer.analysis;
        if self.shift.is_none() {
            let gap = gap_for(
                &analysis.set,
                self.steerer.rows()?,
                analysis.encoder.as_ref(),
            )?;
            self.shift = Some(gap.shift());
        }
        let mut t = analysis.encoder.embed(&[text.to_string()])?;
        if let Some(shift) = &self.shift {
            t.iter_mut().zip(shift).for_each(|(v, s)| *v += s);
        }
        normalise(&mut t);
        let z = self.code(&t);
        let active = z.iter().filter(|&&v| v > 0.0).count();
        let scores = z
            .iter()
            .enumerate()
            .filter(|(_, &v)| v > 0.0)
            .map(|(j, &v)| (j, v as f64 * self.row_norms[j] as f64));
        let latents = best(scores, top)
            .into_iter()
            .map(|(j, s)| self.entry(j, s, z[j], None))
            .collect();
        Ok(TextExplanation {
            run: self.steerer.analysis.run.name.clone(),
            text: text.to_string(),
            moved: true,
            latents,
            active,
        })
    }
}

impl Gap {
    /// What moves a text embedding across: μ_image − μ_text.
    fn shift(&self) -> Vec<f32> {
        self.image_mean
            .iter()
            .zip(&self.text_mean)
            .map(|(i, t)| i - t)
            .collect()
    }
}

/// The set's gap, read from its folder when it was kept for this text tower, else computed
/// and kept.
fn gap_for(set: &EmbeddingSet, rows: &[f32], encoder: &dyn TextEncoder) -> Result<Gap> {
    let path = set.dir.join(GAP_FILE);
    let d = set.dim();
    if let Ok(kept) = fsutil::read_json::<Gap>(&path) {
        if kept.model == encoder.model() && kept.text_mean.len() == d && kept.image_mean.len() == d
        {
            return Ok(kept);
        }
    }
    let prompts = prompts(set)?;
    let mut text_mean = vec![0.0f64; d];
    for group in prompts.chunks(BATCH) {
        for row in encoder.embed(group)?.chunks(d) {
            text_mean
                .iter_mut()
                .zip(row)
                .for_each(|(m, &v)| *m += v as f64);
        }
    }
    let mut image_mean = vec![0.0f64; d];
    for row in rows.chunks(d) {
        image_mean
            .iter_mut()
            .zip(row)
            .for_each(|(m, &v)| *m += v as f64);
    }
    let mean = |sum: Vec<f64>, n: usize| -> Vec<f32> {
        sum.iter().map(|s| (s / n.max(1) as f64) as f32).collect()
    };
    let gap = Gap {
        model: encoder.model(),
        prompts: prompts.len(),
        text_mean: mean(text_mean, prompts.len()),
        image_mean: mean(image_mean, rows.len() / d.max(1)),
    };
    // Kept for next time; a read-only workspace only computes it again.
    let _ = fsutil::write_json(&path, &gap);
    Ok(gap)
}

/// Up to `GAP_PROMPTS` prompts from items spread over the set: captions, else labels in
/// CLIP's template, else the label vocabulary.
fn prompts(set: &EmbeddingSet) -> Result<Vec<String>> {
    let items = set.items()?;
    let step = (items.len() / GAP_PROMPTS).max(1);
    let from_items: Vec<String> = items
        .iter()
        .step_by(step)
        .filter_map(|i| match (&i.caption, &i.label) {
            (Some(c), _) => Some(c.clone()),
            (None, Some(l)) => Some(format!("a photo of a {l}.")),
            (None, None) => None,
        })
        .take(GAP_PROMPTS)
        .collect();
    if !from_items.is_empty() {
        return Ok(from_items);
    }
    Ok(crate::latents::label::vocabulary()
        .iter()
        .map(|w| format!("a photo of {w}."))
        .collect())
}
