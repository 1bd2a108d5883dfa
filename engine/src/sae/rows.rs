//! The SAE's weights in the layout the sparse kernels want: the encoder transposed, so that
//! latent j's encoder direction and decoder direction are both contiguous rows.
//!
//! - `w_enc_t`: [m, d]   row j is column j of `W_enc`
//! - `b_enc`: [m]
//! - `w_dec`: [m, d]
//! - `b_dec`: [d]
//! - `threshold`: [m] JumpReLU's trained θ (empty for the other families)

use super::arch::Activation;
use super::params::SaeParams;

#[derive(Debug, Clone, PartialEq)]
pub struct RowParams {
    pub d: usize,
    pub m: usize,
    pub w_enc_t: Vec<f32>,
    pub b_enc: Vec<f32>,
    pub w_dec: Vec<f32>,
    pub b_dec: Vec<f32>,
    pub threshold: Vec<f32>,
}

/// `src` [rows, cols] row-major, transposed into a new [cols, rows] buffer.
pub fn transpose(src: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; rows * cols];
    for (i, row) in src.chunks(cols).enumerate() {
        for (j, &v) in row.iter().enumerate() {
            out[j * rows + i] = v;
        }
    }
    out
}

impl RowParams {
    /// `p` re-laid; `threshold` is JumpReLU's θ where the family trains one.
    pub fn from_params(p: &SaeParams, threshold: Vec<f32>) -> Self {
        RowParams {
            d: p.d,
            m: p.m,
            w_enc_t: transpose(&p.w_enc, p.d, p.m),
            b_enc: p.b_enc.clone(),
            w_dec: p.w_dec.clone(),
            b_dec: p.b_dec.clone(),
            threshold,
        }
    }

    /// Back to SAELens' layout, with the activation the trained SAE applies.
    pub fn to_params(&self, activation: Activation) -> SaeParams {
        SaeParams {
            d: self.d,
            m: self.m,
            w_enc: transpose(&self.w_enc_t, self.m, self.d),
            b_enc: self.b_enc.clone(),
            w_dec: self.w_dec.clone(),
            b_dec: self.b_dec.clone(),
            activation,
        }
    }

    /// Zeros of the same shapes (gradients, Adam moments).
    pub fn zeros_like(&self) -> Self {
        RowParams {
            d: self.d,
            m: self.m,
            w_enc_t: vec![0.0; self.w_enc_t.len()],
            b_enc: vec![0.0; self.m],
            w_dec: vec![0.0; self.w_dec.len()],
            b_dec: vec![0.0; self.d],
            threshold: vec![0.0; self.threshold.len()],
        }
    }

    pub fn encoder_row(&self, j: usize) -> &[f32] {
        &self.w_enc_t[j * self.d..(j + 1) * self.d]
    }

    pub fn decoder_row(&self, j: usize) -> &[f32] {
        &self.w_dec[j * self.d..(j + 1) * self.d]
    }
}

/// ⟨a, b⟩ with eight independent accumulators, which the compiler vectorises.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// out += a · v
pub fn axpy(out: &mut [f32], a: f32, v: &[f32]) {
    out.iter_mut().zip(v).for_each(|(o, x)| *o += a * x);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relaying_round_trips() {
        let p = SaeParams::init(5, 7, 1);
        let r = RowParams::from_params(&p, Vec::new());
        assert_eq!(r.encoder_row(3), r.decoder_row(3));
        assert_eq!(r.to_params(Activation::Relu), p);
        let x: Vec<f32> = (0..19).map(|i| i as f32 * 0.5).collect();
        let y: Vec<f32> = (0..19).map(|i| 1.0 - i as f32).collect();
        let want: f32 = x.iter().zip(&y).map(|(a, b)| a * b).sum();
        assert!((dot(&x, &y) - want).abs() < 1e-3);
    }
}
