//! The training step of `step.rs`, written in candle tensor ops so it runs on CUDA and Metal.
//! Same equations, same Adam; checked against the CPU path in `tests.rs`.

use candle_core::{DType, Device, Tensor, D};

use super::adam::Adam;
use super::config::{TrainConfig, ADAM_BETA1, ADAM_BETA2, ADAM_EPS};
use super::params::SaeParams;
use super::step::StepStats;
use crate::engine::error::Result;

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
        device: &Device,
    ) -> Result<Self> {
        Ok(CandleTrainer {
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
    pub fn state(&self) -> Result<(SaeParams, Adam)> {
        let adam = Adam {
            m: download(&self.moment1, self.d, self.m)?,
            v: download(&self.moment2, self.d, self.m)?,
            t: self.t,
        };
        Ok((download(&self.params, self.d, self.m)?, adam))
    }

    /// One step on a batch x: [rows, d] (host memory). Weights are kept when the loss is not
    /// finite.
    pub fn step(&mut self, x: &[f32], rows: usize) -> Result<StepStats> {
        let (d, m) = (self.d, self.m);
        let x = Tensor::from_slice(x, (rows, d), &self.device)?;
        let [w_enc, b_enc, w_dec, b_dec] = &self.params;
        let centred = x.broadcast_sub(b_dec)?;
        let z = centred.matmul(w_enc)?.broadcast_add(b_enc)?.relu()?;
        let diff = (z.matmul(w_dec)?.broadcast_add(b_dec)? - &x)?;
        let active = z.gt(0f32)?.to_dtype(DType::F32)?;
        let sums = Tensor::stack(
            &[diff.sqr()?.sum_all()?, z.sum_all()?, active.sum_all()?],
            0,
        )?
        .to_dtype(DType::F64)?
        .to_vec1::<f64>()?;
        let l1_div = self.config.l1.divisor(rows, m);
        let mse = sums[0] / (rows * d) as f64;
        let l1 = sums[1] / l1_div;
        let stats = StepStats {
            loss: mse + self.config.lambda * l1,
            mse,
            l1,
            avg_l0: sums[2] / rows as f64,
        };
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
        self.adam_update([grad_w_enc, grad_b_enc, grad_w_dec, grad_b_dec])?;
        if self.config.unit_norm_decoder {
            let w = &self.params[2];
            let norm = w.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?;
            self.params[2] = w.broadcast_div(&norm)?;
        }
        Ok(stats)
    }

    fn adam_update(&mut self, grads: Four) -> Result<()> {
        self.t += 1;
        let t = self.t as i32;
        let step = self.config.lr / (1.0 - ADAM_BETA1.powi(t));
        let inv_bias2_sqrt = 1.0 / (1.0 - ADAM_BETA2.powi(t)).sqrt();
        for (i, g) in grads.iter().enumerate() {
            let m = ((&self.moment1[i] * ADAM_BETA1)? + (g * (1.0 - ADAM_BETA1))?)?;
            let v = ((&self.moment2[i] * ADAM_BETA2)? + (g.sqr()? * (1.0 - ADAM_BETA2))?)?;
            let denom = ((v.sqrt()? * inv_bias2_sqrt)? + ADAM_EPS)?;
            self.params[i] = (&self.params[i] - ((&m / denom)? * step)?)?;
            self.moment1[i] = m;
            self.moment2[i] = v;
        }
        Ok(())
    }
}
