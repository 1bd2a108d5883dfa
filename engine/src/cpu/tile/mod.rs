//! The micro-kernels: an mr × nr tile of C summed over a kc-long slice of A's rows and of one
//! packed panel of B, held in vector registers, then written once through [`finish`] (bias,
//! activation or residual). Two shapes, chosen at run time: AVX2's 6 × 16 (twelve ymm sums)
//! and AVX-512's 12 × 32 (twenty-four zmm sums), each the shape that keeps both FMA ports busy
//! with one broadcast per row and two panel loads per step.

use std::arch::x86_64::*;

use super::vmath::activate;
use crate::clip::config::Activation;

pub(super) mod avx2;
pub(super) mod avx512;

/// f32 lanes in an AVX2 register: the epilogue's step.
const LANES: usize = 8;
/// The largest tile of any kernel, for the scratch of a tile at the right edge.
pub(super) const MAX_TILE: usize = avx512::MR * avx512::NR;

/// Which micro-kernel a packing is for. Only [`super::gemm`]'s detection makes `Avx512`, after
/// the CPU reported the feature, so running one is sound wherever it exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kernel {
    Avx2,
    Avx512,
    /// AVX2 run over AVX-512's shape, as sub-tiles: the tests check the packing and the loops
    /// of the wide shape on a CPU without AVX-512.
    #[cfg(test)]
    Avx2Wide,
}

/// The cache blocking of one kernel: tiles of `mr` rows × `nr` columns; a `kc`-deep slice of one
/// panel (kc·nr floats) stays in L1 while an `mc`-row block of A (mc·kc floats) stays in L2.
#[derive(Debug, Clone, Copy)]
pub(super) struct Shape {
    pub mr: usize,
    pub nr: usize,
    pub kc: usize,
    pub mc: usize,
}

/// 32 KiB panel slices, 192 KiB blocks of A (tuned on Zen 3).
const AVX2: Shape = Shape {
    mr: avx2::MR,
    nr: avx2::NR,
    kc: 512,
    mc: 96,
};
/// 16 KiB panel slices, half of the smallest L1 among AVX-512 CPUs (Skylake-SP, Zen 4), and
/// 96 KiB blocks of A. Not yet tuned on such a CPU.
const AVX512: Shape = Shape {
    mr: avx512::MR,
    nr: avx512::NR,
    kc: 128,
    mc: 192,
};

// A block holds whole tiles (`pack_block` fills it tile by tile), and every tile fits the
// edge's scratch.
const _: () = assert!(AVX2.mc.is_multiple_of(AVX2.mr) && AVX512.mc.is_multiple_of(AVX512.mr));
const _: () = assert!(AVX2.mr * AVX2.nr <= MAX_TILE);

impl Kernel {
    pub(super) fn shape(self) -> Shape {
        match self {
            Kernel::Avx2 => AVX2,
            Kernel::Avx512 => AVX512,
            #[cfg(test)]
            Kernel::Avx2Wide => AVX512,
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Kernel::Avx2 => "avx2",
            Kernel::Avx512 => "avx512",
            #[cfg(test)]
            Kernel::Avx2Wide => "avx2-wide",
        }
    }

    /// C[rows × nr] ⊕= A · B for one tile of this kernel's shape, 1 ≤ rows ≤ mr.
    ///
    /// # Safety
    /// The CPU has this kernel's features (AVX2 + FMA for all; AVX-512F for `Avx512`), and `t`
    /// addresses what [`Tile`] says for `rows` rows of this shape.
    pub(super) unsafe fn run(self, rows: usize, t: Tile, w: Write) {
        match self {
            Kernel::Avx2 => avx2::tile_rows::<{ avx2::MR }, { avx2::NR }>(rows, t, w),
            Kernel::Avx512 => avx512::tile_rows(rows, t, w),
            #[cfg(test)]
            Kernel::Avx2Wide => {
                for first in (0..rows).step_by(avx2::MR) {
                    for half in (0..AVX512.nr).step_by(avx2::NR) {
                        let sub = Tile {
                            a: t.a.add(first),
                            b: t.b.add(half),
                            next_b: t.next_b.add(half),
                            c: t.c.add(first * t.ldc + half),
                            bias: t.bias.add(half),
                            ..t
                        };
                        let rows = avx2::MR.min(rows - first);
                        avx2::tile_rows::<{ avx512::MR }, { avx512::NR }>(rows, sub, w);
                    }
                }
            }
        }
    }
}

/// What a tile's sum is combined with as it is written.
#[derive(Debug, Clone, Copy)]
pub(super) struct Write {
    /// The first slice of k: C starts from the bias (and, when `add`, from C as it was).
    pub first: bool,
    /// The last slice of k: the activation, if any, applies now.
    pub last: bool,
    /// C already holds a residual the product is added to.
    pub add: bool,
    pub act: Option<Activation>,
}

/// Where one tile's operands lie: `a`, kc steps of the kernel's mr packed floats (step p's row
/// values together); `b`, kc steps of its nr packed floats; `c`, rows of the tile's width `ldc`
/// apart; `bias`, one float a column. `next_b` is the panel slice the following tiles will read:
/// it is fetched from memory while this one computes, as the weights of a small batch come from
/// DRAM, not cache.
#[derive(Debug, Clone, Copy)]
pub(super) struct Tile {
    pub kc: usize,
    pub a: *const f32,
    pub b: *const f32,
    pub next_b: *const f32,
    pub c: *mut f32,
    pub ldc: usize,
    pub bias: *const f32,
}

/// Writes R rows of COLS summed columns (`sums`, rows COLS apart) into the tile's C, as `w`
/// says. The sums leave their registers once, before this: an epilogue that indexed the
/// accumulators themselves would keep them in memory through the k loop.
///
/// # Safety
/// AVX2 + FMA; COLS is a multiple of 8 and `t` addresses R rows of COLS columns.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn finish<const R: usize, const COLS: usize>(sums: &[f32], t: &Tile, w: Write) {
    for r in 0..R {
        for lane in (0..COLS).step_by(LANES) {
            let cp = t.c.add(r * t.ldc + lane);
            let mut v = _mm256_loadu_ps(sums.as_ptr().add(r * COLS + lane));
            if w.first {
                v = _mm256_add_ps(v, _mm256_loadu_ps(t.bias.add(lane)));
            }
            if !w.first || w.add {
                v = _mm256_add_ps(v, _mm256_loadu_ps(cp));
            }
            if w.last {
                if let Some(act) = w.act {
                    v = activate(act, v);
                }
            }
            _mm256_storeu_ps(cp, v);
        }
    }
}
