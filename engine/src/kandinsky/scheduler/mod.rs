//! The two samplers of Kandinsky 2.2: diffusers' DDPM scheduler for the decoder and the UnCLIP
//! scheduler for the prior, with the noise they draw supplied from outside so a seed fixes a
//! picture and tests can replay diffusers' draws.

pub mod ddpm;
pub mod unclip;

use candle_core::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::error::Result;

pub use ddpm::{Ddpm, DdpmConfig};
pub use unclip::{UnClip, UnClipConfig};

/// Where Gaussian noise comes from: the starting latents and each step's variance noise.
pub trait Noise {
    /// Standard normal values of this shape, in f32.
    fn normal(&mut self, shape: &[usize], device: &Device) -> Result<Tensor>;
}

/// Noise from a seed: the same seed gives the same pictures on every machine.
pub struct SeededNoise(ChaCha8Rng);

impl SeededNoise {
    pub fn new(seed: u64) -> Self {
        SeededNoise(ChaCha8Rng::seed_from_u64(seed))
    }
}

impl Noise for SeededNoise {
    fn normal(&mut self, shape: &[usize], device: &Device) -> Result<Tensor> {
        let n = shape.iter().product();
        let values: Vec<f32> = (0..n).map(|_| StandardNormal.sample(&mut self.0)).collect();
        Ok(Tensor::from_vec(values, shape, device)?)
    }
}

/// Cumulative products of 1 − β, computed in f32 as diffusers does.
fn cumulative_alphas(betas: &[f32]) -> Vec<f32> {
    betas
        .iter()
        .scan(1.0f32, |acc, b| {
            *acc *= 1.0 - b;
            Some(*acc)
        })
        .collect()
}

/// The Gaussian noise, scaled, added to a step's mean; none at the last step.
fn add_noise(mean: Tensor, scale: f64, t: usize, noise: &mut dyn Noise) -> Result<Tensor> {
    if t == 0 {
        return Ok(mean);
    }
    let n = noise
        .normal(mean.dims(), mean.device())?
        .to_dtype(mean.dtype())?;
    Ok((mean + (n * scale)?)?)
}
