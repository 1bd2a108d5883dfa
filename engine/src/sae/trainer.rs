//! The SAE being trained: weights, Adam state and scratch, advanced one batch at a time, on
//! the CPU through the hand-written kernels (`step.rs` for ReLU, `family_trainer.rs` for the
//! TopK family and JumpReLU) or on a GPU through candle.

use std::borrow::Cow;

use candle_core::Device;

use super::adam::Adam;
use super::arch::Arch;
use super::candle_trainer::CandleTrainer;
use super::config::TrainConfig;
use super::family_state::FamilyState;
use super::family_trainer::{data_scale, spec_of, FamilyTrainer};
use super::init::Init;
use super::linalg::Threads;
use super::params::SaeParams;
use super::step::{forward_backward, Scratch, StepStats};
use crate::error::{Error, Result};

pub use super::snapshot::Snapshot;

pub struct Trainer {
    backend: Backend,
}

enum Backend {
    Cpu(Box<CpuTrainer>),
    Family(Box<FamilyTrainer>),
    Candle(Box<CandleTrainer>),
}

struct CpuTrainer {
    config: TrainConfig,
    /// Weights and Adam state (no family state), kept as a checkpoint reads them.
    state: Snapshot,
    scratch: Scratch,
    threads: Threads,
}

/// The family's state for a fresh SAE of `d` inputs.
fn fresh_family(config: &TrainConfig, d: usize, mean_norm: f64) -> Option<FamilyState> {
    match config.arch {
        Arch::Relu => None,
        Arch::JumpRelu => {
            let theta = config.jump_init_threshold * data_scale(d, mean_norm);
            Some(FamilyState::fresh(config.dict, Some(theta as f32)))
        }
        _ => Some(FamilyState::fresh(config.dict, None)),
    }
}

impl Trainer {
    /// A fresh SAE for d-dimensional inputs, starting where `init` says.
    pub fn new(
        config: TrainConfig,
        d: usize,
        init: &Init,
        device: &Device,
        threads: Threads,
    ) -> Result<Self> {
        let mut params = SaeParams::init(d, config.dict, config.seed);
        if !config.tied_init {
            params.untie_encoder(config.seed);
        }
        params.b_dec.copy_from_slice(&init.b_dec);
        let snapshot = Snapshot {
            family: fresh_family(&config, d, init.mean_norm),
            adam: Adam::new(d, config.dict),
            params,
        };
        Self::resume(config, snapshot, init.mean_norm, device, threads)
    }

    /// Continues from saved weights, optimiser and family state; `mean_norm` is the training
    /// data's mean row norm.
    pub fn resume(
        config: TrainConfig,
        snapshot: Snapshot,
        mean_norm: f64,
        device: &Device,
        threads: Threads,
    ) -> Result<Self> {
        let Snapshot {
            params,
            adam,
            family,
        } = snapshot;
        // From here on the state is None exactly for ReLU.
        check_family(&config, family.as_ref(), params.m)?;
        let backend = match (device, family) {
            (Device::Cpu, None) => Backend::Cpu(Box::new(CpuTrainer {
                scratch: Scratch::new(params.d, params.m, config.batch),
                config,
                state: Snapshot {
                    params,
                    adam,
                    family: None,
                },
                threads,
            })),
            (Device::Cpu, Some(family)) => {
                let spec = spec_of(&config, params.d, mean_norm);
                Backend::Family(Box::new(FamilyTrainer::new(
                    config, &params, &adam, family, spec, threads,
                )))
            }
            (gpu, family) => Backend::Candle(Box::new(CandleTrainer::new(
                config, &params, &adam, family, mean_norm, gpu,
            )?)),
        };
        Ok(Trainer { backend })
    }

    /// Steps taken so far.
    pub fn step_count(&self) -> u64 {
        match &self.backend {
            Backend::Cpu(c) => c.state.adam.t,
            Backend::Family(f) => f.step_count(),
            Backend::Candle(g) => g.step_count(),
        }
    }

    /// One optimiser step at learning rate `lr` on a batch x: [rows, d]. Returns the batch's
    /// stats before the update. Weights are left untouched when the loss is not finite (a
    /// non-finite gradient makes the next step's loss non-finite, which the caller catches
    /// before any checkpoint).
    pub fn step(&mut self, x: &[f32], rows: usize, lr: f64) -> Result<StepStats> {
        match &mut self.backend {
            Backend::Cpu(c) => Ok(c.step(x, rows, lr)),
            Backend::Family(f) => Ok(f.step(x, rows, lr)),
            Backend::Candle(g) => g.step(x, rows, lr),
        }
    }

    /// The weights, Adam state and family state: borrowed from ReLU's CPU trainer, which
    /// keeps them in that form; assembled on the host for the others.
    pub fn state(&self) -> Result<Cow<'_, Snapshot>> {
        match &self.backend {
            Backend::Cpu(c) => Ok(Cow::Borrowed(&c.state)),
            Backend::Family(f) => {
                let (params, adam, family) = f.state();
                Ok(Cow::Owned(Snapshot {
                    params,
                    adam,
                    family: Some(family),
                }))
            }
            Backend::Candle(g) => g.state().map(Cow::Owned),
        }
    }
}

/// Refuses a saved state that is not of the config's family (an edited `run.toml`, say).
fn check_family(config: &TrainConfig, family: Option<&FamilyState>, m: usize) -> Result<()> {
    let arch = config.arch;
    let fits = match family {
        None => arch == Arch::Relu,
        Some(f) => {
            let theta = if arch == Arch::JumpRelu { m } else { 0 };
            arch != Arch::Relu
                && f.since_fired.len() == m
                && [&f.threshold, &f.threshold_m, &f.threshold_v]
                    .iter()
                    .all(|t| t.len() == theta)
        }
    };
    if fits {
        Ok(())
    } else {
        Err(Error::invalid(
            "checkpoint",
            format!(
                "its saved state is not that of an --arch {} SAE of {m} latents; was run.toml edited? Restore its arch, or start a new run",
                arch.name()
            ),
        ))
    }
}

impl CpuTrainer {
    fn step(&mut self, x: &[f32], rows: usize, lr: f64) -> StepStats {
        let c = &self.config;
        let Snapshot { params, adam, .. } = &mut self.state;
        let stats = forward_backward(
            params,
            x,
            rows,
            c.lambda,
            c.l1,
            &mut self.scratch,
            self.threads,
        );
        if !stats.loss.is_finite() {
            return stats;
        }
        adam.update(params, &self.scratch.grads, lr, self.threads);
        if c.unit_norm_decoder {
            params.normalise_decoder();
        }
        stats
    }
}
