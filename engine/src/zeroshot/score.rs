//! Top-1 / top-5 accuracy of a classifier on unit image embeddings, per class too.

use serde::{Deserialize, Serialize};

use super::classifier::Classifier;
use crate::sae::linalg::{matmul, MatRef, Threads};

/// Rows scored at a time.
const CHUNK_ROWS: usize = 4096;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    pub top1: f64,
    pub top5: f64,
    pub n: usize,
    /// Per class: (top-1 correct, examples).
    pub per_class: Vec<(usize, usize)>,
}

impl Scores {
    /// Top-1 accuracy of class `c` (NaN when it has no examples).
    pub fn class_accuracy(&self, c: usize) -> f64 {
        let (hit, n) = self.per_class[c];
        hit as f64 / n as f64
    }
}

/// Each row's cosines with the classes, [k], and its true class, a chunk of rows at a time.
pub fn each_logits(
    classifier: &Classifier,
    x: &[f32],
    labels: &[usize],
    mut each: impl FnMut(&[f32], usize),
) {
    let (d, k) = (classifier.dim, classifier.classes.len());
    let mut logits = vec![0.0f32; CHUNK_ROWS * k];
    for (chunk, chunk_labels) in x.chunks(CHUNK_ROWS * d).zip(labels.chunks(CHUNK_ROWS)) {
        let rows = chunk_labels.len();
        matmul(
            &mut logits[..rows * k],
            MatRef::new(chunk, rows, d),
            MatRef::new(&classifier.weights, k, d).t(),
            false,
            Threads::All,
        );
        for (row, &label) in logits[..rows * k].chunks(k).zip(chunk_labels) {
            each(row, label);
        }
    }
}

/// Scores unit embeddings `x` ([labels.len(), dim]) with true class `labels`.
pub fn score(classifier: &Classifier, x: &[f32], labels: &[usize]) -> Scores {
    let mut per_class = vec![(0usize, 0usize); classifier.classes.len()];
    let (mut top1, mut top5) = (0usize, 0usize);
    each_logits(classifier, x, labels, |row, label| {
        let own = row[label];
        // The rank of the true class: how many classes score strictly higher.
        let above = row.iter().filter(|&&v| v > own).count();
        per_class[label].1 += 1;
        if above == 0 {
            top1 += 1;
            per_class[label].0 += 1;
        }
        top5 += (above < 5) as usize;
    });
    let n = labels.len();
    Scores {
        top1: top1 as f64 / n.max(1) as f64,
        top5: top5 as f64 / n.max(1) as f64,
        n,
        per_class,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_accuracy_on_a_hand_built_classifier() {
        // Six classes along six axes; each image sits nearest its class, except where noted.
        let k = 6;
        let mut weights = vec![0.0f32; k * k];
        (0..k).for_each(|c| weights[c * k + c] = 1.0);
        let c = Classifier {
            classes: (0..k).map(|i| i.to_string()).collect(),
            dim: k,
            weights,
        };
        let image = |scores: [f32; 6]| scores.to_vec();
        let x: Vec<f32> = [
            image([0.9, 0.1, 0.0, 0.0, 0.0, 0.0]), // class 0, rank 1
            image([0.1, 0.9, 0.0, 0.0, 0.0, 0.0]), // class 1, rank 1
            image([0.5, 0.4, 0.3, 0.2, 0.1, 0.0]), // class 5, rank 6: wrong, not in top 5
            image([0.5, 0.4, 0.3, 0.2, 0.1, 0.0]), // class 4, rank 5: wrong, in top 5
        ]
        .concat();
        let s = score(&c, &x, &[0, 1, 5, 4]);
        assert_eq!((s.top1, s.top5, s.n), (0.5, 0.75, 4));
        assert_eq!(s.per_class[0], (1, 1));
        assert_eq!(s.per_class[5], (0, 1));
        assert!(s.class_accuracy(2).is_nan());
    }
}
