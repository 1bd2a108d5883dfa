//! The SAE being trained: weights, Adam state and scratch, advanced one batch at a time, on
//! the CPU through the hand-written kernels of `step.rs` or on a GPU through candle.

use std::borrow::Cow;

use candle_core::Device;

use super::adam::Adam;
use super::candle_trainer::CandleTrainer;
use super::config::{BiasInit, TrainConfig};
use super::linalg::Threads;
use super::params::SaeParams;
use super::step::{forward_backward, Scratch, StepStats};
use crate::engine::error::Result;

pub struct Trainer {
    backend: Backend,
}

enum Backend {
    Cpu(Box<CpuTrainer>),
    Candle(CandleTrainer),
}

struct CpuTrainer {
    config: TrainConfig,
    params: SaeParams,
    adam: Adam,
    scratch: Scratch,
    threads: Threads,
}

impl Trainer {
    /// A fresh SAE for d-dimensional inputs. `data_mean` ([d]) seeds b_dec when the config asks.
    pub fn new(
        config: TrainConfig,
        d: usize,
        data_mean: &[f32],
        device: &Device,
        threads: Threads,
    ) -> Result<Self> {
        let mut params = SaeParams::init(d, config.dict, config.seed);
        if config.b_dec_init == BiasInit::Mean {
            params.b_dec.copy_from_slice(data_mean);
        }
        let adam = Adam::new(d, config.dict);
        Self::resume(config, params, adam, device, threads)
    }

    /// Continues from saved weights and optimiser state.
    pub fn resume(
        config: TrainConfig,
        params: SaeParams,
        adam: Adam,
        device: &Device,
        threads: Threads,
    ) -> Result<Self> {
        let backend = match device {
            Device::Cpu => Backend::Cpu(Box::new(CpuTrainer {
                scratch: Scratch::new(params.d, params.m, config.batch),
                config,
                params,
                adam,
                threads,
            })),
            gpu => Backend::Candle(CandleTrainer::new(config, &params, &adam, gpu)?),
        };
        Ok(Trainer { backend })
    }

    /// Steps taken so far.
    pub fn step_count(&self) -> u64 {
        match &self.backend {
            Backend::Cpu(c) => c.adam.t,
            Backend::Candle(g) => g.step_count(),
        }
    }

    /// One optimiser step on a batch x: [rows, d]. Returns the batch's stats before the update.
    /// Weights are left untouched when the loss is not finite (a non-finite gradient makes the
    /// next step's loss non-finite, which the caller catches before any checkpoint).
    pub fn step(&mut self, x: &[f32], rows: usize) -> Result<StepStats> {
        match &mut self.backend {
            Backend::Cpu(c) => Ok(c.step(x, rows)),
            Backend::Candle(g) => g.step(x, rows),
        }
    }

    /// The weights and Adam state, borrowed on the CPU, copied back from a GPU.
    pub fn state(&self) -> Result<(Cow<'_, SaeParams>, Cow<'_, Adam>)> {
        match &self.backend {
            Backend::Cpu(c) => Ok((Cow::Borrowed(&c.params), Cow::Borrowed(&c.adam))),
            Backend::Candle(g) => {
                let (p, a) = g.state()?;
                Ok((Cow::Owned(p), Cow::Owned(a)))
            }
        }
    }
}

impl CpuTrainer {
    fn step(&mut self, x: &[f32], rows: usize) -> StepStats {
        let c = &self.config;
        let stats = forward_backward(
            &self.params,
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
        self.adam
            .update(&mut self.params, &self.scratch.grads, c.lr, self.threads);
        if c.unit_norm_decoder {
            self.params.normalize_decoder();
        }
        stats
    }
}
