//! The TopK family and JumpReLU's training step in candle tensor ops, for CUDA and Metal: the
//! equations of `family_step.rs` written densely with masks. Selections find their cut-off by
//! bisection on counts (a GPU sort works within one block only), so no sort is needed; except
//! TopK over at most [`SORT_LIMIT`] latents off Metal, which sorts each row once and decodes from the k
//! gathered decoder rows (the sparse decode: B·k·d products where the dense one does B·m·d).
//! Checked against the CPU kernels in `family_tests.rs`.

use candle_core::{DType, Device, Tensor};

use super::family_state::FamilyState;
use super::family_step::{Select, Spec};
use super::loss::{self, BatchSums, StepStats};
use super::model::{self, top_k_cut};
use super::products::Products;
use crate::error::{Error, Result};

/// The widest row candle's CUDA sort takes: it sorts a row within one block's shared memory
/// (48 KiB of u32 indices, rounded down to a power of two).
pub const SORT_LIMIT: usize = 8192;

/// Weights as tensors: W_enc [d, m], b_enc [m], W_dec [m, d], b_dec [d].
pub type Four = [Tensor; 4];

/// The family's state on the device.
pub struct DeviceFamily {
    spec: Spec,
    dead_after: f64,
    /// Steps since each latent fired. [m]
    since_fired: Tensor,
    /// BatchTopK's running inference threshold. []
    pub batch_threshold: Tensor,
    /// JumpReLU: θ and its Adam moments. [m] each
    pub theta: Option<[Tensor; 3]>,
    /// Per prefix s: 1 where latent j < p_s. [1, m] each
    prefix_masks: Vec<Tensor>,
    /// Per prefix segment s: 1 where p_{s−1} ≤ j < p_s. [1, m] each
    segment_masks: Vec<Tensor>,
    /// TopK by one sort per row and the sparse decode (see the module's note).
    gathers: bool,
}

/// A batch's selection.
struct Kept {
    /// 1 where the latent is kept. [B, m]
    mask: Tensor,
    /// BatchTopK's cut-off in this batch. []
    cut: Option<Tensor>,
    /// TopK's kept latents, when sorted for.
    gathered: Option<Gathered>,
}

/// Each row's k largest latents and their decoder rows.
struct Gathered {
    /// Latent indices. [B, k] u32
    idx: Tensor,
    /// Their activations (0 where not positive). [B, k]
    vals: Tensor,
    /// W_dec's rows at idx. [B, k, d]
    rows: Tensor,
}

impl Gathered {
    /// The top k of pos [B, m] and their rows of w_dec [m, d].
    fn of(pos: &Tensor, k: usize, w_dec: &Tensor) -> Result<Self> {
        let (b, _) = pos.dims2()?;
        let d = w_dec.dim(1)?;
        let idx = pos
            .arg_sort_last_dim(false)?
            .narrow(1, 0, k)?
            .contiguous()?;
        let vals = pos.gather(&idx, 1)?;
        let rows = w_dec
            .index_select(&idx.flatten_all()?, 0)?
            .reshape((b, k, d))?;
        Ok(Gathered { idx, vals, rows })
    }

    /// x̂ = Σ_j vals_j · rows_j + b_dec. [B, d]
    fn decode(&self, mm: &Products, b_dec: &Tensor) -> Result<Tensor> {
        let recon = mm.mm(&self.vals.unsqueeze(1)?, &self.rows)?.squeeze(1)?;
        Ok(recon.broadcast_add(b_dec)?)
    }

    /// ∂z = g · W_decᵀ at the kept latents, zero elsewhere, for g = ∂x̂ [B, d]. [B, m]
    fn spread(&self, mm: &Products, g: &Tensor, like: &Tensor) -> Result<Tensor> {
        let dvals = mm.mm(&self.rows, &g.unsqueeze(2)?)?.squeeze(2)?;
        Ok(like.zeros_like()?.scatter_add(&self.idx, &dvals, 1)?)
    }
}

