//! Training the TopK family and JumpReLU on the CPU: the kernels of `family_step.rs`, then one
//! pass over the latents that builds each latent's gradient rows and applies Adam to them at
//! once, so no m×d gradient buffer is written or read. Adam stays exact: every weight's moments
//! and value are updated every step, a zero gradient included.

use rayon::prelude::*;

use super::adam::{update_chunk, Adam, Coefficients};
use super::arch::{Activation, Arch};
use super::config::TrainConfig;
use super::family_state::FamilyState;
use super::family_step::{
    b_dec_grad, b_enc_grad, backward_rows, by_latent, encode_select, latent_grads, threshold_grad,
    FamilyScratch, Select, Spec,
};
use super::linalg::Threads;
use super::params::SaeParams;
use super::rows::{dot, RowParams};
use super::step::StepStats;

/// Latents per parallel work item of the per-latent pass.
const LATENT_CHUNK: usize = 64;
/// How fast BatchTopK's inference threshold follows each batch's cut-off (an EMA's rate).
pub const THRESHOLD_RATE: f32 = 0.01;

pub struct FamilyTrainer {
    config: TrainConfig,
    spec: Spec,
    params: RowParams,
    /// Adam's moments, laid out as the weights.
    moment1: RowParams,
    moment2: RowParams,
    t: u64,
    family: FamilyState,
    scratch: FamilyScratch,
    threads: Threads,
    fired: Vec<bool>,
}

/// The training equations of a config's family.
pub fn spec_of(config: &TrainConfig, d: usize, mean_norm: f64) -> Spec {
    let m = config.dict;
    let select = match config.arch {
        Arch::TopK => Select::TopK {
            k: config.k_or_default(),
        },
        Arch::BatchTopK | Arch::Matryoshka => Select::BatchTopK {
            k: config.k_or_default(),
        },
        Arch::JumpRelu | Arch::Relu => Select::Jump {
            bandwidth: (config.jump_bandwidth * data_scale(d, mean_norm)) as f32,
            l0_weight: config.lambda / config.l1.divisor(1, m),
        },
    };
    let prefixes = if config.arch == Arch::Matryoshka {
        config.prefix_sizes()
    } else {
        vec![m]
    };
    let topk_family = config.arch.uses_k();
    Spec {
        select,
        prefixes,
        aux_k: if topk_family { config.aux_k } else { 0 },
        aux_coef: config.aux_coef,
        l1_per_row: config.l1.divisor(1, m),
    }
}

/// What the trained SAE applies at inference: TopK's k, or a JumpReLU with BatchTopK's one
/// threshold for every latent, or JumpReLU's own thresholds.
pub fn inference_activation(config: &TrainConfig, family: &FamilyState, m: usize) -> Activation {
    match config.arch {
        Arch::TopK => Activation::TopK {
            k: config.k_or_default(),
        },
        Arch::BatchTopK | Arch::Matryoshka => Activation::JumpRelu {
            threshold: vec![family.batch_threshold; m],
        },
        Arch::JumpRelu => Activation::JumpRelu {
            threshold: family.threshold.clone(),
        },
        Arch::Relu => Activation::Relu,
    }
}

/// JumpReLU's ε and θ₀ are stated for inputs of norm √d; this maps them to the data's norm.
pub fn data_scale(d: usize, mean_norm: f64) -> f64 {
    mean_norm / (d as f64).sqrt()
}

impl FamilyTrainer {
    /// Continues from weights, Adam state and the family's state (fresh: all zero but θ).
    pub fn new(
        config: TrainConfig,
        params: &SaeParams,
        adam: &Adam,
        family: FamilyState,
        spec: Spec,
        threads: Threads,
    ) -> Self {
        let threshold = family.threshold.clone();
        let mut moment1 = RowParams::from_params(&adam.m, vec![0.0; threshold.len()]);
        let mut moment2 = RowParams::from_params(&adam.v, vec![0.0; threshold.len()]);
        moment1.threshold.clone_from(&family.threshold_m);
        moment2.threshold.clone_from(&family.threshold_v);
        FamilyTrainer {
            scratch: FamilyScratch::new(params.d, params.m, config.batch, &spec),
            fired: vec![false; params.m],
            params: RowParams::from_params(params, threshold),
            moment1,
            moment2,
            t: adam.t,
            family,
            spec,
            config,
            threads,
        }
    }

    pub fn step_count(&self) -> u64 {
        self.t
    }

    /// The weights (with the activation they infer with), Adam state and family state.
    pub fn state(&self) -> (SaeParams, Adam, FamilyState) {
        let adam = Adam {
            m: self.moment1.to_params(Activation::Relu),
            v: self.moment2.to_params(Activation::Relu),
            t: self.t,
        };
        let mut family = self.family.clone();
        family.threshold.clone_from(&self.params.threshold);
        family.threshold_m.clone_from(&self.moment1.threshold);
        family.threshold_v.clone_from(&self.moment2.threshold);
        let activation = inference_activation(&self.config, &family, self.params.m);
        (self.params.to_params(activation), adam, family)
    }

