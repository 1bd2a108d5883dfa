//! The CPU's own kernels for the transformer towers (CLIP's two, BLIP's image tower): a matrix
//! product over weights packed once at load, fused with its bias, activation or residual, and
//! the row operations around it (layer norm, attention). candle's f32 product reaches about
//! half of this core's peak at a ViT's shapes; these run near it.
//!
//! They are x86-64 AVX2 + FMA code, chosen at run time: [`Avx2::detect`] hands out the token
//! every entry point takes, so no kernel runs on a CPU without the instructions. Where the CPU
//! also has AVX-512, the matrix product runs on a tile twice as wide (`tile::avx512`);
//! `SAELAB_CPU_KERNELS=avx2` keeps it to AVX2. Elsewhere, or when `SAELAB_CPU_KERNELS=candle`
//! is set, the towers run in candle as before.

pub mod attention;
pub mod gemm;
pub mod rows;
mod tile;
mod vmath;

/// The variable that turns these kernels off (`candle`) or keeps them to AVX2 (`avx2`), to
/// compare or to work around a fault.
pub const KERNELS_VAR: &str = "SAELAB_CPU_KERNELS";

/// Proof that this CPU has AVX2 and FMA: only [`Avx2::detect`] makes one.
#[derive(Debug, Clone, Copy)]
pub struct Avx2(());

impl Avx2 {
    /// The token when the CPU runs the kernels and the user has not turned them off.
    pub fn detect() -> Option<Avx2> {
        let off = std::env::var(KERNELS_VAR).is_ok_and(|v| v.eq_ignore_ascii_case("candle"));
        let simd = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
        (simd && !off).then_some(Avx2(()))
    }
}

/// A raw pointer handed to the tasks of one parallel loop, each of which writes a part of the
/// buffer no other task touches.
#[derive(Clone, Copy)]
pub(crate) struct SharedMut(pub(crate) *mut f32);
// SAFETY: every user splits the buffer into disjoint parts, one per task, and joins the tasks
// before the buffer is read again or freed.
unsafe impl Send for SharedMut {}
unsafe impl Sync for SharedMut {}
