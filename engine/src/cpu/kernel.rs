//! The micro-kernel: an MR×NR tile of C summed over a kc-long slice of A's rows and of one
//! packed panel of B, held in twelve AVX2 registers (6 rows × 16 columns, two vectors a row),
//! the shape that keeps both FMA ports busy with one broadcast and two loads per step.

use std::arch::x86_64::*;

use super::vmath::activate;
use crate::clip::config::Activation;

/// Rows of a tile: A values broadcast per step.
pub(super) const MR: usize = 6;
/// Columns of a tile and of a packed panel: two 8-lane vectors.
pub(super) const NR: usize = 16;
const LANES: usize = 8;

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

/// Where one tile's operands lie: `a`, kc·MR packed floats (step p's MR row values together);
/// `b`, kc·16 packed floats; `c`, R rows of 16 floats `ldc` apart; `bias`, 16 floats.
/// `next_b` is the panel slice the following tiles will read: it is fetched from memory while
/// this one computes, as the weights of a small batch come from DRAM, not cache.
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

/// C[R × 16] ← C ⊕ A[R × kc] · B[kc × 16] (+ bias), as `w` says.
///
/// # Safety
/// The CPU has AVX2 and FMA, and `t`'s pointers address what [`Tile`] says for R rows.
#[target_feature(enable = "avx2,fma")]
unsafe fn tile<const R: usize>(t: Tile, w: Write) {
    let Tile {
        kc,
        a,
        b,
        next_b,
        c,
        ldc,
        bias,
    } = t;
    let mut acc = [[_mm256_setzero_ps(); 2]; R];
    for p in 0..kc {
        _mm_prefetch::<_MM_HINT_T0>(next_b.add(p * NR).cast());
        let b0 = _mm256_loadu_ps(b.add(p * NR));
        let b1 = _mm256_loadu_ps(b.add(p * NR + LANES));
        for (r, row) in acc.iter_mut().enumerate() {
            let ar = _mm256_broadcast_ss(&*a.add(p * MR + r));
            row[0] = _mm256_fmadd_ps(ar, b0, row[0]);
            row[1] = _mm256_fmadd_ps(ar, b1, row[1]);
        }
    }
    // The sums leave their registers once, here: an epilogue that indexed `acc` itself would
    // keep it in memory through the k loop above.
    let mut sums = [0f32; MR * NR];
    for (r, row) in acc.iter().enumerate() {
        _mm256_storeu_ps(sums.as_mut_ptr().add(r * NR), row[0]);
        _mm256_storeu_ps(sums.as_mut_ptr().add(r * NR + LANES), row[1]);
    }
    for r in 0..R {
        for half in 0..2 {
            let cp = c.add(r * ldc + half * LANES);
            let mut v = _mm256_loadu_ps(sums.as_ptr().add(r * NR + half * LANES));
            if w.first {
                v = _mm256_add_ps(v, _mm256_loadu_ps(bias.add(half * LANES)));
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

/// [`tile`] for 1..=MR rows.
///
/// # Safety
/// As [`tile`], with `rows` rows.
pub(super) unsafe fn tile_rows(rows: usize, t: Tile, w: Write) {
    match rows {
        6 => tile::<6>(t, w),
        5 => tile::<5>(t, w),
        4 => tile::<4>(t, w),
        3 => tile::<3>(t, w),
        2 => tile::<2>(t, w),
        1 => tile::<1>(t, w),
        _ => {}
    }
}