/// A step's gradients and its sums, left on the device: nothing here waits for the GPU.
pub struct FamilyStep {
    /// The sums [`DeviceFamily::stats`] reads: SSE, the prefixes' SSE, AuxK's SSE, Σz, active
    /// and dead latents, and BatchTopK's cut-off. [7]
    pub sums: Tensor,
    pub grads: Four,
    /// JumpReLU's ∂θ. [m]
    pub g_theta: Option<Tensor>,
    /// BatchTopK's cut-off in this batch (f32::MAX when nothing was kept). []
    pub cut: Option<Tensor>,
}

/// 1 where start ≤ j < end, else 0. [1, m]
fn range_mask(start: usize, end: usize, m: usize, device: &Device) -> Result<Tensor> {
    let v: Vec<f32> = (0..m)
        .map(|j| (start <= j && j < end) as u8 as f32)
        .collect();
    Ok(Tensor::from_vec(v, (1, m), device)?)
}

impl DeviceFamily {
    pub fn new(
        spec: Spec,
        dead_after: u64,
        state: &FamilyState,
        m: usize,
        device: &Device,
    ) -> Result<Self> {
        let since: Vec<f32> = state.since_fired.iter().map(|&n| n as f32).collect();
        let theta = if state.threshold.is_empty() {
            None
        } else {
            let t = |v: &Vec<f32>| Tensor::from_slice(v, m, device);
            Some([
                t(&state.threshold)?,
                t(&state.threshold_m)?,
                t(&state.threshold_v)?,
            ])
        };
        let mut prefix_masks = Vec::new();
        let mut segment_masks = Vec::new();
        let mut start = 0;
        for &end in &spec.prefixes {
            prefix_masks.push(range_mask(0, end, m, device)?);
            segment_masks.push(range_mask(start, end, m, device)?);
            start = end;
        }
        // Metal's sort runs one thread a column in one group (at most 1,024): not there.
        let gathers = matches!(spec.select, Select::TopK { k } if k <= m)
            && spec.prefixes.len() == 1
            && m <= SORT_LIMIT
            && !device.is_metal();
        Ok(DeviceFamily {
            gathers,
            spec,
            dead_after: dead_after as f64,
            since_fired: Tensor::from_vec(since, m, device)?,
            batch_threshold: Tensor::new(state.batch_threshold, device)?,
            theta,
            prefix_masks,
            segment_masks,
        })
    }

    /// The state, copied to the host.
    pub fn state(&self) -> Result<FamilyState> {
        let host = |t: &Tensor| t.to_vec1::<f32>();
        let (threshold, threshold_m, threshold_v) = match &self.theta {
            Some([t, m, v]) => (host(t)?, host(m)?, host(v)?),
            None => Default::default(),
        };
        Ok(FamilyState {
            since_fired: host(&self.since_fired)?.iter().map(|&n| n as u32).collect(),
            batch_threshold: self.batch_threshold.to_scalar::<f32>()?,
            threshold,
            threshold_m,
            threshold_v,
        })
    }

    /// Dense TopK and bisection everywhere, as for wide dictionaries: to check the sparse path.
    #[cfg(test)]
    pub fn decode_densely(&mut self) {
        self.gathers = false;
    }

    /// The selection of `pre` [B, m] and `pos` = ReLU(pre), with TopK's rows of `w_dec` when
    /// it gathers.
    fn keep(&self, pre: &Tensor, pos: &Tensor, w_dec: &Tensor) -> Result<Kept> {
        if let (true, Select::TopK { k }) = (self.gathers, self.spec.select) {
            let gathered = Gathered::of(pos, k, w_dec)?;
            let kept = gathered.vals.gt(0f32)?.to_dtype(DType::F32)?;
            let mask = pos.zeros_like()?.scatter_add(&gathered.idx, &kept, 1)?;
            return Ok(Kept {
                mask,
                cut: None,
                gathered: Some(gathered),
            });
        }
        let (mask, cut) = self.select(pre, pos)?;
        Ok(Kept {
            mask,
            cut,
            gathered: None,
        })
    }

