//! CLIP text labels: each latent is scored against a vocabulary of visual words embedded with
//! the set's text encoder, using both its decoder direction and the mean of its top images.
//!
//! Rules for the category, measured on the set (documented in docs/user-guide.md):
//! - `dead`: never fires;
//! - `too_specific`: fires on fewer rows than a collage holds (K);
//! - `no_clear`: its best word stands fewer than [`MIN_CONFIDENCE`] standard deviations above
//!   the vocabulary's mean score (a random direction's best word reaches about 3.5 among
//!   2,000 words). How often a latent fires does not enter: a broad "red" latent is clear.
//! - `semantic`: everything else.

use serde::{Deserialize, Serialize};

use super::index::LatentIndex;
use crate::error::Result;
use crate::sae::evaluate::concept_cosines;
use crate::sae::linalg::{matmul, MatRef, Threads};
use crate::sae::SaeParams;
use crate::set::EmbeddingSet;
use crate::unit::normalise;
use crate::workspace::Workspace;
use crate::zeroshot::{self, Source, TaskSpec, TextEncoder};

const VOCABULARY: &str = include_str!("vocabulary.txt");
/// How a vocabulary entry is turned into a prompt ("{c}" as in zero-shot task templates).
const TEMPLATE: &str = "a photo of {c}.";
/// The zero-shot cache's name for the vocabulary.
const VOCABULARY_TASK: &str = "vocabulary";
/// Words kept per label.
pub const TOP_WORDS: usize = 5;
/// Below this z-score the best word is not trusted.
pub const MIN_CONFIDENCE: f32 = 6.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Semantic,
    TooSpecific,
    NoClear,
    Dead,
}

