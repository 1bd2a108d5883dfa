//! The candle trainer's matrix products at the run's `--precision`: f32, f32 on CUDA's TF32
//! tensor cores, or bf16 copies of both operands. Weights, gradients and Adam's moments stay
//! f32 whatever the precision; only the products change.

use std::sync::Mutex;

use candle_core::{DType, Device, Tensor};

use super::config::Precision;
use crate::error::{Error, Result};

/// The runs of this process training on CUDA with TF32 products and with exact f32 ones.
/// cuBLAS has one TF32 switch for the whole process, so the two never train at once.
static SWITCH_USERS: Mutex<[usize; 2]> = Mutex::new([0, 0]);

/// A run's hold on the TF32 switch, released when its trainer is dropped; the switch goes
/// off again once no TF32 run is left, so later products (CLIP, the lab) are exact.
#[derive(Debug)]
pub struct SwitchHold {
    tf32: bool,
}

impl SwitchHold {
    fn take(tf32: bool) -> Result<Self> {
        let mut users = SWITCH_USERS.lock().unwrap_or_else(|e| e.into_inner());
        if users[usize::from(!tf32)] > 0 {
            let (this, other) = if tf32 {
                ("tf32", "f32")
            } else {
                ("f32", "tf32")
            };
            return Err(Error::invalid(
                "--precision",
                format!("a run with --precision {other} trains in this process, and TF32 is one switch for the whole process: train the {this} run in another process (or with the same --precision)"),
            ));
        }
        users[usize::from(tf32)] += 1;
        candle_core::cuda::set_gemm_reduced_precision_f32(tf32);
        Ok(SwitchHold { tf32 })
    }
}

impl Drop for SwitchHold {
    fn drop(&mut self) {
        let mut users = SWITCH_USERS.lock().unwrap_or_else(|e| e.into_inner());
        let slot = &mut users[usize::from(self.tf32)];
        *slot = slot.saturating_sub(1);
        if self.tf32 && *slot == 0 {
            candle_core::cuda::set_gemm_reduced_precision_f32(false);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Products {
    /// Multiply bf16 copies of the operands (cuBLAS sums them in f32; the product is rounded
    /// to bf16 and widened back).
    bf16: bool,
}

impl Products {
    /// Full f32 products (inference, and the CPU's arithmetic).
    pub const EXACT: Products = Products { bf16: false };

    /// The products of a run at `precision` on `device`, and on CUDA the run's hold on the
    /// process-wide TF32 switch (bf16 products do not use it).
    pub fn for_run(precision: Precision, device: &Device) -> Result<(Self, Option<SwitchHold>)> {
        if precision == Precision::Tf32 && !device.is_cuda() {
            return Err(Error::invalid(
                "--precision",
                "tf32 is CUDA's tensor-core arithmetic: use it with --device cuda, or f32 or bf16 here",
            ));
        }
        let hold = match precision {
            Precision::Bf16 => None,
            _ if !device.is_cuda() => None,
            p => Some(SwitchHold::take(p == Precision::Tf32)?),
        };
        let products = Products {
            bf16: precision == Precision::Bf16,
        };
        Ok((products, hold))
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

#[cfg(test)]
mod tests {
    use super::SwitchHold;

    #[test]
    fn tf32_and_f32_runs_never_share_the_switch() {
        let tf32 = SwitchHold::take(true).unwrap();
        let again = SwitchHold::take(true).unwrap();
        let err = SwitchHold::take(false).unwrap_err().to_string();
        assert!(err.contains("--precision tf32"), "{err}");
        drop(tf32);
        assert!(
            SwitchHold::take(false).is_err(),
            "one tf32 run is still training"
        );
        drop(again);
        let f32 = SwitchHold::take(false).unwrap();
        assert!(SwitchHold::take(true).is_err());
        drop(f32);
    }
}
