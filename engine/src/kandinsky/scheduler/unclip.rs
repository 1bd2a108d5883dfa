//! diffusers' `UnCLIPScheduler` as Kandinsky 2.2's prior uses it: the squared-cosine β
//! schedule, timesteps spread over the whole range, x₀ ("sample") prediction clipped to a
//! range, and the fixed small log variance.

use candle_core::Tensor;
use serde::Deserialize;

use super::{add_noise, cumulative_alphas, Noise};
use crate::error::{Error, Result};

fn thousand() -> usize {
    1000
}
fn one() -> f64 {
    1.0
}
fn epsilon() -> String {
    "epsilon".into()
}
fn fixed_small_log() -> String {
    "fixed_small_log".into()
}

#[derive(Debug, Clone, Deserialize)]
pub struct UnClipConfig {
    #[serde(default = "thousand")]
    pub num_train_timesteps: usize,
    #[serde(default = "fixed_small_log")]
    pub variance_type: String,
    #[serde(default)]
    pub clip_sample: bool,
    #[serde(default = "one")]
    pub clip_sample_range: f64,
    #[serde(default = "epsilon")]
    pub prediction_type: String,
}

/// The largest β the cosine schedule allows.
const MAX_BETA: f64 = 0.999;

/// ᾱ(t) of the squared-cosine schedule (Nichol & Dhariwal), as diffusers' `alpha_bar_fn`.
fn alpha_bar(t: f64) -> f64 {
    ((t + 0.008) / 1.008 * std::f64::consts::FRAC_PI_2)
        .cos()
        .powi(2)
}

pub struct UnClip {
    pub config: UnClipConfig,
    betas: Vec<f32>,
    alphas_cumprod: Vec<f32>,
    /// Descending timesteps of the current run.
    pub timesteps: Vec<usize>,
}

impl UnClip {
    pub fn new(config: UnClipConfig) -> Result<Self> {
        if config.variance_type != "fixed_small_log"
            || !["epsilon", "sample"].contains(&config.prediction_type.as_str())
        {
            return Err(Error::invalid(
                "scheduler_config.json",
                "only the UnCLIP settings of Kandinsky 2.2's prior are supported: fixed_small_log variance, epsilon or sample prediction",
            ));
        }
        let n = config.num_train_timesteps;
        let betas: Vec<f32> = (0..n)
            .map(|i| {
                let (t1, t2) = (i as f64 / n as f64, (i + 1) as f64 / n as f64);
                (1.0 - alpha_bar(t2) / alpha_bar(t1)).min(MAX_BETA) as f32
            })
            .collect();
        Ok(UnClip {
            alphas_cumprod: cumulative_alphas(&betas),
            betas,
            timesteps: vec![],
            config,
        })
    }

    /// Chooses `steps` timesteps spread from the last training step to 0, highest first.
    pub fn set_timesteps(&mut self, steps: usize) -> Result<()> {
        let n = self.config.num_train_timesteps;
        if steps < 2 || steps > n {
            return Err(Error::invalid(
                "--prior-steps",
                format!("must be from 2 to {n}"),
            ));
        }
        let ratio = (n - 1) as f64 / (steps - 1) as f64;
        self.timesteps = (0..steps)
            .rev()
            .map(|i| (i as f64 * ratio).round() as usize)
            .collect();
        Ok(())
    }

    /// One reverse step from timestep `t` toward `prev` (None: t − 1). model_output and
    /// sample: [b, d] → [b, d]
    pub fn step(
        &self,
        model_output: &Tensor,
        t: usize,
        sample: &Tensor,
        prev: Option<usize>,
        noise: &mut dyn Noise,
    ) -> Result<Tensor> {
        let prev = prev.map_or(t as i64 - 1, |p| p as i64);
        // In f32 throughout, as diffusers computes these scalars.
        let a_t = self.alphas_cumprod[t];
        let a_prev = if prev >= 0 {
            self.alphas_cumprod[prev as usize]
        } else {
            1.0
        };
        let (b_t, b_prev) = (1.0 - a_t, 1.0 - a_prev);
        let beta = if prev == t as i64 - 1 {
            self.betas[t]
        } else {
            1.0 - a_t / a_prev
        };
        let alpha = 1.0 - beta;
        let mut x0 = match self.config.prediction_type.as_str() {
            "sample" => model_output.clone(),
            _ => ((sample - (model_output * b_t.sqrt() as f64)?)? / a_t.sqrt() as f64)?,
        };
        if self.config.clip_sample {
            let r = self.config.clip_sample_range;
            x0 = x0.clamp(-r, r)?;
        }
        let x0_coeff = a_prev.sqrt() * beta / b_t;
        let sample_coeff = alpha.sqrt() * b_prev / b_t;
        let mean = ((x0 * x0_coeff as f64)? + (sample * sample_coeff as f64)?)?;
        let variance = (b_prev / b_t * beta).max(1e-20);
        add_noise(mean, variance.sqrt() as f64, t, noise)
    }
}
