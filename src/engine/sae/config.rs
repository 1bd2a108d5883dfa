//! Plain configuration data for an SAE and its training, saved in each run's `run.toml`.

use serde::{Deserialize, Serialize};

use crate::engine::error::{Error, Result};

/// How the L1 penalty is normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum L1Convention {
    /// Mean of |z| over batch and latents (the study's `torch.mean(abs(z))`).
    #[default]
    Mean,
    /// Sum of |z| over latents, mean over the batch.
    Sum,
}

impl L1Convention {
    /// The divisor that turns Σ|z| over a batch of `rows` into the penalty.
    pub fn divisor(self, rows: usize, latents: usize) -> f64 {
        match self {
            L1Convention::Mean => (rows * latents) as f64,
            L1Convention::Sum => rows as f64,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            L1Convention::Mean => "mean",
            L1Convention::Sum => "sum",
        }
    }
}

/// How the decoder bias starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BiasInit {
    /// The per-dimension mean of the training data.
    #[default]
    Mean,
    Zero,
}

/// The study's SAE and training settings; every default is the study's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Number of latents m.
    pub dict: usize,
    /// The L1 coefficient λ.
    pub lambda: f64,
    pub l1: L1Convention,
    pub lr: f64,
    pub batch: usize,
    pub epochs: usize,
    pub seed: u64,
    /// Keep decoder rows at unit norm after every step.
    pub unit_norm_decoder: bool,
    pub b_dec_init: BiasInit,
    /// Save a checkpoint every this many steps (and at the end of every epoch).
    pub checkpoint_every: u64,
    /// Append a line to `metrics.jsonl` every this many steps.
    pub log_every: u64,
}

/// Adam's fixed hyper-parameters (the study's: PyTorch defaults, no weight decay).
pub const ADAM_BETA1: f64 = 0.9;
pub const ADAM_BETA2: f64 = 0.999;
pub const ADAM_EPS: f64 = 1e-8;

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            dict: 4096,
            lambda: 1e-3,
            l1: L1Convention::Mean,
            lr: 1e-3,
            batch: 256,
            epochs: 5,
            seed: 0,
            unit_norm_decoder: false,
            b_dec_init: BiasInit::Mean,
            checkpoint_every: 50,
            log_every: 5,
        }
    }
}

impl TrainConfig {
    /// Rejects settings that cannot train, naming the option to change.
    pub fn validate(&self) -> Result<()> {
        let bad = |what, msg: String| Err(Error::invalid(what, msg));
        if !(self.lambda >= 0.0 && self.lambda.is_finite()) {
            return bad(
                "--lambda",
                format!("{} must be a finite number ≥ 0", self.lambda),
            );
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad("--lr", format!("{} must be a finite number > 0", self.lr));
        }
        if self.batch == 0 {
            return bad("--batch", "must be at least 1".into());
        }
        if self.dict == 0 {
            return bad("--dict", "must be at least 1".into());
        }
        if self.epochs == 0 {
            return bad("--epochs", "must be at least 1".into());
        }
        if self.checkpoint_every == 0 || self.log_every == 0 {
            return bad(
                "--checkpoint-every/--log-every",
                "must be at least 1".into(),
            );
        }
        Ok(())
    }

    /// Steps in one epoch over `rows` rows (the last, partial batch is kept).
    pub fn steps_per_epoch(&self, rows: usize) -> u64 {
        rows.div_ceil(self.batch) as u64
    }

    pub fn total_steps(&self, rows: usize) -> u64 {
        self.steps_per_epoch(rows) * self.epochs as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_study() {
        let c = TrainConfig::default();
        assert_eq!((c.dict, c.batch, c.epochs), (4096, 256, 5));
        assert_eq!((c.lr, c.l1), (1e-3, L1Convention::Mean));
        // Flickr30k: 31,783 rows keep their last partial batch, 125 steps an epoch.
        assert_eq!(c.steps_per_epoch(31_783), 125);
    }

    #[test]
    fn bad_settings_name_the_option() {
        let neg = TrainConfig {
            lambda: -1.0,
            ..Default::default()
        };
        assert!(neg.validate().unwrap_err().to_string().contains("--lambda"));
        let zero = TrainConfig {
            batch: 0,
            ..Default::default()
        };
        assert!(zero.validate().unwrap_err().to_string().contains("--batch"));
    }
}