    /// The selection mask of `pre` [B, m] (1 where the latent is kept) and the batch's cut-off.
    fn select(&self, pre: &Tensor, pos: &Tensor) -> Result<(Tensor, Option<Tensor>)> {
        Ok(match self.spec.select {
            Select::TopK { k } => {
                let cut = top_k_cut(pos, k)?;
                (pos.broadcast_gt(&cut)?.to_dtype(DType::F32)?, None)
            }
            Select::BatchTopK { k } => {
                let (b, m) = pos.dims2()?;
                let flat = pos.reshape((1, b * m))?;
                let cut = top_k_cut(&flat, k * b)?;
                let mask = flat.broadcast_gt(&cut)?.reshape((b, m))?;
                let mask = mask.to_dtype(DType::F32)?;
                // The smallest kept value: the batch's k·B-th largest (f32::MAX: none kept).
                let big = (pos.ones_like()? * f64::from(f32::MAX))?;
                let kept_min = mask.ne(0f32)?.where_cond(pos, &big)?.min_all()?;
                (mask, Some(kept_min))
            }
            Select::Jump { .. } => {
                let Some([theta, _, _]) = &self.theta else {
                    return Err(Error::invalid("checkpoint", "a JumpReLU state without θ"));
                };
                let above = pre.broadcast_gt(&theta.unsqueeze(0)?)?;
                let positive = pre.gt(0f32)?;
                let keep = (above.to_dtype(DType::F32)? * positive.to_dtype(DType::F32)?)?;
                (keep, None)
            }
        })
    }

    /// Forward and backward of one batch x: [B, d] through `params`, its products at `mm`'s
    /// precision.
    pub fn step(&mut self, mm: &Products, params: &Four, x: &Tensor) -> Result<FamilyStep> {
        let [w_enc, b_enc, w_dec, b_dec] = params;
        let (rows, d) = x.dims2()?;
        let scale = 2.0 / (rows * d) as f64;
        let (centred, pre) = model::pre_activation(mm, x, w_enc, b_enc, b_dec)?;
        let pos = pre.relu()?;
        let Kept {
            mask,
            cut,
            gathered,
        } = self.keep(&pre, &pos, w_dec)?;
        let z = (&pos * &mask)?;
        // Dead latents: counted after this batch's firing, as the CPU trainer does.
        let fired = mask.max(0)?;
        self.since_fired = ((&self.since_fired + 1.0)? * (1.0 - &fired)?)?;
        let dead = self.since_fired.gt(self.dead_after)?.to_dtype(DType::F32)?;

        // Reconstructions per prefix, their errors, and the suffix sums Ĝ_s.
        let mut g = Vec::new();
        let mut sse_prefixes = Tensor::zeros((), DType::F32, x.device())?;
        let mut sse_full = sse_prefixes.clone();
        let mut full_recon = None;
        for mask_s in &self.prefix_masks {
            let recon = match &gathered {
                Some(gathered) => gathered.decode(mm, b_dec)?,
                None => model::decode(mm, &z.broadcast_mul(mask_s)?, w_dec, b_dec)?,
            };
            let diff = (&recon - x)?;
            sse_full = diff.sqr()?.sum_all()?;
            sse_prefixes = (sse_prefixes + &sse_full)?;
            g.push((diff * scale)?);
            full_recon = Some(recon);
        }
        for s in (0..g.len().saturating_sub(1)).rev() {
            g[s] = (&g[s] + &g[s + 1])?;
        }
        let Some(full_recon) = full_recon else {
            return Err(Error::invalid(
                "--prefixes",
                "no prefix to reconstruct from",
            ));
        };

        // ∂z through each segment's Ĝ, and the decoder's gradient.
        let w_dec_t = w_dec.t()?;
        let mut g_w_dec = w_dec.zeros_like()?;
        for (g_s, seg) in g.iter().zip(&self.segment_masks) {
            g_w_dec = (g_w_dec + mm.mm(&z.broadcast_mul(seg)?.t()?, g_s)?)?;
        }
        let dz = match &gathered {
            // One segment: gathering is TopK without prefixes.
            Some(gathered) => gathered.spread(mm, &g[0], &pre)?,
            None => {
                let mut dz = pre.zeros_like()?;
                for (g_s, seg) in g.iter().zip(&self.segment_masks) {
                    dz = (dz + mm.mm(g_s, &w_dec_t)?.broadcast_mul(seg)?)?;
                }
                dz
            }
        };
        let mut dpre = (&dz * &mask)?;
        let mut aux_sse = Tensor::zeros((), DType::F32, x.device())?;
        if self.spec.aux_k > 0 {
            let aux_pos = pos.broadcast_mul(&dead.unsqueeze(0)?)?;
            let cut = top_k_cut(&aux_pos, self.spec.aux_k)?;
            let aux_mask = aux_pos.broadcast_gt(&cut)?.to_dtype(DType::F32)?;
            let z_aux = (&aux_pos * &aux_mask)?;
            let residual = (x - &full_recon)?.detach();
            // Nothing at all while no latent is dead, as on the CPU.
            let any_dead = dead.max(0)?;
            let aux_diff = (mm.mm(&z_aux, w_dec)? - residual)?.broadcast_mul(&any_dead)?;
            aux_sse = aux_diff.sqr()?.sum_all()?;
            let g_aux = (aux_diff * (scale * self.spec.aux_coef))?;
            dpre = (dpre + (mm.mm(&g_aux, &w_dec_t)? * &aux_mask)?)?;
            g_w_dec = (g_w_dec + mm.mm(&z_aux.t()?, &g_aux)?)?;
        }
        let g_w_enc = mm.mm(&centred.t()?, &dpre)?;
        let g_b_enc = dpre.sum(0)?;
        let through_encoder = mm.mm(w_enc, &g_b_enc.unsqueeze(1)?)?.squeeze(1)?;
        let g_b_dec = (g[0].sum(0)? - through_encoder)?;
        let g_theta = self.theta_grad(&pre, &dz)?;

        let active = mask.sum_all()?;
        let dead_count = dead.sum_all()?;
        let cut_value = match &cut {
            Some(c) => c.clone(),
            None => Tensor::zeros((), DType::F32, x.device())?,
        };
        let sums = Tensor::stack(
            &[
                sse_full,
                sse_prefixes,
                aux_sse,
                z.sum_all()?,
                active,
                dead_count,
                cut_value,
            ],
            0,
        )?;
        Ok(FamilyStep {
            sums,
            grads: [g_w_enc, g_b_enc, g_w_dec, g_b_dec],
            g_theta,
            cut,
        })
    }

