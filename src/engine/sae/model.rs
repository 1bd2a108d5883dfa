//! The trained SAE as candle tensors, for inference on any device (CPU, CUDA, Metal):
//!
//! ```text
//!   z = ReLU((x − b_dec) W_enc + b_enc)    x: [n, d] → z: [n, m]
//!   x̂ = z W_dec + b_dec                    z: [n, m] → x̂: [n, d]
//! ```

use candle_core::{Device, Tensor};

use super::params::SaeParams;
use crate::engine::error::Result;

pub struct Sae {
    /// [d, m]
    w_enc: Tensor,
    /// [m]
    b_enc: Tensor,
    /// [m, d]
    w_dec: Tensor,
    /// [d]
    b_dec: Tensor,
}

impl Sae {
    pub fn from_params(p: &SaeParams, device: &Device) -> Result<Self> {
        Ok(Sae {
            w_enc: Tensor::from_slice(&p.w_enc, (p.d, p.m), device)?,
            b_enc: Tensor::from_slice(&p.b_enc, p.m, device)?,
            w_dec: Tensor::from_slice(&p.w_dec, (p.m, p.d), device)?,
            b_dec: Tensor::from_slice(&p.b_dec, p.d, device)?,
        })
    }

    /// x: [n, d] → z: [n, m]
    pub fn encode(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.broadcast_sub(&self.b_dec)?
            .matmul(&self.w_enc)?
            .broadcast_add(&self.b_enc)?
            .relu()?)
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
