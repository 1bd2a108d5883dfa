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
use crate::set::BatchPlan;

pub use super::candle_trainer::{Batch, Reading};
pub use super::snapshot::Snapshot;

pub struct Trainer {
    backend: Backend,
    /// The CPU trainers' last step's stats and the step they were taken at (1-based).
    last: Option<(StepStats, u64)>,
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
        config.check_device(device)?;
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
        Ok(Trainer {
            backend,
            last: None,
        })
    }

    /// Puts the training set [rows, d] on the GPU so that batches are picked there
    /// (`Batch::Held`); false where it stays on the host (the CPU trainers, or a set too large).
    pub fn hold(&mut self, data: &[f32], rows: usize) -> Result<bool> {
        match &mut self.backend {
            Backend::Candle(g) => g.hold(data, rows),
            _ => Ok(false),
        }
    }

    fn holds(&self) -> bool {
        matches!(&self.backend, Backend::Candle(g) if g.holds())
    }

    /// Step `step` of `plan` over `data` [rows, d]: its batch is picked on the device when
    /// the set is held there, else gathered into `scratch`. Returns the batch's row count.
    pub fn step_planned(
        &mut self,
        plan: &mut BatchPlan,
        data: &[f32],
        step: u64,
        lr: f64,
        scratch: &mut Vec<f32>,
    ) -> Result<usize> {
        let (epoch, order, range) = plan.in_epoch(step);
        let rows = range.len();
        if self.holds() {
            self.step(
                Batch::Held {
                    epoch,
                    order,
                    range,
                },
                lr,
            )?;
        } else {
            let d = data.len() / order.len().max(1);
            scratch.clear();
            for &i in &order[range] {
                let i = i as usize;
                scratch.extend_from_slice(&data[i * d..(i + 1) * d]);
            }
            self.step(Batch::Rows(scratch, rows), lr)?;
        }
        Ok(rows)
    }

    /// Whether the last step should be read even where its stats are not used: always on
    /// the CPU, where reading costs nothing and a divergence stops the run at once; on a GPU
    /// when too many steps went unread.
    pub fn wants_read(&self) -> bool {
        match &self.backend {
            Backend::Candle(g) => g.wants_read(),
            _ => true,
        }
    }

    /// Steps taken so far.
    pub fn step_count(&self) -> u64 {
        match &self.backend {
            Backend::Cpu(c) => c.state.adam.t,
            Backend::Family(f) => f.step_count(),
            Backend::Candle(g) => g.step_count(),
        }
    }

    /// One optimiser step at learning rate `lr` on a batch. On the CPU a step whose loss is
    /// not finite leaves the weights untouched; on a GPU it is not waited for, and `read`
    /// names it before any checkpoint can keep what followed it.
    pub fn step(&mut self, batch: Batch<'_>, lr: f64) -> Result<()> {
        let at = self.step_count() + 1;
        let stats = match (&mut self.backend, batch) {
            (Backend::Candle(g), batch) => return g.step(batch, lr),
            (_, Batch::Held { .. }) => {
                return Err(Error::invalid("batch", "the CPU trainers hold no set"))
            }
            (Backend::Cpu(c), Batch::Rows(x, rows)) => c.step(x, rows, lr),
            (Backend::Family(f), Batch::Rows(x, rows)) => f.step(x, rows, lr),
        };
        self.last = Some((stats, at));
        Ok(())
    }

    /// The last step's stats before its update, or the first step since the last read whose
    /// loss was not finite. On a GPU this waits for the device.
    pub fn read(&mut self) -> Result<Reading> {
        if let Backend::Candle(g) = &mut self.backend {
            return g.read();
        }
        Ok(match self.last.take() {
            None => Reading::Nothing,
            Some((stats, step)) if !stats.loss.is_finite() => Reading::Diverged {
                step,
                loss: stats.loss,
            },
            Some((stats, _)) => Reading::Stats(stats),
        })
    }

    /// A step on host rows and its stats read at once (the tests' comparisons).
    #[cfg(test)]
    pub fn step_read(&mut self, x: &[f32], rows: usize, lr: f64) -> Result<StepStats> {
        self.step(Batch::Rows(x, rows), lr)?;
        self.read()?.stats()
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
