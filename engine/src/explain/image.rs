//! A picture in latents. With x the unit embedding, z its code and x̂ = Σ_j z_j d_j + b_dec:
//!
//! ```text
//!   share_j = z_j ⟨d_j, x⟩                  latent j's share of the reconstruction along x
//!   margin  = s ⟨x, w_c − w_r⟩              the classifier's logit margin of the predicted
//!           = Σ_j s z_j ⟨d_j, Δw⟩            class c over the runner-up r, s its logit scale,
//!             + s ⟨b_dec, Δw⟩ + s ⟨x − x̂, Δw⟩  split exactly into latents, bias and error
//! ```

use serde::Serialize;

use super::{best, Explainer, LatentScore};
use crate::error::Result;
use crate::steer::preview::LOGIT_SCALE;
use crate::steer::ImageRef;

/// The zero-shot decision on a picture, split into its parts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Margin {
    pub task: String,
    pub class: String,
    pub runner_up: String,
    /// The classifier's own margin, s ⟨x, Δw⟩.
    pub margin: f64,
    /// Σ of every active latent's part.
    pub latents: f64,
    /// The decoder bias's part, s ⟨b_dec, Δw⟩.
    pub bias: f64,
    /// The reconstruction error's part, s ⟨x − x̂, Δw⟩.
    pub error: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageExplanation {
    pub run: String,
    pub image: ImageRef,
    pub description: String,
    /// Active latents by share, best first.
    pub latents: Vec<LatentScore>,
    pub active: usize,
    /// cos(x̂, x).
    pub reconstruction_cosine: f64,
    /// Σ of the listed latents' shares: how much of x (unit length) they explain.
    pub explained: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prediction: Option<Margin>,
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
}

/// ⟨a, b⟩ of an f32 and an f64 vector, in f64.
fn dot_wide(a: &[f32], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * y).sum()
}

impl Explainer {
    /// Explains `image` (a row or a picture file) by its `top` latents.
    pub fn image(&mut self, image: &ImageRef, top: usize) -> Result<ImageExplanation> {
        let x = self.steerer.embedding(image)?;
        let z = self.code(&x);
        let p = &self.steerer.analysis.params;
        let d = p.d;
        let mut recon: Vec<f64> = p.b_dec.iter().map(|&b| b as f64).collect();
        let active: Vec<usize> = (0..p.m).filter(|&j| z[j] > 0.0).collect();
        for &j in &active {
            let row = &p.w_dec[j * d..(j + 1) * d];
            recon
                .iter_mut()
                .zip(row)
                .for_each(|(r, &w)| *r += z[j] as f64 * w as f64);
        }
        let shares: Vec<(usize, f64)> = active
            .iter()
            .map(|&j| (j, z[j] as f64 * dot(&p.w_dec[j * d..(j + 1) * d], &x)))
            .collect();
        let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        let dot64 = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        let reconstruction_cosine = dot64(&recon, &x64)
            / (dot64(&recon, &recon) * dot64(&x64, &x64))
                .sqrt()
                .max(f64::MIN_POSITIVE);
        let decision = self.decision(&x);
        let prediction = decision
            .as_ref()
            .map(|dec| self.margin(dec, &x64, &z, &recon));
        let ranked = best(shares.into_iter(), top);
        let explained =
            ranked.iter().map(|r| r.1).sum::<f64>() / dot64(&x64, &x64).max(f64::MIN_POSITIVE);
        let latents = ranked
            .iter()
            .map(|&(j, share)| {
                let part = decision
                    .as_ref()
                    .map(|dec| z[j] as f64 * dot_wide(&p.w_dec[j * d..(j + 1) * d], &dec.delta));
                self.entry(j, share, z[j], part)
            })
            .collect();
        Ok(ImageExplanation {
            run: self.steerer.analysis.run.name.clone(),
            description: self.steerer.describe_image(image),
            image: image.clone(),
            latents,
            active: active.len(),
            reconstruction_cosine,
            explained,
            prediction,
        })
    }

    /// The predicted class and the runner-up on x, and their weights' difference Δw scaled by
    /// the logit scale.
    fn decision(&self, x: &[f32]) -> Option<Decision> {
        let (task, clf) = self.steerer.classifier()?;
        let d = clf.dim;
        let (c, r) = super::top_two(clf, x).filter(|(c, r)| c != r)?;
        let delta = clf.weights[c * d..(c + 1) * d]
            .iter()
            .zip(&clf.weights[r * d..(r + 1) * d])
            .map(|(&a, &b)| LOGIT_SCALE as f64 * (a as f64 - b as f64))
            .collect();
        Some(Decision {
            task: task.to_string(),
            class: clf.classes[c].clone(),
            runner_up: clf.classes[r].clone(),
            delta,
        })
    }

    /// The decision on x split into latents, bias and error, each computed on its own.
    fn margin(&self, dec: &Decision, x: &[f64], z: &[f32], recon: &[f64]) -> Margin {
        let p = &self.steerer.analysis.params;
        let d = p.d;
        let dot64 = |a: &[f64]| a.iter().zip(&dec.delta).map(|(x, y)| x * y).sum::<f64>();
        let latents = (0..p.m)
            .filter(|&j| z[j] > 0.0)
            .map(|j| z[j] as f64 * dot_wide(&p.w_dec[j * d..(j + 1) * d], &dec.delta))
            .sum();
        let bias: Vec<f64> = p.b_dec.iter().map(|&b| b as f64).collect();
        let error: Vec<f64> = x.iter().zip(recon).map(|(a, b)| a - b).collect();
        Margin {
            task: dec.task.clone(),
            class: dec.class.clone(),
            runner_up: dec.runner_up.clone(),
            margin: dot64(x),
            latents,
            bias: dot64(&bias),
            error: dot64(&error),
        }
    }
}

/// The predicted class, the runner-up, and s (w_class − w_runner_up).
pub(super) struct Decision {
    pub task: String,
    pub class: String,
    pub runner_up: String,
    pub delta: Vec<f64>,
}
