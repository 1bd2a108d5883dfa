//! The SAE being trained: weights, Adam state and scratch, advanced one batch at a time.

use super::adam::Adam;
use super::config::TrainConfig;
use super::linalg::Threads;
use super::params::SaeParams;
use super::step::{forward_backward, Scratch, StepStats};

pub struct Trainer {
    pub config: TrainConfig,
    pub params: SaeParams,
    pub adam: Adam,
    scratch: Scratch,
    threads: Threads,
}

impl Trainer {
    /// A fresh SAE for d-dimensional inputs. `data_mean` ([d]) seeds b_dec when the config asks.
    pub fn new(config: TrainConfig, d: usize, data_mean: &[f32], threads: Threads) -> Self {
        let mut params = SaeParams::init(d, config.dict, config.seed);
        if config.b_dec_init == super::config::BiasInit::Mean {
            params.b_dec.copy_from_slice(data_mean);
        }
        let adam = Adam::new(d, config.dict);
        Self::resume(config, params, adam, threads)
    }

    /// Continues from saved weights and optimiser state.
    pub fn resume(config: TrainConfig, params: SaeParams, adam: Adam, threads: Threads) -> Self {
        let scratch = Scratch::new(params.d, params.m, config.batch);
        Trainer {
            config,
            params,
            adam,
            scratch,
            threads,
        }
    }

    /// Steps taken so far.
    pub fn step_count(&self) -> u64 {
        self.adam.t
    }

    /// One optimiser step on a batch x: [rows, d]. Returns the batch's stats before the update.
    /// Weights are left untouched when the loss is not finite (a non-finite gradient makes the
    /// next step's loss non-finite, which the caller catches before any checkpoint).
    pub fn step(&mut self, x: &[f32], rows: usize) -> StepStats {
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
