//! The AVX-512 tile: 12 rows × 32 columns, two zmm sums a row (24 of the 32 registers).
//!
//! The machine this was written on has no AVX-512, so what surrounds this loop (the packing,
//! the blocking, the edges) is shared with AVX2 and tested there over this very shape
//! (`Kernel::Avx2Wide`); the loop and its 32-wide write are compared with the AVX2 kernel
//! before their first use, for every row count and kind of write (`gemm`), and the tests run
//! it wherever the CPU has AVX-512.

use std::arch::x86_64::*;

use super::{finish, Tile, Write};

/// Rows of a tile: A values broadcast per step.
pub(super) const MR: usize = 12;
/// Columns of a tile and of a packed panel: two 16-lane vectors.
pub(super) const NR: usize = 32;
const LANES: usize = 16;
/// Floats in a cache line: a panel's step spans two, both prefetched.
const LINE: usize = 16;

/// C[R × 32] ← C ⊕ A[R × kc] · B[kc × 32] (+ bias), as `w` says.
///
/// # Safety
/// The CPU has AVX-512F (which implies AVX2 and FMA), and `t`'s pointers address what
/// [`Tile`] says for R rows.
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn tile<const R: usize>(t: Tile, w: Write) {
    let mut acc = [[_mm512_setzero_ps(); 2]; R];
    for p in 0..t.kc {
        let b = t.b.add(p * NR);
        let next = t.next_b.add(p * NR);
        _mm_prefetch::<_MM_HINT_T0>(next.cast());
        _mm_prefetch::<_MM_HINT_T0>(next.add(LINE).cast());
        let b0 = _mm512_loadu_ps(b);
        let b1 = _mm512_loadu_ps(b.add(LANES));
        for (r, row) in acc.iter_mut().enumerate() {
            let ar = _mm512_set1_ps(*t.a.add(p * MR + r));
            row[0] = _mm512_fmadd_ps(ar, b0, row[0]);
            row[1] = _mm512_fmadd_ps(ar, b1, row[1]);
        }
    }
    let mut sums = [0f32; MR * NR];
    for (r, row) in acc.iter().enumerate() {
        _mm512_storeu_ps(sums.as_mut_ptr().add(r * NR), row[0]);
        _mm512_storeu_ps(sums.as_mut_ptr().add(r * NR + LANES), row[1]);
    }
    finish::<R, NR>(&sums, &t, w);
}

/// [`tile`] for 1..=MR rows.
///
/// # Safety
/// As [`tile`], with `rows` rows.
pub(super) unsafe fn tile_rows(rows: usize, t: Tile, w: Write) {
    match rows {
        12 => tile::<12>(t, w),
        11 => tile::<11>(t, w),
        10 => tile::<10>(t, w),
        9 => tile::<9>(t, w),
        8 => tile::<8>(t, w),
        7 => tile::<7>(t, w),
        6 => tile::<6>(t, w),
        5 => tile::<5>(t, w),
        4 => tile::<4>(t, w),
        3 => tile::<3>(t, w),
        2 => tile::<2>(t, w),
        1 => tile::<1>(t, w),
        _ => {}
    }
}
