//! The training step of `step.rs` (ReLU) and of the other families (`candle_family.rs`),
//! written in candle tensor ops so it runs on CUDA and Metal. Same equations, same Adam;
//! checked against the CPU paths in `tests.rs`.

use candle_core::{DType, Device, Tensor, D};

use super::adam::{bias_corrected, Adam};
use super::candle_family::{DeviceFamily, FamilyStep};
use super::config::{TrainConfig, ADAM_BETA1, ADAM_BETA2, ADAM_EPS};
use super::family_state::{followed, FamilyState};
use super::family_trainer::{inference_activation, spec_of, THRESHOLD_RATE};
use super::loss::{BatchSums, StepStats};
use super::params::SaeParams;
use super::snapshot::Snapshot;
use super::{model, step};
use crate::error::Result;

/// Weights (or moments) as tensors, in `TENSOR_NAMES` order: W_enc [d, m], b_enc [m],
/// W_dec [m, d], b_dec [d].
type Four = [Tensor; 4];

pub struct CandleTrainer {
    config: TrainConfig,
    device: Device,
    d: usize,
    m: usize,
    params: Four,
    moment1: Four,
    moment2: Four,
    t: u64,
    /// The TopK family's or JumpReLU's state (None for ReLU).
    family: Option<DeviceFamily>,
}

fn upload(p: &SaeParams, device: &Device) -> Result<Four> {
    let shapes = SaeParams::shapes(p.d, p.m);
    let b = p.buffers();
    let mut out = Vec::with_capacity(4);
    for (buf, shape) in b.iter().zip(shapes) {
        out.push(Tensor::from_slice(buf, shape, device)?);
    }
    Ok(out.try_into().expect("four tensors"))
}

fn download(t: &Four, d: usize, m: usize) -> Result<SaeParams> {
    let mut p = SaeParams::zeros(d, m);
    for (buf, tensor) in p.buffers_mut().into_iter().zip(t) {
        buf.copy_from_slice(&tensor.flatten_all()?.to_vec1::<f32>()?);
    }
    Ok(p)
}

impl CandleTrainer {
    pub fn new(
        config: TrainConfig,
        params: &SaeParams,
        adam: &Adam,
        family: Option<FamilyState>,
        mean_norm: f64,
        device: &Device,
    ) -> Result<Self> {
        let family = match family {
            None => None,
            Some(state) => Some(DeviceFamily::new(
                spec_of(&config, params.d, mean_norm),
                config.dead_after,
                &state,
                params.m,
                device,
            )?),
        };
        Ok(CandleTrainer {
            family,
            config,
            device: device.clone(),
            d: params.d,
            m: params.m,
            params: upload(params, device)?,
            moment1: upload(&adam.m, device)?,
            moment2: upload(&adam.v, device)?,
            t: adam.t,
        })
    }

    pub fn step_count(&self) -> u64 {
        self.t
    }

    /// Copies the weights and Adam state back to the host.
    pub fn state(&self) -> Result<Snapshot> {
        let adam = Adam {
            m: download(&self.moment1, self.d, self.m)?,
            v: download(&self.moment2, self.d, self.m)?,
            t: self.t,
        };
        let mut params = download(&self.params, self.d, self.m)?;
        let family = match &self.family {
            Some(f) => {
                let state = f.state()?;
                params.activation = inference_activation(&self.config, &state, self.m);
                Some(state)
            }
            None => None,
        };
        Ok(Snapshot {
            params,
            adam,
            family,
        })
    }

    /// One step on a batch x: [rows, d] (host memory). Weights are kept when the loss is not
    /// finite.
    pub fn step(&mut self, x: &[f32], rows: usize, lr: f64) -> Result<StepStats> {
        let x = Tensor::from_slice(x, (rows, self.d), &self.device)?;
        let Some(mut family) = self.family.take() else {
            return self.step_relu(&x, rows, lr);
        };
        let stats = self.step_family(&mut family, &x, lr);
        self.family = Some(family);
        stats
    }

