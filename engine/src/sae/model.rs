//! The trained SAE as candle tensors, for inference on any device (CPU, CUDA, Metal):
//!
//! ```text
//!   z = σ((x − b_dec) W_enc + b_enc)       x: [n, d] → z: [n, m]
//!   x̂ = z W_dec + b_dec                    z: [n, m] → x̂: [n, d]
//! ```
//! σ is the SAE's activation: ReLU, TopK or JumpReLU (`arch.rs`).

use candle_core::{DType, Device, Tensor};

use super::arch::Activation;
use super::candle_family::top_k_cut;
use super::params::SaeParams;
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
        let pre = x
            .broadcast_sub(&self.b_dec)?
            .matmul(&self.w_enc)?
            .broadcast_add(&self.b_enc)?;
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
        Ok(z.matmul(&self.w_dec)?.broadcast_add(&self.b_dec)?)
    }

    /// x: [n, d] → (z, x̂)
    pub fn forward(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let z = self.encode(x)?;
        let recon = self.decode(&z)?;
        Ok((z, recon))
    }
}
