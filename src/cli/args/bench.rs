//! `saelab bench`.

use std::path::PathBuf;

use clap::Args;

use super::train::{ArchArg, BiasArg, L1Arg, PrecisionArg};
use crate::engine::sae::{Arch, TrainConfig};

/// `saelab bench`: times SAE training at the study's shapes.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Steps to time (default: every step of --epochs).
    #[arg(long)]
    pub steps: Option<u64>,
    /// Passes over the rows.
    #[arg(long, default_value_t = TrainConfig::default().epochs)]
    pub epochs: usize,
    /// Rows per step.
    #[arg(long, default_value_t = TrainConfig::default().batch)]
    pub batch: usize,
    /// Number of latents.
    #[arg(long, default_value_t = TrainConfig::default().dict)]
    pub dict: usize,
    /// The matrix products' arithmetic on a GPU (the CPU trains in f32).
    #[arg(long, value_enum, default_value = "f32")]
    pub precision: PrecisionArg,
    /// Train on the rows of `ref_sae.py --save-data FILE` instead of our own generator.
    #[arg(long, value_name = "FILE")]
    pub from: Option<PathBuf>,
    /// Sparsity coefficient (relu, jumprelu).
    #[arg(long = "lambda", default_value_t = 1e-3)]
    pub lambda: f64,
    /// L1 normalisation (relu, jumprelu).
    #[arg(long, value_enum, default_value = "mean")]
    pub l1: L1Arg,
    /// SAE family.
    #[arg(long, value_enum, default_value = "relu")]
    pub arch: ArchArg,
    /// Active latents per row (topk, batchtopk, matryoshka; default 32).
    #[arg(long)]
    pub k: Option<usize>,
    /// Steps without firing before a latent counts as dead (AuxK).
    #[arg(long, default_value_t = crate::engine::sae::config::DEFAULT_DEAD_AFTER)]
    pub dead_after: u64,
    /// AuxK's dead latents per row (0 turns AuxK off).
    #[arg(long, default_value_t = crate::engine::sae::config::DEFAULT_AUX_K)]
    pub aux_k: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Steps of linear learning-rate decay to zero at the end.
    #[arg(long, default_value_t = 0)]
    pub decay_steps: u64,
    /// How b_dec starts (zero, as ref_sae.py starts it).
    #[arg(long, value_enum, default_value = "zero")]
    pub b_dec_init: BiasArg,
}

impl BenchArgs {
    /// The training config timed.
    pub fn config(&self) -> TrainConfig {
        let arch: Arch = self.arch.into();
        TrainConfig {
            arch,
            lambda: self.lambda,
            l1: self.l1.into(),
            k: self.k,
            dead_after: self.dead_after,
            aux_k: self.aux_k,
            unit_norm_decoder: arch.uses_k(),
            b_dec_init: self.b_dec_init.into(),
            lr: self.lr,
            decay_steps: self.decay_steps,
            epochs: self.epochs,
            batch: self.batch,
            dict: self.dict,
            precision: self.precision.into(),
            ..Default::default()
        }
    }
}
