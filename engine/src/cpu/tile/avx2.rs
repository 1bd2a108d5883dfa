//! The AVX2 tile: 6 rows × 16 columns, two ymm sums a row.

use std::arch::x86_64::*;

use super::{finish, Tile, Write};

/// Rows of a tile: A values broadcast per step.
pub(super) const MR: usize = 6;
/// Columns of a tile and of a packed panel: two 8-lane vectors.
pub(super) const NR: usize = 16;
const LANES: usize = 8;

/// C[R × 16] ← C ⊕ A[R × kc] · B[kc × 16] (+ bias), as `w` says, A and B advancing `A_STEP`
/// and `B_STEP` floats a step (constants, so the loop addresses by immediate offsets).
///
/// # Safety
/// The CPU has AVX2 and FMA, and `t`'s pointers address what [`Tile`] says for R rows.
#[target_feature(enable = "avx2,fma")]
unsafe fn tile<const R: usize, const A_STEP: usize, const B_STEP: usize>(t: Tile, w: Write) {
    let mut acc = [[_mm256_setzero_ps(); 2]; R];
    for p in 0..t.kc {
        let b = t.b.add(p * B_STEP);
        _mm_prefetch::<_MM_HINT_T0>(t.next_b.add(p * B_STEP).cast());
        let b0 = _mm256_loadu_ps(b);
        let b1 = _mm256_loadu_ps(b.add(LANES));
        for (r, row) in acc.iter_mut().enumerate() {
            let ar = _mm256_broadcast_ss(&*t.a.add(p * A_STEP + r));
            row[0] = _mm256_fmadd_ps(ar, b0, row[0]);
            row[1] = _mm256_fmadd_ps(ar, b1, row[1]);
        }
    }
    let mut sums = [0f32; MR * NR];
    for (r, row) in acc.iter().enumerate() {
        _mm256_storeu_ps(sums.as_mut_ptr().add(r * NR), row[0]);
        _mm256_storeu_ps(sums.as_mut_ptr().add(r * NR + LANES), row[1]);
    }
    finish::<R, NR>(&sums, &t, w);
}

/// [`tile`] for 1..=MR rows.
///
/// # Safety
/// As [`tile`], with `rows` rows.
pub(super) unsafe fn tile_rows<const A_STEP: usize, const B_STEP: usize>(
    rows: usize,
    t: Tile,
    w: Write,
) {
    match rows {
        6 => tile::<6, A_STEP, B_STEP>(t, w),
        5 => tile::<5, A_STEP, B_STEP>(t, w),
        4 => tile::<4, A_STEP, B_STEP>(t, w),
        3 => tile::<3, A_STEP, B_STEP>(t, w),
        2 => tile::<2, A_STEP, B_STEP>(t, w),
        1 => tile::<1, A_STEP, B_STEP>(t, w),
        _ => {}
    }
}
