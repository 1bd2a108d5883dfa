//! Sparse probing on a labelled set: can a class be read off one latent, or five? On a
//! held-out fifth of the rows, per class (one against the rest), the balanced accuracy of
//!
//! - the best single latent, thresholded where it best separates the training rows, and
//! - a logistic probe on the five latents whose mean activation differs most between the
//!   class and the rest on the training rows,
//!
//! averaged over the classes.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::each_code;
use crate::error::Result;
use crate::sae::SaeParams;
use crate::set::EmbeddingSet;

/// Every fifth row is held out.
const TEST_EVERY: usize = 5;
/// The most frequent labels probed, at most.
const MAX_CLASSES: usize = 20;
/// A class needs this many training rows, and two held out.
const MIN_TRAIN: usize = 10;
const MIN_TEST: usize = 2;
/// Latents in the logistic probe.
pub const PROBE_LATENTS: usize = 5;
/// Newton steps on the probe's class-balanced logistic loss, and its ridge.
const PROBE_STEPS: usize = 25;
const PROBE_RIDGE: f64 = 1e-3;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probing {
    /// Classes probed.
    pub classes: usize,
    /// Mean balanced accuracy of the best single latent.
    pub single_latent: f64,
    /// Mean balanced accuracy of the logistic probe on the five best latents.
    pub top5_logistic: f64,
}

/// (true positive rate + true negative rate) / 2 of `predicted` against `truth`.
pub fn balanced_accuracy(predicted: &[bool], truth: &[bool]) -> f64 {
    let (mut tp, mut pos, mut tn, mut neg) = (0usize, 0usize, 0usize, 0usize);
    for (&p, &t) in predicted.iter().zip(truth) {
        if t {
            pos += 1;
            tp += p as usize;
        } else {
            neg += 1;
            tn += !p as usize;
        }
    }
    (tp as f64 / pos.max(1) as f64 + tn as f64 / neg.max(1) as f64) / 2.0
}

/// The threshold t (predict `v > t`) with the best balanced accuracy on (values, truth).
pub fn best_threshold(values: &[f32], truth: &[bool]) -> f32 {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    let pos = truth.iter().filter(|&&t| t).count().max(1) as f64;
    let neg = (truth.len() as f64 - pos).max(1.0);
    // Start above every value (nothing predicted), then let the rows in one at a time.
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut best = (
        0.5,
        values.iter().cloned().fold(f32::NEG_INFINITY, f32::max),
    );
    for (n, &i) in order.iter().enumerate() {
        if truth[i] {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        let next = order.get(n + 1).map(|&j| values[j]);
        if next == Some(values[i]) {
            continue;
        }
        let score = (tp / pos + (neg - fp) / neg) / 2.0;
        if score > best.0 {
            best = (score, next.unwrap_or(f32::NEG_INFINITY));
        }
    }
    best.1
}

/// A class-balanced logistic regression on standardised features (rows × f, row-major), fit
/// by Newton's method with a little ridge (separable classes would otherwise grow the weights
/// without end): returns its predictions on `test`.
pub fn logistic(train: &[f64], truth: &[bool], test: &[f64], f: usize) -> Vec<bool> {
    let rows = truth.len().max(1) as f64;
    let mut mean = vec![0.0; f];
    let mut sd = vec![0.0; f];
    for r in train.chunks(f) {
        mean.iter_mut().zip(r).for_each(|(m, v)| *m += v / rows);
    }
    for r in train.chunks(f) {
        for ((s, v), m) in sd.iter_mut().zip(r).zip(&mean) {
            *s += (v - m) * (v - m) / rows;
        }
    }
    let sd: Vec<f64> = sd.iter().map(|s| s.sqrt().max(1e-12)).collect();
    // Standardised features with a trailing 1 for the bias.
    let features = |r: &[f64]| -> Vec<f64> {
        let mut v: Vec<f64> = r
            .iter()
            .zip(&mean)
            .zip(&sd)
            .map(|((v, m), s)| (v - m) / s)
            .collect();
        v.push(1.0);
        v
    };
    let x: Vec<Vec<f64>> = train.chunks(f).map(features).collect();
    let pos = truth.iter().filter(|&&t| t).count().max(1) as f64;
    let neg = (rows - pos).max(1.0);
    let n = f + 1;
    let mut beta = vec![0.0; n];
    for _ in 0..PROBE_STEPS {
        let mut grad: Vec<f64> = beta.iter().map(|b| PROBE_RIDGE * b).collect();
        let mut hess = vec![0.0; n * n];
        (0..n).for_each(|i| hess[i * n + i] = PROBE_RIDGE);
        for (xi, &t) in x.iter().zip(truth) {
            let z: f64 = xi.iter().zip(&beta).map(|(a, b)| a * b).sum();
            let p = 1.0 / (1.0 + (-z).exp());
            let w = if t { 0.5 / pos } else { 0.5 / neg };
            for i in 0..n {
                grad[i] += w * (p - t as u8 as f64) * xi[i];
                for j in 0..n {
                    hess[i * n + j] += w * p * (1.0 - p) * xi[i] * xi[j];
                }
            }
        }
        let step = solve(hess, grad, n);
        beta.iter_mut().zip(&step).for_each(|(b, s)| *b -= s);
    }
    test.chunks(f)
        .map(|r| {
            features(r)
                .iter()
                .zip(&beta)
                .map(|(a, b)| a * b)
                .sum::<f64>()
                > 0.0
        })
        .collect()
}

/// Solves A s = b (A symmetric positive definite, n × n) by Gaussian elimination.
fn solve(mut a: Vec<f64>, mut b: Vec<f64>, n: usize) -> Vec<f64> {
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))
            .unwrap_or(col);
        if pivot != col {
            for k in 0..n {
                a.swap(col * n + k, pivot * n + k);
            }
            b.swap(col, pivot);
        }
        let d = a[col * n + col];
        if d.abs() < 1e-300 {
            continue;
        }
        for row in col + 1..n {
            let factor = a[row * n + col] / d;
            for k in col..n {
                a[row * n + k] -= factor * a[col * n + k];
            }
            b[row] -= factor * b[col];
        }
    }
    let mut s = vec![0.0; n];
    for row in (0..n).rev() {
        let rest: f64 = (row + 1..n).map(|k| a[row * n + k] * s[k]).sum();
        let d = a[row * n + row];
        s[row] = if d.abs() < 1e-300 {
            0.0
        } else {
            (b[row] - rest) / d
        };
    }
    s
}

