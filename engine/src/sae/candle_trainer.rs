//! The training step of `step.rs` (ReLU) and of the other families (`candle_family.rs`),
//! written in candle tensor ops so it runs on CUDA and Metal. Same equations, same Adam;
//! checked against the CPU paths in `tests.rs`.
//!
//! Nothing in a step waits for the device: the training set can be held on it (`hold`), a
//! batch is picked there from the epoch's order, and a step's sums stay there until `read`
//! asks for them (the run's log and checkpoint steps). A step whose loss is not finite is
//! remembered on the device, and `read` names the first one.

use std::ops::Range;

use candle_core::{DType, Device, Tensor, D};

use super::adam::{bias_corrected, Adam};
use super::candle_family::{DeviceFamily, FamilyStep};
use super::config::{TrainConfig, ADAM_BETA1, ADAM_BETA2, ADAM_EPS};
use super::family_state::FamilyState;
use super::family_trainer::{inference_activation, spec_of, THRESHOLD_RATE};
use super::loss::{BatchSums, StepStats};
use super::params::SaeParams;
use super::products::{Products, SwitchHold};
use super::snapshot::Snapshot;
use super::{model, step};
use crate::error::{Error, Result};

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
    products: Products,
    /// Kept for its drop: this run's hold on CUDA's process-wide TF32 switch.
    _switch: Option<SwitchHold>,
    /// The training set, when held on the device.
    held: Option<Held>,
    /// The last step's sums, not yet read.
    last: Option<Sums>,
    /// The first step since the last read whose loss was not finite, counted from 1 after
    /// it (`NOT_YET` while none). [], f32 (Metal has no f64): exact to 2²⁴ steps between reads
    first_bad: Tensor,
    /// The step count at the last read.
    read_at: u64,
}

/// The set's rows on the device, and the last epoch's order of them.
struct Held {
    /// [n, d]
    rows: Tensor,
    /// The epoch and its order. [n], u32
    order: Option<(u64, Tensor)>,
}

/// A step's sums on the device, and its batch's size.
struct Sums {
    sums: Tensor,
    rows: usize,
}

/// `first_bad` while every step's loss was finite: past any step count.
const NOT_YET: f32 = 1e30;

/// The most steps between reads: `first_bad`'s f32 step count is exact well below this.
const MAX_UNREAD: u64 = 1 << 20;

/// The most bytes of a set `hold` puts on the device: the rest of the memory is the
/// trainer's, and a larger set trains from host batches. Each run of a sweep holds its own
/// copy, so three runs of a set at the limit take 12 GiB.
pub const HOLD_LIMIT_BYTES: usize = 4 << 30;

/// A batch for [`CandleTrainer::step`].
pub enum Batch<'a> {
    /// Rows gathered on the host: x [rows, d], row-major.
    Rows(&'a [f32], usize),
    /// Rows `order[range]` of the held set, `order` being `epoch`'s permutation.
    Held {
        epoch: u64,
        order: &'a [u32],
        range: Range<usize>,
    },
}

impl Reading {
    /// The stats read, or an error saying what was read instead (the tests' comparisons).
    #[cfg(test)]
    pub fn stats(self) -> Result<StepStats> {
        match self {
            Reading::Stats(stats) => Ok(stats),
            Reading::Diverged { step, loss } => Err(Error::invalid(
                "step",
                format!("step {step}'s loss is {loss}"),
            )),
            Reading::Nothing => Err(Error::invalid("step", "nothing to read")),
        }
    }
}

