//! A class in latents, over the whole set: for the rows the classifier predicts as the class,
//! each latent's mean part of the margin over that row's runner-up (as `image.rs` splits it),
//! how often it is among the row's three largest parts, and the rows where it matters most.
//!
//! The table for every class of a task is computed once per run and task, in two passes over
//! the set's codes, and kept in the run's `latents/` folder; a question is then a lookup.

use serde::{Deserialize, Serialize};

use super::{Explainer, LatentScore};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::latents::store::{fingerprint, LATENTS_DIR};
use crate::run::WEIGHTS_FILE;
use crate::sae::linalg::Threads;
use crate::sae::step::{encode, Scratch};
use crate::steer::preview::LOGIT_SCALE;

/// Rows encoded at a time.
const BATCH: usize = 256;
/// Latents kept per class.
const KEPT: usize = 16;
/// Rows kept per kept latent.
const ROWS: usize = 4;
/// A row's largest parts counted by `top3`.
const TOP_PER_ROW: usize = 3;

/// One latent of a class's explanation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassLatent {
    #[serde(flatten)]
    pub latent: LatentScore,
    /// Share of the class's rows where it is among the three largest parts of the margin.
    pub top3: f64,
    /// (row, its part there, what the row shows), largest first.
    pub rows: Vec<(usize, f64, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassExplanation {
    pub run: String,
    pub task: String,
    pub class: String,
    /// Rows of the set predicted as the class.
    pub pictures: usize,
    /// By mean part of the margin, largest first.
    pub latents: Vec<ClassLatent>,
}

/// What is kept per class.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Kept {
    class: String,
    pictures: usize,
    latents: Vec<KeptLatent>,
}

/// A kept latent of a class: its mean part, its top-3 share, and its best rows with their parts.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct KeptLatent {
    latent: usize,
    mean: f64,
    top3: f64,
    rows: Vec<(usize, f64)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Table {
    fingerprint: String,
    task: String,
    classes: Vec<Kept>,
}

/// Each latent's part of a margin, from its decoder row projected on every class weight.
struct Parts {
    /// s ⟨d_j, w_c⟩. shape: [m, classes]
    projected: Vec<f64>,
    classes: usize,
}

impl Parts {
    /// Latent j's part of the margin of class c over r on a row where it is z.
    fn part(&self, j: usize, z: f32, (c, r): (usize, usize)) -> f64 {
        let row = &self.projected[j * self.classes..(j + 1) * self.classes];
        z as f64 * (row[c] - row[r])
    }
}

impl Explainer {
    /// Explains class `name` of the explainer's task by its `top` latents (at most 16).
    pub fn class(&mut self, name: &str, top: usize) -> Result<ClassExplanation> {
        self.class_table()?;
        let Some(table) = &self.table else {
            return Err(Error::invalid(
                "--class",
                "the class table could not be made",
            ));
        };
        let Some(kept) = table
            .classes
            .iter()
            .find(|k| k.class.eq_ignore_ascii_case(name.trim()))
        else {
            let some: Vec<&str> = table
                .classes
                .iter()
                .take(8)
                .map(|k| k.class.as_str())
                .collect();
            return Err(Error::invalid(
                "--class",
                format!(
                    "'{name}' is not a class of {}; its classes include: {}",
                    table.task,
                    some.join(", ")
                ),
            ));
        };
        let latents = kept
            .latents
            .iter()
            .take(top)
            .map(|k| ClassLatent {
                latent: self.entry(
                    k.latent,
                    k.mean,
                    self.mean_activation(k.latent),
                    Some(k.mean),
                ),
                top3: k.top3,
                rows: k
                    .rows
                    .iter()
                    .map(|&(r, part)| (r, part, self.steerer.describe(r)))
                    .collect(),
            })
            .collect();
        Ok(ClassExplanation {
            run: self.steerer.analysis.run.name.clone(),
            task: table.task.clone(),
            class: kept.class.clone(),
            pictures: kept.pictures,
            latents,
        })
    }

    /// The task's class names, in the classifier's order.
    pub fn classes(&self) -> Vec<String> {
        self.steerer
            .classifier()
            .map_or(Vec::new(), |(_, c)| c.classes.clone())
    }

    /// Makes sure the kept table for the explainer's task is loaded (computed on first use).
    fn class_table(&mut self) -> Result<()> {
        let Some((task, _)) = self.steerer.classifier() else {
            return Err(Error::invalid(
                "--task",
                "this set has no zero-shot task of its own: name one with --task",
            ));
        };
        let a = &self.steerer.analysis;
        let print = format!(
            "{}:{task}",
            fingerprint(&a.run.path(WEIGHTS_FILE), &a.set, 0)
        );
        let slug: String = task
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let path = a.run.path(LATENTS_DIR).join(format!("explain-{slug}.json"));
        let fresh = match &self.table {
            Some(t) => t.fingerprint == print,
            None => false,
        };
        if !fresh {
            let table = match fsutil::read_json::<Table>(&path) {
                Ok(t) if t.fingerprint == print => t,
                _ => {
                    let t = self.build_table(print)?;
                    fsutil::write_json(&path, &t)?;
                    t
                }
            };
            self.table = Some(table);
        }
        Ok(())
    }

