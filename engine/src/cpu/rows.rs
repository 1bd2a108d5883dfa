//! Layer norm over each row, spread over the cores in runs of rows.

use std::arch::x86_64::*;

use rayon::prelude::*;

use super::Avx2;

/// Rows per task: a few hundred thousand values, so a split pays for itself.
const ROWS_PER_TASK: usize = 256;
const LANES: usize = 8;

/// y = (x − mean) / √(var + eps) · γ + β over rows of γ's length.
pub struct LayerNorm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
    eps: f32,
}

impl LayerNorm {
    pub fn new(gamma: Vec<f32>, beta: Vec<f32>, eps: f32) -> LayerNorm {
        LayerNorm { gamma, beta, eps }
    }

    /// out ← norm(x), row by row; both hold whole rows.
    pub fn apply(&self, _: Avx2, x: &[f32], out: &mut [f32]) {
        let h = self.gamma.len();
        x.par_chunks(h * ROWS_PER_TASK)
            .zip(out.par_chunks_mut(h * ROWS_PER_TASK))
            .for_each(|(xs, os)| {
                for (row, o) in xs.chunks_exact(h).zip(os.chunks_exact_mut(h)) {
                    // SAFETY: the token proves AVX2 + FMA.
                    unsafe { self.row(row, o) };
                }
            });
    }

    #[target_feature(enable = "avx2,fma")]
    fn row(&self, x: &[f32], out: &mut [f32]) {
        let h = x.len();
        let mean = sum(x, |v| v) / h as f32;
        let centred = |v: __m256| _mm256_sub_ps(v, _mm256_set1_ps(mean));
        let var = sum(x, |v| _mm256_mul_ps(centred(v), centred(v))) / h as f32;
        let scale = 1.0 / (var + self.eps).sqrt();
        for (((o, &v), g), b) in out.iter_mut().zip(x).zip(&self.gamma).zip(&self.beta) {
            *o = (v - mean) * scale * g + b;
        }
    }
}

/// Σ f(v) over x: eight values at a time, then the tail one at a time.
#[target_feature(enable = "avx2,fma")]
fn sum(x: &[f32], f: impl Fn(__m256) -> __m256) -> f32 {
    let mut acc = _mm256_setzero_ps();
    let chunks = x.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        // SAFETY: c holds eight floats.
        acc = _mm256_add_ps(acc, f(unsafe { _mm256_loadu_ps(c.as_ptr()) }));
    }
    let mut lanes = [0f32; LANES];
    // SAFETY: lanes holds eight floats.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc) };
    let mut total: f32 = lanes.iter().sum();
    for &v in tail {
        let mut one = [0f32; LANES];
        // SAFETY: one holds eight floats.
        unsafe { _mm256_storeu_ps(one.as_mut_ptr(), f(_mm256_set1_ps(v))) };
        total += one[0];
    }
    total
}
