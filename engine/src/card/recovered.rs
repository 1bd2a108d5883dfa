//! Zero-shot fidelity: how much of CLIP's zero-shot accuracy and loss survives the SAE,
//! against mean-ablating the embedding, as peers score downstream fidelity:
//!
//! ```text
//!   loss recovered     = (L_ablated − L_sae) / (L_ablated − L_clean)
//!   accuracy recovered = (A_sae − A_ablated) / (A_clean − A_ablated)
//! ```
//! where L is the cross-entropy of softmax(100 · cosine) against the true class and A top-1
//! accuracy, on the task's test rows.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::sae::SaeParams;
use crate::set::EmbeddingSet;
use crate::unit::normalise;
use crate::workspace::Workspace;
use crate::zeroshot::score::each_logits;
use crate::zeroshot::{self, Classifier, TaskSpec};

/// CLIP's logit scale: softmax over 100 · cosine.
pub const LOGIT_SCALE: f32 = 100.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recovered {
    pub task: String,
    /// The rows scored.
    pub set: String,
    pub clean_acc: f64,
    pub sae_acc: f64,
    pub ablated_acc: f64,
    pub clean_loss: f64,
    pub sae_loss: f64,
    pub ablated_loss: f64,
    pub accuracy_recovered: f64,
    pub loss_recovered: f64,
}

/// Mean cross-entropy and top-1 accuracy of unit rows `x` against `labels`.
pub fn loss_and_accuracy(clf: &Classifier, x: &[f32], labels: &[usize]) -> (f64, f64) {
    let (mut loss, mut hits) = (0.0f64, 0usize);
    each_logits(clf, x, labels, |row, label| {
        let scaled: Vec<f64> = row.iter().map(|&c| (LOGIT_SCALE * c) as f64).collect();
        let top = scaled.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let log_sum = top + scaled.iter().map(|s| (s - top).exp()).sum::<f64>().ln();
        loss += log_sum - scaled[label];
        hits += (scaled[label] >= top) as usize;
    });
    let n = labels.len().max(1) as f64;
    (loss / n, hits as f64 / n)
}

/// (a − b) / (c − b): the share of the way from b (ablated) to c (clean) that a (through the
/// SAE) goes, for accuracies and losses alike; 0 when c = b (nothing to recover).
fn share(a: f64, b: f64, c: f64) -> f64 {
    if (c - b).abs() < f64::EPSILON {
        0.0
    } else {
        (a - b) / (c - b)
    }
}

/// The recovered shares on the set's zero-shot task, when it has one.
pub fn recovered(ws: &Workspace, p: &SaeParams, set: &EmbeddingSet) -> Result<Option<Recovered>> {
    let Some(task) = TaskSpec::for_set(set)? else {
        return Ok(None);
    };
    let test = zeroshot::test_set(ws, &task, Some(set.name()))?;
    let encoder = zeroshot::text_encoder_for(&test)?;
    let clf = zeroshot::classifier(ws, &task, encoder.as_ref())?;
    let (x, labels) = zeroshot::labelled_rows(&task, &test)?;
    let (through, _) = zeroshot::through_sae(p, &x);
    let d = p.d;
    let mut mean = vec![0.0f32; d];
    for row in x.chunks(d) {
        mean.iter_mut().zip(row).for_each(|(m, v)| *m += v);
    }
    normalise(&mut mean);
    let ablated: Vec<f32> = mean.iter().cycle().take(x.len()).copied().collect();
    let (clean_loss, clean_acc) = loss_and_accuracy(&clf, &x, &labels);
    let (sae_loss, sae_acc) = loss_and_accuracy(&clf, &through, &labels);
    let (ablated_loss, ablated_acc) = loss_and_accuracy(&clf, &ablated, &labels);
    Ok(Some(Recovered {
        task: task.name,
        set: test.name().to_string(),
        clean_acc,
        sae_acc,
        ablated_acc,
        clean_loss,
        sae_loss,
        ablated_loss,
        accuracy_recovered: share(sae_acc, ablated_acc, clean_acc),
        loss_recovered: share(sae_loss, ablated_loss, clean_loss),
    }))
}
