//! The SAE's forward pass, defined once in candle tensor ops:
//!
//! ```text
//!   pre = (x − b_dec) W_enc + b_enc        x: [n, d] → pre: [n, m]
//!   z   = σ(pre)                           σ: ReLU, TopK or JumpReLU (`arch.rs`)
//!   x̂   = z W_dec + b_dec                  z: [n, m] → x̂: [n, d]
//! ```
//! The candle trainers build their steps from [`pre_activation`] and [`decode`]; the CPU
//! kernels (`step.rs`, `family_step.rs`), which inference on the CPU uses, are checked against
//! [`Sae::forward`] in the tests; the loss is `loss.rs`'s.

use candle_core::{DType, Device, Tensor, D};

use super::arch::Activation;
use super::params::SaeParams;
use super::products::Products;
use crate::error::Result;

pub struct Sae {
    /// [d, m]
    w_enc: Tensor,
    /// [m]
    b_enc: Tensor,
    /// [m, d]
    w_dec: Tensor,
    /// [d]
    b_dec: Tensor,
    act: DeviceActivation,
}

enum DeviceActivation {
    Relu,
    TopK(usize),
    /// θ: [m]
    JumpRelu(Tensor),
}

impl Sae {
    pub fn from_params(p: &SaeParams, device: &Device) -> Result<Self> {
        Ok(Sae {
            w_enc: Tensor::from_slice(&p.w_enc, (p.d, p.m), device)?,
            b_enc: Tensor::from_slice(&p.b_enc, p.m, device)?,
            w_dec: Tensor::from_slice(&p.w_dec, (p.m, p.d), device)?,
            b_dec: Tensor::from_slice(&p.b_dec, p.d, device)?,
            act: match &p.activation {
                Activation::Relu => DeviceActivation::Relu,
                Activation::TopK { k } => DeviceActivation::TopK(*k),
                Activation::JumpRelu { threshold } => {
                    DeviceActivation::JumpRelu(Tensor::from_slice(threshold, p.m, device)?)
                }
            },
        })
    }

    /// x: [n, d] → z: [n, m]
    pub fn encode(&self, x: &Tensor) -> Result<Tensor> {
        let (_, pre) = pre_activation(&Products::EXACT, x, &self.w_enc, &self.b_enc, &self.b_dec)?;
        let pos = pre.relu()?;
        let keep = match &self.act {
            DeviceActivation::Relu => return Ok(pos),
            DeviceActivation::TopK(k) => pos.broadcast_gt(&top_k_cut(&pos, *k)?)?,
            DeviceActivation::JumpRelu(theta) => pre.broadcast_gt(&theta.unsqueeze(0)?)?,
        };
        Ok((pos * keep.to_dtype(DType::F32)?)?)
    }

    /// z: [n, m] → x̂: [n, d]
    pub fn decode(&self, z: &Tensor) -> Result<Tensor> {
        decode(&Products::EXACT, z, &self.w_dec, &self.b_dec)
    }

    /// x: [n, d] → (z, x̂)
    pub fn forward(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let z = self.encode(x)?;
        let recon = self.decode(&z)?;
        Ok((z, recon))
    }
}

/// The encoder before its activation: x: [n, d] → (x − b_dec: [n, d], pre: [n, m]).
/// w_enc: [d, m], b_enc: [m], b_dec: [d]
pub fn pre_activation(
    mm: &Products,
    x: &Tensor,
    w_enc: &Tensor,
    b_enc: &Tensor,
    b_dec: &Tensor,
) -> Result<(Tensor, Tensor)> {
    let centred = x.broadcast_sub(b_dec)?;
    let pre = mm.mm(&centred, w_enc)?.broadcast_add(b_enc)?;
    Ok((centred, pre))
}

/// The decoder: z: [n, m] → x̂: [n, d]. w_dec: [m, d], b_dec: [d]
pub fn decode(mm: &Products, z: &Tensor, w_dec: &Tensor, b_dec: &Tensor) -> Result<Tensor> {
    Ok(mm.mm(z, w_dec)?.broadcast_add(b_dec)?)
}

/// Halvings of the bisection interval [0, max]: the cut separates the k-th from the (k+1)-th
/// value unless they lie within max·2⁻⁴⁸ of each other. Exact ties are all kept, where the CPU
/// keeps the lower latent.
const BISECTION_STEPS: usize = 48;

/// Per row of v [n, w] (values ≥ 0), a cut-off c [n, 1] such that the row's values above c are
/// its k largest positive ones (all positive ones when fewer).
pub fn top_k_cut(v: &Tensor, k: usize) -> Result<Tensor> {
    let mut lo = v.zeros_like()?.max_keepdim(D::Minus1)?;
    let mut hi = v.max_keepdim(D::Minus1)?;
    for _ in 0..BISECTION_STEPS {
        let mid = ((&lo + &hi)? * 0.5)?;
        let count = v
            .broadcast_gt(&mid)?
            .to_dtype(DType::F32)?
            .sum_keepdim(D::Minus1)?;
        let enough = count.ge(k as f64)?;
        lo = enough.where_cond(&mid, &lo)?;
        hi = enough.where_cond(&hi, &mid)?;
    }
    Ok(lo)
}