impl Category {
    pub fn name(self) -> &'static str {
        match self {
            Category::Semantic => "semantic",
            Category::TooSpecific => "too_specific",
            Category::NoClear => "no_clear",
            Category::Dead => "dead",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Label {
    pub latent: usize,
    pub category: Category,
    pub top_words: Vec<String>,
    pub scores: Vec<f32>,
    /// How far the best word's score stands above the vocabulary's mean, in standard
    /// deviations of the vocabulary's scores.
    pub confidence: f32,
    pub description: String,
}

/// The built-in vocabulary, one entry a line.
pub fn vocabulary() -> Vec<String> {
    VOCABULARY
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

/// Vocabulary embeddings with their mean removed (the part every prompt shares, such as
/// CLIP's modality gap, says nothing about a latent), then unit rows. shape: [words, d]
///
/// The vocabulary is embedded as a zero-shot task with one template, so it is cached in the
/// workspace beside the classifiers: a CLIP text tower takes tens of seconds for it on a CPU.
pub fn embed_vocabulary(
    ws: &Workspace,
    words: &[String],
    encoder: &dyn TextEncoder,
) -> Result<Vec<f32>> {
    let task = TaskSpec {
        name: VOCABULARY_TASK.into(),
        classes: words.to_vec(),
        templates: vec![TEMPLATE.into()],
        source: Source::Set,
    };
    let mut e = zeroshot::classifier(ws, &task, encoder)?.weights;
    centre_rows(&mut e, encoder.dim());
    Ok(e)
}

/// Subtracts the rows' mean from every row, then normalises each row.
fn centre_rows(rows: &mut [f32], d: usize) {
    let n = (rows.len() / d).max(1) as f32;
    let mut mean = vec![0.0f32; d];
    for r in rows.chunks(d) {
        mean.iter_mut().zip(r).for_each(|(m, v)| *m += v / n);
    }
    for r in rows.chunks_mut(d) {
        r.iter_mut().zip(&mean).for_each(|(v, m)| *v -= m);
        normalise(r);
    }
}

/// Labels every latent of the index.
pub fn label_all(
    p: &SaeParams,
    index: &LatentIndex,
    set: &EmbeddingSet,
    words: &[String],
    vocab: &[f32],
) -> Result<Vec<Label>> {
    let (d, m, w) = (p.d, p.m, words.len());
    let mut unit = p.clone();
    unit.normalise_decoder();
    let set_mean: Vec<f32> = set.stats()?.mean.iter().map(|&v| v as f32).collect();
    // Mean of each latent's top rows, less the set's mean: what its images share.
    let mut tops = vec![0.0f32; m * d];
    for (j, l) in index.latents.iter().enumerate() {
        let out = &mut tops[j * d..(j + 1) * d];
        for &(_, row) in &l.top {
            out.iter_mut()
                .zip(set.fetch_row(row as usize)?)
                .for_each(|(o, v)| *o += v / l.top.len() as f32);
        }
        if !l.top.is_empty() {
            out.iter_mut().zip(&set_mean).for_each(|(o, mu)| *o -= mu);
            normalise(out);
        }
    }
    let mut by_decoder = vec![0.0f32; m * w];
    let mut by_images = vec![0.0f32; m * w];
    matmul(
        &mut by_decoder,
        MatRef::new(&unit.w_dec, m, d),
        MatRef::new(vocab, w, d).t(),
        false,
        Threads::All,
    );
    matmul(
        &mut by_images,
        MatRef::new(&tops, m, d),
        MatRef::new(vocab, w, d).t(),
        false,
        Threads::All,
    );
    Ok((0..m)
        .map(|j| {
            let scores: Vec<f32> = (0..w)
                .map(|i| 0.5 * (by_decoder[j * w + i] + by_images[j * w + i]))
                .collect();
            label_one(j, &scores, words, index)
        })
        .collect())
}

fn label_one(j: usize, scores: &[f32], words: &[String], index: &LatentIndex) -> Label {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    order.truncate(TOP_WORDS);
    let top_words: Vec<String> = order.iter().map(|&i| words[i].clone()).collect();
    let top_scores: Vec<f32> = order.iter().map(|&i| scores[i]).collect();
    let confidence = z_score(top_scores.first().copied().unwrap_or(0.0), scores);
    let category = category(index, j, confidence >= MIN_CONFIDENCE);
    let description = if category == Category::Dead {
        DEAD.to_string()
    } else {
        format!(
            "This feature activates on images containing: {}.",
            top_words.join(", ")
        )
    };
    Label {
        latent: j,
        category,
        top_words,
        scores: top_scores,
        confidence,
        description,
    }
}

/// What a dead latent's description says.
pub const DEAD: &str = "This feature never activates.";

/// The category of latent `j` whose label is `clear` or not, by the rules above.
pub fn category(index: &LatentIndex, j: usize, clear: bool) -> Category {
    let stats = &index.latents[j];
    if stats.is_dead() {
        Category::Dead
    } else if (stats.active as usize) < index.k {
        Category::TooSpecific
    } else if clear {
        Category::Semantic
    } else {
        Category::NoClear
    }
}

/// How many standard deviations `value` lies above the mean of `all`.
fn z_score(value: f32, all: &[f32]) -> f32 {
    let n = all.len().max(1) as f32;
    let mean = all.iter().sum::<f32>() / n;
    let var = all.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n;
    if var > 0.0 {
        (value - mean) / var.sqrt()
    } else {
        0.0
    }
}

/// Whether a vocabulary entry names a concept: the concept's words appear in it as whole
/// words ("brick wall" names "brick"; "bricklayer" does not).
pub fn names(entry: &str, concept: &str) -> bool {
    format!(" {entry} ").contains(&format!(" {concept} "))
}

/// Label agreement with the ground truth on the demo world: for each group of latents, how
/// many have a best word that names the concept whose direction is closest to their decoder row.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Agreement {
    /// (agreeing, total) over every alive latent.
    pub alive: (usize, usize),
    /// Over the latents labelled `semantic`.
    pub semantic: (usize, usize),
    /// Over the latents whose decoder row lies within [`CONCEPT_COSINE`] of some concept.
    pub concept: (usize, usize),
}

/// A latent whose decoder row is this close (cosine) to a concept direction stands for it.
pub const CONCEPT_COSINE: f32 = 0.5;

pub fn agreement_with_truth(
    p: &SaeParams,
    labels: &[Label],
    gt: &crate::set::GroundTruth,
) -> Agreement {
    let (m, k) = (p.m, gt.names.len());
    let cos = concept_cosines(p, gt);
    let mut out = Agreement {
        alive: (0, 0),
        semantic: (0, 0),
        concept: (0, 0),
    };
    for l in labels.iter().filter(|l| l.category != Category::Dead) {
        let at = |c: usize| cos[c * m + l.latent];
        let best = (0..k).max_by(|&a, &b| at(a).total_cmp(&at(b))).unwrap_or(0);
        let hit = l
            .top_words
            .first()
            .is_some_and(|w| names(w, &gt.names[best])) as usize;
        let count = |g: &mut (usize, usize)| {
            g.0 += hit;
            g.1 += 1;
        };
        count(&mut out.alive);
        if l.category == Category::Semantic {
            count(&mut out.semantic);
        }
        if at(best) > CONCEPT_COSINE {
            count(&mut out.concept);
        }
    }
    out
}