    /// One optimiser step at learning rate `lr` on a batch x: [rows, d]. Weights are kept when
    /// the loss is not finite.
    pub fn step(&mut self, x: &[f32], rows: usize, lr: f64) -> StepStats {
        let (p, s, th) = (&self.params, &mut self.scratch, self.threads);
        let cut = encode_select(p, &self.spec, x, rows, s, th);
        s.fired(rows, &mut self.fired);
        let dead = self.family.count_steps(&self.fired, self.config.dead_after);
        let mut stats = backward_rows(p, &self.spec, x, rows, &dead, s, th);
        stats.dead_frac = Some(dead.len() as f64 / p.m as f64);
        if !stats.loss.is_finite() {
            return stats;
        }
        if let Some(cut) = cut {
            self.family.follow_cut(cut, THRESHOLD_RATE);
        }
        by_latent(&mut self.scratch, rows);
        // Both read the weights as they were before this step's update.
        let g_b_dec = b_dec_grad(
            &self.params,
            &self.scratch,
            rows,
            &b_enc_grad(&self.scratch),
        );
        let g_theta = threshold_grad(&self.params, &self.spec, &self.scratch, rows);
        self.t += 1;
        let k = Coefficients::at(self.t, lr);
        self.update_latents(k);
        let (p, m1, m2) = (&mut self.params, &mut self.moment1, &mut self.moment2);
        update_chunk(&mut p.b_dec, &g_b_dec, &mut m1.b_dec, &mut m2.b_dec, k);
        if !p.threshold.is_empty() {
            update_chunk(
                &mut p.threshold,
                &g_theta,
                &mut m1.threshold,
                &mut m2.threshold,
                k,
            );
            p.threshold.iter_mut().for_each(|t| *t = t.max(0.0));
        }
        stats
    }

    /// Each latent's encoder row, decoder row and encoder bias: gradient, then Adam, then the
    /// decoder row's unit norm.
    fn update_latents(&mut self, k: Coefficients) {
        let d = self.params.d;
        let unit_norm = self.config.unit_norm_decoder;
        let scratch = &self.scratch;
        let rows = d * LATENT_CHUNK;
        let (p, m1, m2) = (&mut self.params, &mut self.moment1, &mut self.moment2);
        let chunks: Vec<_> = p
            .w_dec
            .chunks_mut(rows)
            .zip(m1.w_dec.chunks_mut(rows))
            .zip(m2.w_dec.chunks_mut(rows))
            .zip(p.w_enc_t.chunks_mut(rows))
            .zip(m1.w_enc_t.chunks_mut(rows))
            .zip(m2.w_enc_t.chunks_mut(rows))
            .zip(p.b_enc.chunks_mut(LATENT_CHUNK))
            .zip(m1.b_enc.chunks_mut(LATENT_CHUNK))
            .zip(m2.b_enc.chunks_mut(LATENT_CHUNK))
            .map(
                |((((((((dw, dm), dv), ew), em), ev), bw), bm), bv)| LatentChunk {
                    dec: [dw, dm, dv],
                    enc: [ew, em, ev],
                    bias: [bw, bm, bv],
                },
            )
            .collect();
        let work = |(c, chunk): (usize, LatentChunk)| {
            chunk.update(c * LATENT_CHUNK, scratch, d, k, unit_norm)
        };
        match self.threads {
            Threads::One => chunks.into_iter().enumerate().for_each(work),
            Threads::All => chunks.into_par_iter().enumerate().for_each(work),
        }
    }
}

/// A run of latents' weights and moments: [weights, first moment, second moment].
struct LatentChunk<'a> {
    dec: [&'a mut [f32]; 3],
    enc: [&'a mut [f32]; 3],
    bias: [&'a mut [f32]; 3],
}

impl LatentChunk<'_> {
    fn update(self, first: usize, s: &FamilyScratch, d: usize, k: Coefficients, unit: bool) {
        let [dw, dm, dv] = self.dec;
        let [ew, em, ev] = self.enc;
        let [bw, bm, bv] = self.bias;
        let (mut gd, mut ge) = (vec![0.0f32; d], vec![0.0f32; d]);
        for i in 0..bw.len() {
            let j = first + i;
            let row = i * d..(i + 1) * d;
            let gb = latent_grads(s, j, &mut gd, &mut ge);
            let w = &mut dw[row.clone()];
            if unit {
                // Only the part of the gradient that turns the unit row moves it.
                let norm2 = dot(w, w);
                if norm2 > 0.0 {
                    let along = dot(&gd, w) / norm2;
                    gd.iter_mut()
                        .zip(w.iter())
                        .for_each(|(g, v)| *g -= along * v);
                }
            }
            update_chunk(w, &gd, &mut dm[row.clone()], &mut dv[row.clone()], k);
            if unit {
                let norm = dot(w, w).sqrt();
                if norm > 0.0 {
                    w.iter_mut().for_each(|v| *v /= norm);
                }
            }
            update_chunk(
                &mut ew[row.clone()],
                &ge,
                &mut em[row.clone()],
                &mut ev[row],
                k,
            );
            update_chunk(
                &mut bw[i..i + 1],
                &[gb],
                &mut bm[i..i + 1],
                &mut bv[i..i + 1],
                k,
            );
        }
    }
}
