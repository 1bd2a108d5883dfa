//! The SAE families: how a trained SAE turns pre-activations into a code, and how each family
//! is trained.
//!
//! ```text
//!   pre = (x − b_dec) W_enc + b_enc                      [n, m]
//!   relu:        z = ReLU(pre)                            (L1 penalty; the study's)
//!   topk:        z = TopK_k(ReLU(pre)) per row            (L0 ≤ k)
//!   batchtopk:   z keeps the batch's k·B largest ReLU(pre); at inference a JumpReLU with one
//!                learned threshold θ for every latent
//!   jumprelu:    z = pre · H(pre − θ_j), θ trained through straight-through estimators
//!   matryoshka:  BatchTopK whose nested prefixes of the dictionary each reconstruct x
//! ```

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How an SAE is trained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// ReLU + L1 (the study's).
    #[default]
    Relu,
    TopK,
    BatchTopK,
    JumpRelu,
    Matryoshka,
}

impl Arch {
    pub const ALL: [Arch; 5] = [
        Arch::Relu,
        Arch::TopK,
        Arch::BatchTopK,
        Arch::JumpRelu,
        Arch::Matryoshka,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Arch::Relu => "relu",
            Arch::TopK => "topk",
            Arch::BatchTopK => "batchtopk",
            Arch::JumpRelu => "jumprelu",
            Arch::Matryoshka => "matryoshka",
        }
    }

    pub fn parse(s: &str) -> Result<Arch> {
        Arch::ALL
            .into_iter()
            .find(|a| a.name() == s.trim())
            .ok_or_else(|| {
                Error::invalid(
                    "--arch",
                    format!("'{s}' is not one of relu, topk, batchtopk, jumprelu, matryoshka"),
                )
            })
    }

    /// The families that choose k latents per row (TopK) or k·B per batch.
    pub fn uses_k(self) -> bool {
        matches!(self, Arch::TopK | Arch::BatchTopK | Arch::Matryoshka)
    }

    /// The families whose sparsity comes from a coefficient λ on a penalty (L1 or L0).
    pub fn uses_lambda(self) -> bool {
        matches!(self, Arch::Relu | Arch::JumpRelu)
    }
}

/// What a trained SAE applies after `pre` at inference; saved with its weights.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Activation {
    #[default]
    Relu,
    /// Each row's k largest positive pre-activations.
    TopK { k: usize },
    /// pre where pre > θ_j, else 0. threshold: [m]
    JumpRelu { threshold: Vec<f32> },
}

impl Activation {
    /// The name SAELens gives this activation in `cfg.json`'s `architecture`.
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Relu => "standard",
            Activation::TopK { .. } => "topk",
            Activation::JumpRelu { .. } => "jumprelu",
        }
    }

    /// Applies the activation to one row of pre-activations in place, in the same pass
    /// counting the latents left active. `order` is scratch for the TopK selection.
    pub fn apply_row(&self, row: &mut [f32], order: &mut Vec<u32>) -> u32 {
        let mut active = 0u32;
        let mut keep = |v: &mut f32, kept: bool| {
            *v = if kept { *v } else { 0.0 };
            active += (*v > 0.0) as u32;
        };
        match self {
            Activation::Relu => row.iter_mut().for_each(|v| {
                let kept = *v > 0.0;
                keep(v, kept)
            }),
            Activation::TopK { k } => {
                keep_top_k(row, *k, order);
                row.iter_mut().for_each(|v| keep(v, true));
            }
            Activation::JumpRelu { threshold } => {
                row.iter_mut().zip(threshold).for_each(|(v, &t)| {
                    let kept = jump_keeps(*v, t);
                    keep(v, kept)
                })
            }
        }
        active
    }
}

/// JumpReLU's gate: positive and above the latent's threshold.
pub fn jump_keeps(v: f32, threshold: f32) -> bool {
    v > 0.0 && v > threshold
}

/// Indices of the `k` largest positive values of `row`, in no particular order, into `order`.
pub fn top_k_positive(row: &[f32], k: usize, order: &mut Vec<u32>) {
    order.clear();
    order.extend((0..row.len() as u32).filter(|&j| row[j as usize] > 0.0));
    if order.len() > k {
        // Larger values first; equal values keep the lower index first, so ties are
        // broken the same way on every call.
        let by_value =
            |a: &u32, b: &u32| row[*b as usize].total_cmp(&row[*a as usize]).then(a.cmp(b));
        order.select_nth_unstable_by(k - 1, by_value);
        order.truncate(k);
    }
}

/// Zeroes all but the `k` largest positive values of `row`.
fn keep_top_k(row: &mut [f32], k: usize, order: &mut Vec<u32>) {
    top_k_positive(row, k, order);
    let mut kept = std::mem::take(order);
    kept.sort_unstable();
    let mut next = kept.iter().peekable();
    for (j, v) in row.iter_mut().enumerate() {
        if next.peek().is_some_and(|&&i| i as usize == j) {
            next.next();
        } else {
            *v = 0.0;
        }
    }
    *order = kept;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topk_keeps_the_k_largest_positive() {
        let mut row = vec![0.3, -1.0, 0.9, 0.1, 0.5, 0.0];
        Activation::TopK { k: 2 }.apply_row(&mut row, &mut Vec::new());
        assert_eq!(row, vec![0.0, 0.0, 0.9, 0.0, 0.5, 0.0]);
        // Fewer positive values than k: all of them, and no negative one.
        let mut row = vec![-0.3, 0.2, -0.1];
        Activation::TopK { k: 2 }.apply_row(&mut row, &mut Vec::new());
        assert_eq!(row, vec![0.0, 0.2, 0.0]);
    }

    #[test]
    fn jumprelu_keeps_values_above_their_threshold() {
        let act = Activation::JumpRelu {
            threshold: vec![0.5, 0.1, 0.0],
        };
        let mut row = vec![0.4, 0.2, -0.3];
        act.apply_row(&mut row, &mut Vec::new());
        assert_eq!(row, vec![0.0, 0.2, 0.0]);
    }

    #[test]
    fn arch_names_round_trip() {
        for a in Arch::ALL {
            assert_eq!(Arch::parse(a.name()).unwrap(), a);
        }
        assert!(Arch::parse("gated")
            .unwrap_err()
            .to_string()
            .contains("--arch"));
    }
}