    /// A step's stats from its [`FamilyStep::sums`], read to the host, for a batch of `rows`
    /// rows of `d` dimensions and `m` latents.
    pub fn stats(&self, sums: &[f64], rows: usize, d: usize, m: usize) -> StepStats {
        let batch = BatchSums {
            rows,
            sse: sums[0],
            sse_prefixes: sums[1],
            aux_sse: sums[2],
            l1: sums[3],
            active: sums[4] as u64,
        };
        StepStats {
            dead_frac: Some(sums[5] / m as f64),
            ..loss::stats(&batch, &self.spec.loss_terms(d))
        }
    }

    /// Moves BatchTopK's threshold towards this batch's cut-off (kept when nothing was
    /// kept), on the device: `followed` of family_state.rs.
    pub fn follow_cut(&mut self, cut: &Tensor, rate: f32) -> Result<()> {
        let old = &self.batch_threshold;
        let moved = (old + ((cut - old)? * f64::from(rate))?)?;
        let followed = old.eq(0f32)?.where_cond(cut, &moved)?;
        self.batch_threshold = cut.lt(f32::MAX)?.where_cond(&followed, old)?;
        Ok(())
    }

    /// JumpReLU's ∂θ through the rectangle kernel (None for the other families).
    fn theta_grad(&self, pre: &Tensor, dz: &Tensor) -> Result<Option<Tensor>> {
        let (
            Select::Jump {
                bandwidth,
                l0_weight,
            },
            Some([theta, _, _]),
        ) = (self.spec.select, &self.theta)
        else {
            return Ok(None);
        };
        let eps = bandwidth as f64;
        if eps <= 0.0 {
            // Data of norm zero: the window is empty, as on the CPU.
            return Ok(Some(theta.zeros_like()?));
        }
        let rows = pre.dim(0)? as f64;
        let theta_row = theta.unsqueeze(0)?;
        let window = pre
            .broadcast_sub(&theta_row)?
            .abs()?
            .lt(eps / 2.0)?
            .to_dtype(DType::F32)?;
        let per_entry =
            ((dz.broadcast_mul(&theta_row)? * (-1.0 / eps))? - l0_weight / (eps * rows))?;
        Ok(Some((window * per_entry)?.sum(0)?))
    }
}
