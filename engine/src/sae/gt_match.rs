//! Scores against ground truth, as the field reports them on synthetic data:
//!
//! - `gt_mcc`: the mean cosine between each ground-truth direction and the decoder row it is
//!   matched to, one latent per direction (an optimal assignment: Kuhn-Munkres on the cosine
//!   matrix; greedy by cosine when the matrix is too large for it)
//! - `gt_f1`: per direction, the F1 of "its matched latent fires" against "the concept is in
//!   the row", averaged over the directions that appear in the data.

use pathfinding::prelude::{kuhn_munkres, Matrix};

use crate::set::{GroundTruth, Item};

/// Cosines are matched as integers in these units.
const COSINE_UNITS: f64 = 1e6;
/// Above this many directions the assignment is greedy: Kuhn-Munkres costs k²·m.
const MAX_EXACT_DIRECTIONS: usize = 256;

/// Each direction's matched latent and their cosine.
#[derive(Debug, Clone, PartialEq)]
pub struct Matching {
    /// latent[c]: the latent matched to direction c (None when there are fewer latents).
    pub latent: Vec<Option<usize>>,
    pub cosine: Vec<f32>,
}

impl Matching {
    /// Mean cosine over the directions; one left without a latent (more directions than
    /// latents) counts as 0, as its F1 does.
    pub fn mcc(&self) -> f64 {
        self.cosine.iter().map(|&c| c as f64).sum::<f64>() / self.cosine.len().max(1) as f64
    }
}

/// Matches every ground-truth direction to its own decoder row, maximising the total cosine.
/// cos: [k, m], the directions' cosines with the decoder rows (`concept_cosines`).
pub fn match_directions(cos: &[f32], k: usize, m: usize) -> Matching {
    let latent = if k <= MAX_EXACT_DIRECTIONS && k > 0 {
        optimal(cos, k, m)
    } else {
        greedy(cos, k, m)
    };
    let cosine = latent
        .iter()
        .enumerate()
        .map(|(c, l)| l.map_or(0.0, |j| cos[c * m + j]))
        .collect();
    Matching { latent, cosine }
}

/// Kuhn-Munkres on the [k, m] cosine matrix (transposed when there are fewer latents).
fn optimal(cos: &[f32], k: usize, m: usize) -> Vec<Option<usize>> {
    let units = |v: f32| (v as f64 * COSINE_UNITS).round() as i64;
    if k <= m {
        let weights = Matrix::from_fn(k, m, |(c, j)| units(cos[c * m + j]));
        kuhn_munkres(&weights).1.into_iter().map(Some).collect()
    } else {
        let weights = Matrix::from_fn(m, k, |(j, c)| units(cos[c * m + j]));
        let mut latent = vec![None; k];
        for (j, c) in kuhn_munkres(&weights).1.into_iter().enumerate() {
            latent[c] = Some(j);
        }
        latent
    }
}

/// Pairs taken by falling cosine, each direction and latent used once.
fn greedy(cos: &[f32], k: usize, m: usize) -> Vec<Option<usize>> {
    let mut pairs: Vec<(usize, usize)> = (0..k).flat_map(|c| (0..m).map(move |j| (c, j))).collect();
    pairs.sort_unstable_by(|a, b| cos[b.0 * m + b.1].total_cmp(&cos[a.0 * m + a.1]));
    let mut latent = vec![None; k];
    let mut used = vec![false; m];
    for (c, j) in pairs {
        if latent[c].is_none() && !used[j] {
            latent[c] = Some(j);
            used[j] = true;
        }
    }
    latent
}

/// Counts for the F1 of each direction's matched latent as a detector of its concept.
#[derive(Debug, Clone, Default)]
pub struct Detection {
    tp: Vec<u64>,
    fp: Vec<u64>,
    fn_: Vec<u64>,
}

impl Detection {
    pub fn new(k: usize) -> Self {
        Detection {
            tp: vec![0; k],
            fp: vec![0; k],
            fn_: vec![0; k],
        }
    }

    /// One row: its code z [m] and the directions present in it.
    pub fn add(&mut self, matching: &Matching, z: &[f32], present: &[u32]) {
        for (c, l) in matching.latent.iter().enumerate() {
            let fires = l.is_some_and(|j| z[j] > 0.0);
            let is = present.contains(&(c as u32));
            match (fires, is) {
                (true, true) => self.tp[c] += 1,
                (true, false) => self.fp[c] += 1,
                (false, true) => self.fn_[c] += 1,
                (false, false) => {}
            }
        }
    }

    /// Mean F1 over the directions present in at least one row.
    pub fn mean_f1(&self) -> f64 {
        let f1: Vec<f64> = (0..self.tp.len())
            .filter(|&c| self.tp[c] + self.fn_[c] > 0)
            .map(|c| 2.0 * self.tp[c] as f64 / (2 * self.tp[c] + self.fp[c] + self.fn_[c]) as f64)
            .collect();
        f1.iter().sum::<f64>() / f1.len().max(1) as f64
    }
}

/// Which ground-truth directions each item holds, from its concept values (the demo world's
/// items name them; a value that names no direction is ignored).
pub fn presence(items: &[Item], gt: &GroundTruth) -> Vec<Vec<u32>> {
    items
        .iter()
        .map(|item| {
            item.concepts
                .values()
                .filter_map(|v| gt.names.iter().position(|n| n == v))
                .map(|c| c as u32)
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sae::evaluate::concept_cosines;
    use crate::sae::params::SaeParams;

    fn sae_with_rows(rows: &[[f32; 2]]) -> SaeParams {
        let mut p = SaeParams::zeros(2, rows.len());
        p.w_dec = rows.iter().flatten().copied().collect();
        p
    }

    #[test]
    fn matching_is_one_to_one_and_optimal() {
        // a's closest latent is 0 (cos 0.9), but giving it to a leaves b latent 1 (−0.53): the
        // optimal assignment is a→1 (0.85), b→0 (0.44); greedy takes the first.
        let gt = GroundTruth {
            names: vec!["a".into(), "b".into()],
            directions: vec![1.0, 0.0, 0.0, 1.0],
        };
        let p = sae_with_rows(&[[0.9, 0.19f32.sqrt()], [0.85, -(0.2775f32.sqrt())]]);
        let m = match_directions(&concept_cosines(&p, &gt), 2, 2);
        assert_eq!(m.latent, vec![Some(1), Some(0)]);
        assert!(
            (m.mcc() - (0.85 + 0.19f64.sqrt()) / 2.0).abs() < 1e-5,
            "{}",
            m.mcc()
        );
        assert_eq!(
            greedy(&concept_cosines(&p, &gt), 2, 2),
            vec![Some(0), Some(1)]
        );
    }

    #[test]
    fn f1_of_matched_latents_by_hand() {
        let m = Matching {
            latent: vec![Some(0), Some(1), None],
            cosine: vec![1.0, 1.0, 0.0],
        };
        let mut det = Detection::new(3);
        det.add(&m, &[1.0, 0.0], &[0, 1]); // concept 0 tp, concept 1 fn
        det.add(&m, &[1.0, 1.0], &[1]); // concept 0 fp, concept 1 tp
                                        // concept 0: 2·1/(2+1+0) = 2/3; concept 1: 2·1/(2+0+1) = 2/3; concept 2 never present.
        assert!((det.mean_f1() - 2.0 / 3.0).abs() < 1e-12);
    }
}