    fn step_family(&mut self, family: &mut DeviceFamily, x: &Tensor, lr: f64) -> Result<StepStats> {
        let FamilyStep { stats, grads, cut } = family.step(&self.params, x)?;
        let Some((mut grads, g_theta)) = grads else {
            return Ok(stats);
        };
        if let Some(cut) = cut {
            family.batch_threshold = followed(family.batch_threshold, cut, THRESHOLD_RATE);
        }
        if let (Some(g), Some([theta, m, v])) = (g_theta, family.theta.as_mut()) {
            let t = self.t + 1;
            let (new_theta, new_m, new_v) = adam_tensor(theta, &g, m, v, t, lr)?;
            *theta = new_theta.relu()?;
            *m = new_m;
            *v = new_v;
        }
        if self.config.unit_norm_decoder {
            // Only the part of the gradient that turns each unit row moves it.
            let w = &self.params[2];
            let along = (&grads[2] * w)?.sum_keepdim(D::Minus1)?.broadcast_div(
                &w.sqr()?
                    .sum_keepdim(D::Minus1)?
                    .maximum(f32::MIN_POSITIVE)?,
            )?;
            grads[2] = (&grads[2] - w.broadcast_mul(&along)?)?;
        }
        self.adam_update(grads, lr)?;
        if self.config.unit_norm_decoder {
            self.normalise_decoder()?;
        }
        Ok(stats)
    }

    fn normalise_decoder(&mut self) -> Result<()> {
        let w = &self.params[2];
        let norm = w.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?;
        self.params[2] = w.broadcast_div(&norm.maximum(f32::MIN_POSITIVE)?)?;
        Ok(())
    }

    fn step_relu(&mut self, x: &Tensor, rows: usize, lr: f64) -> Result<StepStats> {
        let (d, m) = (self.d, self.m);
        let [w_enc, b_enc, w_dec, b_dec] = &self.params;
        let (centred, pre) = model::pre_activation(x, w_enc, b_enc, b_dec)?;
        let z = pre.relu()?;
        let diff = (model::decode(&z, w_dec, b_dec)? - x)?;
        let active = z.gt(0f32)?.to_dtype(DType::F32)?;
        let sums = Tensor::stack(
            &[diff.sqr()?.sum_all()?, z.sum_all()?, active.sum_all()?],
            0,
        )?
        .to_dtype(DType::F64)?
        .to_vec1::<f64>()?;
        let l1_div = self.config.l1.divisor(rows, m);
        let stats = step::stats(
            &BatchSums::plain(rows, sums[0], sums[1], sums[2] as u64),
            d,
            m,
            self.config.lambda,
            self.config.l1,
        );
        if !stats.loss.is_finite() {
            return Ok(stats);
        }
        // Gradients, as in step.rs.
        let g = (diff * (2.0 / (rows * d) as f64))?;
        let grad_w_dec = z.t()?.matmul(&g)?;
        let dpre = ((g.matmul(&w_dec.t()?)? + self.config.lambda / l1_div)? * &active)?;
        let grad_b_enc = dpre.sum(0)?;
        let grad_w_enc = centred.t()?.matmul(&dpre)?;
        let through_encoder = w_enc.matmul(&grad_b_enc.unsqueeze(1)?)?.squeeze(1)?;
        let grad_b_dec = (g.sum(0)? - through_encoder)?;
        self.adam_update([grad_w_enc, grad_b_enc, grad_w_dec, grad_b_dec], lr)?;
        if self.config.unit_norm_decoder {
            self.normalise_decoder()?;
        }
        Ok(stats)
    }

    fn adam_update(&mut self, grads: Four, lr: f64) -> Result<()> {
        self.t += 1;
        for (i, g) in grads.iter().enumerate() {
            let (p, m, v) = adam_tensor(
                &self.params[i],
                g,
                &self.moment1[i],
                &self.moment2[i],
                self.t,
                lr,
            )?;
            self.params[i] = p;
            self.moment1[i] = m;
            self.moment2[i] = v;
        }
        Ok(())
    }
}

/// One Adam update of weights `p` at step `t` (1-based): the new (p, m, v).
fn adam_tensor(
    p: &Tensor,
    g: &Tensor,
    m: &Tensor,
    v: &Tensor,
    t: u64,
    lr: f64,
) -> Result<(Tensor, Tensor, Tensor)> {
    let (step, inv_bias2_sqrt) = bias_corrected(t, lr);
    let m = ((m * ADAM_BETA1)? + (g * (1.0 - ADAM_BETA1))?)?;
    let v = ((v * ADAM_BETA2)? + (g.sqr()? * (1.0 - ADAM_BETA2))?)?;
    let denom = ((v.sqrt()? * inv_bias2_sqrt)? + ADAM_EPS)?;
    let p = (p - ((&m / denom)? * step)?)?;
    Ok((p, m, v))
}