    fn build_table(&self, fingerprint: String) -> Result<Table> {
        let Some((task, clf)) = self.steerer.classifier() else {
            return Err(Error::invalid("--task", "no zero-shot task to explain"));
        };
        let p = &self.steerer.analysis.params;
        let (d, m, n_classes) = (p.d, p.m, clf.classes.len());
        if n_classes == 0 {
            return Err(Error::invalid("--task", format!("{task} has no classes")));
        }
        let mut projected = vec![0.0f64; m * n_classes];
        for j in 0..m {
            let row = &p.w_dec[j * d..(j + 1) * d];
            for (c, w) in clf.weights.chunks(d).enumerate() {
                let dot: f64 = row.iter().zip(w).map(|(a, b)| *a as f64 * *b as f64).sum();
                projected[j * n_classes + c] = LOGIT_SCALE as f64 * dot;
            }
        }
        let parts = Parts {
            projected,
            classes: n_classes,
        };
        let rows = self.steerer.rows()?;
        let mut scratch = Scratch::new(d, m, BATCH);
        // First pass: sums and top-3 counts per (class, latent).
        let mut sums = vec![0.0f64; n_classes * m];
        let mut top3 = vec![0u32; n_classes * m];
        let mut count = vec![0usize; n_classes];
        // Each row's (class, runner-up), kept for the second pass.
        let mut decisions = Vec::with_capacity(rows.len() / d.max(1));
        for_each_row(p, rows, &mut scratch, |_, x, z| {
            let dec = super::top_two(clf, x).unwrap_or((0, 0));
            decisions.push(dec);
            count[dec.0] += 1;
            let mut row_parts: Vec<(usize, f64)> = (0..m)
                .filter(|&j| z[j] > 0.0)
                .map(|j| (j, parts.part(j, z[j], dec)))
                .collect();
            for &(j, part) in &row_parts {
                sums[dec.0 * m + j] += part;
            }
            row_parts.sort_by(|a, b| b.1.total_cmp(&a.1));
            for &(j, _) in row_parts.iter().take(TOP_PER_ROW) {
                top3[dec.0 * m + j] += 1;
            }
        });
        let kept: Vec<Vec<usize>> = (0..n_classes)
            .map(|c| {
                let mut js: Vec<usize> = (0..m).filter(|&j| sums[c * m + j] > 0.0).collect();
                js.sort_by(|&a, &b| sums[c * m + b].total_cmp(&sums[c * m + a]));
                js.truncate(KEPT);
                js
            })
            .collect();
        // Second pass: the rows where each kept latent's part is largest.
        let mut best: Vec<Vec<Vec<(usize, f64)>>> =
            kept.iter().map(|js| vec![Vec::new(); js.len()]).collect();
        for_each_row(p, rows, &mut scratch, |i, _, z| {
            let dec = decisions[i];
            for (slot, &j) in kept[dec.0].iter().enumerate() {
                if z[j] > 0.0 {
                    let list = &mut best[dec.0][slot];
                    list.push((i, parts.part(j, z[j], dec)));
                    list.sort_by(|a, b| b.1.total_cmp(&a.1));
                    list.truncate(ROWS);
                }
            }
        });
        let classes = (0..n_classes)
            .map(|c| Kept {
                class: clf.classes[c].clone(),
                pictures: count[c],
                latents: kept[c]
                    .iter()
                    .zip(&best[c])
                    .map(|(&j, rows)| {
                        let n = count[c].max(1) as f64;
                        KeptLatent {
                            latent: j,
                            mean: sums[c * m + j] / n,
                            top3: top3[c * m + j] as f64 / n,
                            rows: rows.clone(),
                        }
                    })
                    .collect(),
            })
            .collect();
        Ok(Table {
            fingerprint,
            task: task.to_string(),
            classes,
        })
    }
}

/// Encodes the unit rows in batches and calls `f(row, x, z)` for each.
fn for_each_row(
    p: &crate::sae::SaeParams,
    rows: &[f32],
    scratch: &mut Scratch,
    mut f: impl FnMut(usize, &[f32], &[f32]),
) {
    let (d, m) = (p.d, p.m);
    for (b, batch) in rows.chunks(BATCH * d).enumerate() {
        let n = batch.len() / d;
        encode(p, batch, n, scratch, Threads::All);
        for i in 0..n {
            f(
                b * BATCH + i,
                &batch[i * d..(i + 1) * d],
                &scratch.z[i * m..(i + 1) * m],
            );
        }
    }
}
