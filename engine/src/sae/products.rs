//! The candle trainer's matrix products at the run's `--precision`: f32, f32 on CUDA's TF32
//! tensor cores, or bf16 copies of both operands. Weights, gradients and Adam's moments stay
//! f32 whatever the precision; only the products change.

use candle_core::{DType, Device, Tensor};

use super::config::Precision;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Products {
    /// Multiply bf16 copies of the operands (cuBLAS sums them in f32; the product is rounded
    /// to bf16 and widened back).
    bf16: bool,
}

impl Products {
    /// Full f32 products (inference, and the CPU's arithmetic).
    pub const EXACT: Products = Products { bf16: false };

    /// The products of a run at `precision` on `device`. TF32 is a process-wide cuBLAS
    /// switch, so it is set here for every f32 product that follows, and cleared for f32.
    pub fn for_run(precision: Precision, device: &Device) -> Result<Self> {
        if precision == Precision::Tf32 && !device.is_cuda() {
            return Err(Error::invalid(
                "--precision",
                "tf32 is CUDA's tensor-core arithmetic: use it with --device cuda, or f32 or bf16 here",
            ));
        }
        if device.is_cuda() {
            candle_core::cuda::set_gemm_reduced_precision_f32(precision == Precision::Tf32);
        }
        Ok(Products {
            bf16: precision == Precision::Bf16,
        })
    }

    /// a: [n, k] · b: [k, m] → [n, m], in f32.
    pub fn mm(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        if !self.bf16 {
            return Ok(a.matmul(b)?);
        }
        let product = a.to_dtype(DType::BF16)?.matmul(&b.to_dtype(DType::BF16)?)?;
        Ok(product.to_dtype(DType::F32)?)
    }
}
