//! diffusers' `DDPMScheduler` as Kandinsky 2.2's decoder uses it: a linear β schedule,
//! "leading" timesteps with an offset, ε prediction, and either the fixed small variance or
//! the UNet's learned range.

use candle_core::Tensor;
use serde::Deserialize;

use super::{add_noise, cumulative_alphas, Noise};
use crate::error::{Error, Result};

fn thousand() -> usize {
    1000
}
fn fixed_small() -> String {
    "fixed_small".into()
}
fn linear() -> String {
    "linear".into()
}
fn leading() -> String {
    "leading".into()
}
fn epsilon() -> String {
    "epsilon".into()
}

#[derive(Debug, Clone, Deserialize)]
pub struct DdpmConfig {
    #[serde(default = "thousand")]
    pub num_train_timesteps: usize,
    pub beta_start: f64,
    pub beta_end: f64,
    #[serde(default = "linear")]
    pub beta_schedule: String,
    #[serde(default = "fixed_small")]
    pub variance_type: String,
    #[serde(default)]
    pub steps_offset: usize,
    #[serde(default = "leading")]
    pub timestep_spacing: String,
    #[serde(default = "epsilon")]
    pub prediction_type: String,
    #[serde(default)]
    pub clip_sample: bool,
    #[serde(default)]
    pub thresholding: bool,
}

pub struct Ddpm {
    pub config: DdpmConfig,
    alphas_cumprod: Vec<f32>,
    /// Descending timesteps of the current run.
    pub timesteps: Vec<usize>,
}

impl Ddpm {
    /// Refuses settings Kandinsky's decoder does not use, naming them.
    pub fn new(config: DdpmConfig) -> Result<Self> {
        let c = &config;
        let supported = c.beta_schedule == "linear"
            && c.timestep_spacing == "leading"
            && c.prediction_type == "epsilon"
            && !c.clip_sample
            && !c.thresholding
            && ["fixed_small", "learned_range"].contains(&c.variance_type.as_str());
        if !supported {
            return Err(Error::invalid(
                "scheduler_config.json",
                "only Kandinsky 2.2's DDPM settings are supported: a linear beta schedule, leading timesteps, epsilon prediction, no clipping or thresholding, fixed_small or learned_range variance",
            ));
        }
        let n = c.num_train_timesteps;
        let step = (c.beta_end - c.beta_start) / (n - 1).max(1) as f64;
        let betas: Vec<f32> = (0..n)
            .map(|i| (c.beta_start + step * i as f64) as f32)
            .collect();
        Ok(Ddpm {
            alphas_cumprod: cumulative_alphas(&betas),
            timesteps: vec![],
            config,
        })
    }

    /// Chooses `steps` timesteps, evenly spaced from the start ("leading"), highest first.
    pub fn set_timesteps(&mut self, steps: usize) -> Result<()> {
        let n = self.config.num_train_timesteps;
        if steps == 0 || steps > n {
            return Err(Error::invalid("--steps", format!("must be from 1 to {n}")));
        }
        let ratio = n / steps;
        self.timesteps = (0..steps)
            .rev()
            .map(|i| i * ratio + self.config.steps_offset)
            .collect();
        Ok(())
    }

    fn previous(&self, t: usize) -> Option<usize> {
        let i = self.timesteps.iter().position(|&s| s == t)?;
        self.timesteps.get(i + 1).copied()
    }

    /// One reverse step from timestep `t`. model_output: [b, c, …] (ε), or [b, 2c, …] (ε then
    /// the learned variance) → the sample at the previous timestep, like `sample`
    pub fn step(
        &self,
        model_output: &Tensor,
        t: usize,
        sample: &Tensor,
        noise: &mut dyn Noise,
    ) -> Result<Tensor> {
        let c = sample.dim(1)?;
        let learned = self.config.variance_type == "learned_range" && model_output.dim(1)? == 2 * c;
        let eps = model_output.narrow(1, 0, c)?;
        let a_t = self.alphas_cumprod[t] as f64;
        let a_prev = self
            .previous(t)
            .map_or(1.0, |p| self.alphas_cumprod[p] as f64);
        let (b_t, b_prev) = (1.0 - a_t, 1.0 - a_prev);
        let current_alpha = a_t / a_prev;
        let current_beta = 1.0 - current_alpha;
        let x0 = ((sample - (&eps * b_t.sqrt())?)? / a_t.sqrt())?;
        let mean = ((x0 * (a_prev.sqrt() * current_beta / b_t))?
            + (sample * (current_alpha.sqrt() * b_prev / b_t))?)?;
        let variance = (b_prev / b_t * current_beta).max(1e-20);
        if !learned {
            return add_noise(mean, variance.sqrt(), t, noise);
        }
        if t == 0 {
            return Ok(mean);
        }
        // learned_range: the log variance interpolates between the fixed small and large ones.
        let frac = ((model_output.narrow(1, c, c)? + 1.0)? / 2.0)?;
        let (min_log, max_log) = (variance.ln(), current_beta.ln());
        let log_var = ((&frac * max_log)? + ((1.0 - frac)? * min_log)?)?;
        let std = (log_var * 0.5)?.exp()?;
        let n = noise
            .normal(mean.dims(), mean.device())?
            .to_dtype(mean.dtype())?;
        Ok((mean + (std * n)?)?)
    }
}
