//! The SAE's loss, defined once: every trainer (CPU or candle, ReLU or the other families) sums
//! a batch into [`BatchSums`] and reads the loss and its terms here.
//!
//! ```text
//!   mse  = Σ (x̂ − x)² / (B d)
//!   L1   = Σ |z| / (B c)            c = m (L1 mean) or 1 (L1 sum)
//!   L0   = Σ 1[z > 0] / B
//!   loss = Σ_s Σ (x̂_s − x)² / (B d)  +  sparsity  +  α_aux Σ (ê − e)² / (B d)
//! ```
//! where s runs over Matryoshka's nested prefixes (the whole dictionary alone otherwise), the
//! sparsity term is λ·L1 (ReLU), w·L0 with w = λ·B/c (JumpReLU: λ in the `--l1` convention) or
//! nothing (TopK: k sets it), and the last term is AuxK's reconstruction of the residual e by
//! dead latents.

/// Sums over one batch's forward pass, in f64.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BatchSums {
    pub rows: usize,
    /// Σ (x̂ − x)² over all elements, through the whole dictionary.
    pub sse: f64,
    /// The same summed over the nested prefixes (Matryoshka); `sse` for the others.
    pub sse_prefixes: f64,
    /// AuxK's Σ (ê − e)².
    pub aux_sse: f64,
    /// Σ |z| over all latents.
    pub l1: f64,
    /// Number of active (z > 0) latents.
    pub active: u64,
}

impl BatchSums {
    /// Sums of a plain forward pass: one dictionary, no AuxK.
    pub fn plain(rows: usize, sse: f64, l1: f64, active: u64) -> Self {
        BatchSums {
            rows,
            sse,
            sse_prefixes: sse,
            aux_sse: 0.0,
            l1,
            active,
        }
    }
}

/// The sparsity term of the loss.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sparsity {
    /// λ on the L1 term (ReLU).
    L1(f64),
    /// w on the L0 term (JumpReLU: w = λ·B/c, λ in the run's L1 convention).
    L0(f64),
    /// None: the activation keeps k latents (TopK, BatchTopK, Matryoshka).
    Fixed,
}

/// What the loss of a batch depends on beside its sums.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossTerms {
    pub d: usize,
    /// c of the L1 term: m (L1 mean) or 1 (L1 sum).
    pub l1_per_row: f64,
    pub sparsity: Sparsity,
    /// α_aux, AuxK's weight.
    pub aux_coef: f64,
}

/// What one training step reports: the batch's loss and its terms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepStats {
    pub loss: f64,
    pub mse: f64,
    /// The L1 term before λ, in the run's convention.
    pub l1: f64,
    pub avg_l0: f64,
    /// Share of latents dead (not fired for the run's `dead_after` steps), where tracked.
    pub dead_frac: Option<f64>,
}

/// The loss and its terms for one batch.
pub fn stats(s: &BatchSums, t: &LossTerms) -> StepStats {
    let rows = s.rows as f64;
    let elements = rows * t.d as f64;
    let l1 = s.l1 / (t.l1_per_row * rows);
    let avg_l0 = s.active as f64 / rows;
    let sparsity = match t.sparsity {
        Sparsity::L1(lambda) => lambda * l1,
        Sparsity::L0(lambda) => lambda * avg_l0,
        Sparsity::Fixed => 0.0,
    };
    StepStats {
        loss: s.sse_prefixes / elements + sparsity + t.aux_coef * s.aux_sse / elements,
        mse: s.sse / elements,
        l1,
        avg_l0,
        dead_frac: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_family_adds_its_own_sparsity_term() {
        let sums = BatchSums {
            rows: 2,
            sse: 8.0,
            sse_prefixes: 12.0,
            aux_sse: 4.0,
            l1: 6.0,
            active: 10,
        };
        let terms = |sparsity, aux_coef| LossTerms {
            d: 4,
            l1_per_row: 3.0,
            sparsity,
            aux_coef,
        };
        let relu = stats(
            &BatchSums::plain(2, 8.0, 6.0, 10),
            &terms(Sparsity::L1(0.5), 0.0),
        );
        assert_eq!((relu.mse, relu.l1, relu.avg_l0), (1.0, 1.0, 5.0));
        assert_eq!(relu.loss, 1.0 + 0.5);
        let jump = stats(&sums, &terms(Sparsity::L0(0.1), 0.0));
        assert_eq!(jump.loss, 1.5 + 0.5);
        let topk = stats(&sums, &terms(Sparsity::Fixed, 0.25));
        assert_eq!(topk.loss, 1.5 + 0.25 * 0.5);
        assert_eq!(topk.mse, 1.0, "mse is the whole dictionary's");
    }
}
