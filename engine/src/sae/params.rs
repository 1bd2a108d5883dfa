//! The SAE's weights as plain row-major f32 buffers, in SAELens' layout and names so that saved
//! files load in other tools:
//!
//! - `W_enc`: [d, m]   encoder, column j reads latent j
//! - `b_enc`: [m]
//! - `W_dec`: [m, d]   decoder, row j is latent j's direction
//! - `b_dec`: [d]

use rand::SeedableRng;

use super::arch::Activation;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// Names of the four tensors, in the order [`SaeParams::buffers`] yields them.
pub const TENSOR_NAMES: [&str; 4] = ["W_enc", "b_enc", "W_dec", "b_dec"];

#[derive(Debug, Clone, PartialEq)]
pub struct SaeParams {
    /// Input width d.
    pub d: usize,
    /// Dictionary size m (number of latents).
    pub m: usize,
    pub w_enc: Vec<f32>,
    pub b_enc: Vec<f32>,
    pub w_dec: Vec<f32>,
    pub b_dec: Vec<f32>,
    /// What follows the encoder's product: ReLU, TopK or JumpReLU (with its thresholds).
    pub activation: Activation,
}

impl SaeParams {
    /// All zeros: the shape of the weights, used for gradients and Adam moments.
    pub fn zeros(d: usize, m: usize) -> Self {
        SaeParams {
            d,
            m,
            w_enc: vec![0.0; d * m],
            b_enc: vec![0.0; m],
            w_dec: vec![0.0; m * d],
            b_dec: vec![0.0; d],
            activation: Activation::Relu,
        }
    }

    /// The usual initialisation: decoder rows drawn from N(0, I) and scaled to unit norm, the
    /// encoder tied to the decoder's transpose (untied afterwards), zero biases.
    pub fn init(d: usize, m: usize, seed: u64) -> Self {
        let mut p = Self::zeros(d, m);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for v in p.w_dec.iter_mut() {
            *v = StandardNormal.sample(&mut rng);
        }
        p.normalise_decoder();
        for j in 0..m {
            for i in 0..d {
                p.w_enc[i * m + j] = p.w_dec[j * d + i];
            }
        }
        p
    }

    /// Draws the encoder afresh, independent of the decoder: unit-norm Gaussian columns from
    /// a stream of its own.
    pub fn untie_encoder(&mut self, seed: u64) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(1);
        let (d, m) = (self.d, self.m);
        let mut columns = vec![0.0f32; m * d];
        for v in columns.iter_mut() {
            *v = StandardNormal.sample(&mut rng);
        }
        for (j, col) in columns.chunks_mut(d).enumerate() {
            let norm = col
                .iter()
                .map(|v| v * v)
                .sum::<f32>()
                .sqrt()
                .max(f32::MIN_POSITIVE);
            for (i, v) in col.iter().enumerate() {
                self.w_enc[i * m + j] = v / norm;
            }
        }
    }

    /// Expected length of each buffer, in [`TENSOR_NAMES`] order, with its shape.
    pub fn shapes(d: usize, m: usize) -> [Vec<usize>; 4] {
        [vec![d, m], vec![m], vec![m, d], vec![d]]
    }

    pub fn buffers(&self) -> [&[f32]; 4] {
        [&self.w_enc, &self.b_enc, &self.w_dec, &self.b_dec]
    }

    pub fn buffers_mut(&mut self) -> [&mut [f32]; 4] {
        [
            &mut self.w_enc,
            &mut self.b_enc,
            &mut self.w_dec,
            &mut self.b_dec,
        ]
    }

    /// Latent j's decoder direction (not normalised). shape: [d]
    pub fn decoder_row(&self, j: usize) -> &[f32] {
        &self.w_dec[j * self.d..(j + 1) * self.d]
    }

    /// Scales every decoder row to unit L2 norm (rows of norm 0 are left alone).
    pub fn normalise_decoder(&mut self) {
        for row in self.w_dec.chunks_mut(self.d) {
            let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
            if norm > 0.0 {
                row.iter_mut().for_each(|v| *v /= norm);
            }
        }
    }

    pub fn all_finite(&self) -> bool {
        self.buffers()
            .iter()
            .all(|b| b.iter().all(|v| v.is_finite()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_is_seeded_tied_and_unit_norm() {
        let a = SaeParams::init(8, 16, 3);
        assert_eq!(a, SaeParams::init(8, 16, 3));
        assert_ne!(a, SaeParams::init(8, 16, 4));
        for j in 0..16 {
            let n: f32 = a.decoder_row(j).iter().map(|v| v * v).sum();
            assert!((n - 1.0).abs() < 1e-5);
            assert_eq!(a.w_enc[3 * 16 + j], a.w_dec[j * 8 + 3]);
        }
        let mut untied = a.clone();
        untied.untie_encoder(3);
        assert_eq!(untied.w_dec, a.w_dec);
        assert_ne!(untied.w_enc, a.w_enc);
        let col: f32 = (0..8).map(|i| untied.w_enc[i * 16 + 5].powi(2)).sum();
        assert!((col - 1.0).abs() < 1e-5);
    }
}