/// The probed classes: the most frequent labels with enough rows on both sides of the split.
fn classes(labels: &[Option<String>]) -> Vec<String> {
    let mut counts: HashMap<&str, (usize, usize)> = HashMap::new();
    for (i, l) in labels.iter().enumerate() {
        if let Some(l) = l {
            let c = counts.entry(l).or_default();
            if i % TEST_EVERY == 0 {
                c.1 += 1;
            } else {
                c.0 += 1;
            }
        }
    }
    let mut kept: Vec<(&str, usize)> = counts
        .into_iter()
        .filter(|(_, (train, test))| *train >= MIN_TRAIN && *test >= MIN_TEST)
        .map(|(l, (train, _))| (l, train))
        .collect();
    kept.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    kept.truncate(MAX_CLASSES);
    kept.into_iter().map(|(l, _)| l.to_string()).collect()
}

/// Sparse probing on the set's labels, when it has at least two classes to probe.
pub fn probing(p: &SaeParams, set: &EmbeddingSet) -> Result<Option<Probing>> {
    let labels: Vec<Option<String>> = set.items()?.into_iter().map(|i| i.label).collect();
    let probed = classes(&labels);
    if probed.len() < 2 || labels.len() != set.rows() {
        return Ok(None);
    }
    let class_of: Vec<Option<usize>> = labels
        .iter()
        .map(|l| l.as_ref().and_then(|l| probed.iter().position(|c| c == l)))
        .collect();
    // Pass 1: each class's and all training rows' summed activations.
    let m = p.m;
    let mut sums = vec![0.0f64; probed.len() * m];
    let mut total = vec![0.0f64; m];
    let mut counts = vec![0usize; probed.len()];
    let mut train_rows = 0usize;
    each_code(p, set.data()?, |row, _, z, _| {
        if row % TEST_EVERY == 0 {
            return;
        }
        train_rows += 1;
        total.iter_mut().zip(z).for_each(|(t, &v)| *t += v as f64);
        if let Some(c) = class_of[row] {
            counts[c] += 1;
            let s = &mut sums[c * m..(c + 1) * m];
            s.iter_mut().zip(z).for_each(|(t, &v)| *t += v as f64);
        }
    });
    let best: Vec<Vec<usize>> = (0..probed.len())
        .map(|c| {
            let (n, rest) = (counts[c] as f64, (train_rows - counts[c]).max(1) as f64);
            let s = &sums[c * m..(c + 1) * m];
            let mut order: Vec<usize> = (0..m).collect();
            let gap = |j: usize| s[j] / n - (total[j] - s[j]) / rest;
            order.sort_by(|&a, &b| gap(b).total_cmp(&gap(a)));
            order.truncate(PROBE_LATENTS);
            order
        })
        .collect();
    // Pass 2: those latents' activations on every row.
    let mut chosen: Vec<usize> = best.iter().flatten().copied().collect();
    chosen.sort_unstable();
    chosen.dedup();
    let mut features = vec![0.0f32; set.rows() * chosen.len()];
    each_code(p, set.data()?, |row, _, z, _| {
        for (k, &j) in chosen.iter().enumerate() {
            features[row * chosen.len() + k] = z[j];
        }
    });
    let column = |j: usize| chosen.binary_search(&j).unwrap_or(0);
    let (mut single, mut logistic_sum) = (0.0, 0.0);
    for (c, latents) in best.iter().enumerate() {
        let truth: Vec<bool> = class_of.iter().map(|&k| k == Some(c)).collect();
        let split = |test: bool| (0..set.rows()).filter(move |r| (r % TEST_EVERY == 0) == test);
        let value = |r: usize, j: usize| features[r * chosen.len() + column(j)];
        let top = latents[0];
        let train_v: Vec<f32> = split(false).map(|r| value(r, top)).collect();
        let train_t: Vec<bool> = split(false).map(|r| truth[r]).collect();
        let test_t: Vec<bool> = split(true).map(|r| truth[r]).collect();
        let t = best_threshold(&train_v, &train_t);
        let predicted: Vec<bool> = split(true).map(|r| value(r, top) > t).collect();
        single += balanced_accuracy(&predicted, &test_t);
        let rows_of = |test: bool| -> Vec<f64> {
            split(test)
                .flat_map(|r| latents.iter().map(move |&j| value(r, j) as f64))
                .collect()
        };
        let predicted = logistic(&rows_of(false), &train_t, &rows_of(true), latents.len());
        logistic_sum += balanced_accuracy(&predicted, &test_t);
    }
    let n = probed.len() as f64;
    Ok(Some(Probing {
        classes: probed.len(),
        single_latent: single / n,
        top5_logistic: logistic_sum / n,
    }))
}