/// What [`CandleTrainer::read`] finds.
pub enum Reading {
    /// No step since the last read.
    Nothing,
    Stats(StepStats),
    /// The first step whose loss was not finite (1-based), and its loss when it was the last.
    Diverged {
        step: u64,
        loss: f64,
    },
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
        let (products, switch) = Products::for_run(config.precision, device)?;
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
            products,
            _switch: switch,
            held: None,
            last: None,
            first_bad: Tensor::new(NOT_YET, device)?,
            read_at: adam.t,
        })
    }

    /// TopK by bisection and the dense decode, whatever the width: to check the sparse path.
    #[cfg(test)]
    pub fn decode_densely(&mut self) {
        if let Some(family) = &mut self.family {
            family.decode_densely();
        }
    }

    /// Puts the set's rows [n, d] on the device for `Batch::Held`; false (and nothing held)
    /// when it is larger than `HOLD_LIMIT_BYTES` or the device has no room for it.
    pub fn hold(&mut self, data: &[f32], rows: usize) -> Result<bool> {
        if std::mem::size_of_val(data) > HOLD_LIMIT_BYTES {
            return Ok(false);
        }
        let Ok(on_device) = Tensor::from_slice(data, (rows, self.d), &self.device) else {
            return Ok(false);
        };
        self.held = Some(Held {
            rows: on_device,
            order: None,
        });
        Ok(true)
    }

    /// Whether `hold` put the set on the device.
    pub fn holds(&self) -> bool {
        self.held.is_some()
    }

    /// The batch's rows on the device. [rows, d]
    fn batch_rows(&mut self, batch: Batch<'_>) -> Result<Tensor> {
        match batch {
            Batch::Rows(x, rows) => Ok(Tensor::from_slice(x, (rows, self.d), &self.device)?),
            Batch::Held {
                epoch,
                order,
                range,
            } => {
                let Some(held) = self.held.as_mut() else {
                    return Err(Error::invalid("batch", "no set is held on the device"));
                };
                let uploaded = match held.order.take() {
                    Some((e, tensor)) if e == epoch => tensor,
                    _ => Tensor::from_slice(order, order.len(), &self.device)?,
                };
                let picked = uploaded.narrow(0, range.start, range.len())?;
                let rows = held.rows.index_select(&picked, 0)?;
                held.order = Some((epoch, uploaded));
                Ok(rows)
            }
        }
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

    /// One step on a batch, at learning rate `lr`. Nothing is read back: see `read`.
    pub fn step(&mut self, batch: Batch<'_>, lr: f64) -> Result<()> {
        let x = self.batch_rows(batch)?;
        let rows = x.dim(0)?;
        let sums = match self.family.take() {
            None => self.step_relu(&x, rows, lr)?,
            Some(mut family) => {
                let sums = self.step_family(&mut family, &x, lr);
                self.family = Some(family);
                sums?
            }
        };
        self.note_finite(&sums)?;
        self.last = Some(Sums { sums, rows });
        Ok(())
    }

    /// When one of the step's sums is not finite, remembers the step (the first such).
    fn note_finite(&mut self, sums: &Tensor) -> Result<()> {
        // |x| ≤ f32::MAX is false for ±∞ and NaN alike.
        let finite = sums
            .abs()?
            .le(f64::from(f32::MAX))?
            .to_dtype(DType::F32)?
            .min(0)?;
        // The step's number since the last read where it was not finite, NOT_YET past it
        // where it was; the count is the host's, so the device keeps no counter.
        let since_read = (self.t - self.read_at) as f64;
        let this = ((&finite * f64::from(NOT_YET))? + since_read)?;
        self.first_bad = self.first_bad.minimum(&this)?;
        Ok(())
    }

    /// Whether so many steps went unread that the next must be read.
    pub fn wants_read(&self) -> bool {
        self.t - self.read_at >= MAX_UNREAD
    }

    /// The last step's stats, or the first step since the last read whose loss was not
    /// finite: the one place a step waits for the device.
    pub fn read(&mut self) -> Result<Reading> {
        let Some(Sums { sums, rows }) = self.last.take() else {
            return Ok(Reading::Nothing);
        };
        let first_bad = self.first_bad.to_scalar::<f32>()?;
        let sums: Vec<f64> = sums.to_vec1::<f32>()?.into_iter().map(f64::from).collect();
        let stats = match &self.family {
            Some(family) => family.stats(&sums, rows, self.d, self.m),
            None => self.relu_stats(&sums, rows),
        };
        let read_at = std::mem::replace(&mut self.read_at, self.t);
        self.first_bad = (self.first_bad.zeros_like()? + f64::from(NOT_YET))?;
        if first_bad < NOT_YET {
            let step = read_at + first_bad as u64;
            let loss = if step == self.t { stats.loss } else { f64::NAN };
            return Ok(Reading::Diverged { step, loss });
        }
        Ok(Reading::Stats(stats))
    }

    /// A step on host rows and its stats read at once (the tests' CPU comparisons).
    #[cfg(test)]
    pub fn step_read(&mut self, x: &[f32], rows: usize, lr: f64) -> Result<StepStats> {
        self.step(Batch::Rows(x, rows), lr)?;
        self.read()?.stats()
    }

    fn step_family(&mut self, family: &mut DeviceFamily, x: &Tensor, lr: f64) -> Result<Tensor> {
        let FamilyStep {
            sums,
            mut grads,
            g_theta,
            cut,
        } = family.step(&self.products, &self.params, x)?;
        if let Some(cut) = cut {
            family.follow_cut(&cut, THRESHOLD_RATE)?;
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
        Ok(sums)
    }

    fn normalise_decoder(&mut self) -> Result<()> {
        let w = &self.params[2];
        let norm = w.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?;
        self.params[2] = w.broadcast_div(&norm.maximum(f32::MIN_POSITIVE)?)?;
        Ok(())
    }

    /// ReLU + L1's step; its sums (SSE, Σz, active latents) stay on the device. [3]
    fn step_relu(&mut self, x: &Tensor, rows: usize, lr: f64) -> Result<Tensor> {
        let mm = self.products;
        let [w_enc, b_enc, w_dec, b_dec] = &self.params;
        let (centred, pre) = model::pre_activation(&mm, x, w_enc, b_enc, b_dec)?;
        let z = pre.relu()?;
        let diff = (model::decode(&mm, &z, w_dec, b_dec)? - x)?;
        let active = z.gt(0f32)?.to_dtype(DType::F32)?;
        let sums = Tensor::stack(
            &[diff.sqr()?.sum_all()?, z.sum_all()?, active.sum_all()?],
            0,
        )?;
        let l1_div = self.config.l1.divisor(rows, self.m);
        // Gradients, as in step.rs.
        let g = (diff * (2.0 / (rows * self.d) as f64))?;
        let grad_w_dec = mm.mm(&z.t()?, &g)?;
        let dpre = ((mm.mm(&g, &w_dec.t()?)? + self.config.lambda / l1_div)? * &active)?;
        let grad_b_enc = dpre.sum(0)?;
        let grad_w_enc = mm.mm(&centred.t()?, &dpre)?;
        let through_encoder = mm.mm(w_enc, &grad_b_enc.unsqueeze(1)?)?.squeeze(1)?;
        let grad_b_dec = (g.sum(0)? - through_encoder)?;
        self.adam_update([grad_w_enc, grad_b_enc, grad_w_dec, grad_b_dec], lr)?;
        if self.config.unit_norm_decoder {
            self.normalise_decoder()?;
        }
        Ok(sums)
    }

    fn relu_stats(&self, sums: &[f64], rows: usize) -> StepStats {
        step::stats(
            &BatchSums::plain(rows, sums[0], sums[1], sums[2] as u64),
            self.d,
            self.m,
            self.config.lambda,
            self.config.l1,
        )
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
