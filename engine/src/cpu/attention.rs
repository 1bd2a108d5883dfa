//! Multi-head attention over a fused q|k|v buffer, one task per (image, head), reading each
//! head's columns in place: no transposed copies of q, k or v.

use std::arch::x86_64::*;

use rayon::prelude::*;

use super::vmath::exp;
use super::{Avx2, SharedMut};

const LANES: usize = 8;

/// The shape of one attention call.
#[derive(Debug, Clone, Copy)]
pub struct Heads {
    /// Images (or texts) in the batch.
    pub batch: usize,
    /// Tokens per image.
    pub tokens: usize,
    pub heads: usize,
    /// Width of one head; heads · head_dim is the hidden size.
    pub head_dim: usize,
}

/// ctx [batch·tokens, h] ← softmax(q·kᵀ + mask)·v per image and head, from qkv
/// [batch·tokens, 3h] laid out q | k | v with q already scaled by 1/√head_dim. `mask` is
/// [tokens, tokens], added to the scores (−∞ hides a key).
pub fn attend(_: Avx2, s: Heads, qkv: &[f32], mask: Option<&[f32]>, ctx: &mut [f32]) {
    let h = s.heads * s.head_dim;
    assert!(
        qkv.len() >= s.batch * s.tokens * 3 * h && ctx.len() >= s.batch * s.tokens * h,
        "attend: buffers too short"
    );
    let out = SharedMut(ctx.as_mut_ptr());
    (0..s.batch * s.heads).into_par_iter().for_each(|task| {
        let (image, head) = (task / s.heads, task % s.heads);
        // SAFETY: the token proves AVX2 + FMA; this task alone writes this head's columns of
        // this image's rows, which the assert shows lie inside ctx.
        unsafe { one_head(s, qkv, mask, out, image, head) };
    });
}

/// One head of one image. Keys are first copied transposed ([d, n], n padded to whole vectors),
/// so a query's scores, like its output, are sums of rows scaled by one float: eight lanes
/// per FMA, accumulated in registers, with no horizontal sums.
#[target_feature(enable = "avx2,fma")]
unsafe fn one_head(
    s: Heads,
    qkv: &[f32],
    mask: Option<&[f32]>,
    out: SharedMut,
    image: usize,
    head: usize,
) {
    let (n, d) = (s.tokens, s.head_dim);
    let h = s.heads * d;
    let padded = n.div_ceil(LANES) * LANES;
    let row = |t: usize, part: usize| {
        let at = (image * n + t) * 3 * h + part * h + head * d;
        &qkv[at..at + d]
    };
    let mut keys_t = vec![0f32; d * padded];
    for j in 0..n {
        for (c, &v) in row(j, 1).iter().enumerate() {
            keys_t[c * padded + j] = v;
        }
    }
    let mut scores = vec![0f32; padded];
    let mut acc = vec![0f32; d];
    for i in 0..n {
        let q = row(i, 0);
        scores.fill(0.0);
        for start in (0..padded).step_by(BLOCK) {
            let keys = keys_t[start..].as_ptr();
            weighted_sum(d, |c| q[c], |c| keys.add(c * padded), &mut scores[start..]);
        }
        let scores = &mut scores[..n];
        if let Some(m) = mask {
            scores
                .iter_mut()
                .zip(&m[i * n..(i + 1) * n])
                .for_each(|(s, m)| *s += m);
        }
        softmax(scores);
        acc.fill(0.0);
        for start in (0..d).step_by(BLOCK) {
            let values = |j: usize| row(j, 2)[start..].as_ptr();
            weighted_sum(n, |j| scores[j], values, &mut acc[start..]);
        }
        let dst = out.0.add((image * n + i) * h + head * d);
        std::ptr::copy_nonoverlapping(acc.as_ptr(), dst, d);
    }
}

/// Floats summed in registers at once: eight vectors.
const BLOCK: usize = 8 * LANES;

/// out[..w] += Σ_t coef(t) · row(t)[..w] for t < count, with w = min(out's length, BLOCK):
/// whole vectors in registers, a tail of under eight one float at a time.
///
/// # Safety
/// Each row(t) addresses at least w floats.
#[target_feature(enable = "avx2,fma")]
unsafe fn weighted_sum(
    count: usize,
    coef: impl Fn(usize) -> f32,
    row: impl Fn(usize) -> *const f32,
    out: &mut [f32],
) {
    let w = out.len().min(BLOCK);
    let vectors = w / LANES;
    match vectors {
        8 => in_registers::<8>(count, &coef, &row, out),
        7 => in_registers::<7>(count, &coef, &row, out),
        6 => in_registers::<6>(count, &coef, &row, out),
        5 => in_registers::<5>(count, &coef, &row, out),
        4 => in_registers::<4>(count, &coef, &row, out),
        3 => in_registers::<3>(count, &coef, &row, out),
        2 => in_registers::<2>(count, &coef, &row, out),
        1 => in_registers::<1>(count, &coef, &row, out),
        _ => {}
    }
    for (f, o) in out.iter_mut().enumerate().take(w).skip(vectors * LANES) {
        *o += (0..count).map(|t| coef(t) * *row(t).add(f)).sum::<f32>();
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn in_registers<const V: usize>(
    count: usize,
    coef: &impl Fn(usize) -> f32,
    row: &impl Fn(usize) -> *const f32,
    out: &mut [f32],
) {
    let mut acc = [_mm256_setzero_ps(); V];
    for t in 0..count {
        let (c, r) = (_mm256_set1_ps(coef(t)), row(t));
        for (v, a) in acc.iter_mut().enumerate() {
            *a = _mm256_fmadd_ps(c, _mm256_loadu_ps(r.add(v * LANES)), *a);
        }
    }
    for (v, a) in acc.iter().enumerate() {
        let o = out.as_mut_ptr().add(v * LANES);
        _mm256_storeu_ps(o, _mm256_add_ps(*a, _mm256_loadu_ps(o)));
    }
}

/// Scores to probabilities in place; a row whose every key is masked stays all zero.
#[target_feature(enable = "avx2,fma")]
fn softmax(s: &mut [f32]) {
    let max = s.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if max == f32::NEG_INFINITY {
        s.fill(0.0);
        return;
    }
    let mut total = 0.0;
    for chunk in s.chunks_mut(LANES) {
        let mut lanes = [f32::NEG_INFINITY; LANES];
        lanes[..chunk.len()].copy_from_slice(chunk);
        // SAFETY: lanes holds eight floats.
        let e = unsafe { _mm256_loadu_ps(lanes.as_ptr()) };
        let e = exp(_mm256_sub_ps(e, _mm256_set1_ps(max)));
        // SAFETY: lanes holds eight floats.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), e) };
        for (c, &v) in chunk.iter_mut().zip(&lanes) {
            // A hidden key weighs exactly nothing, not exp's floor.
            *c = if *c == f32::NEG_INFINITY { 0.0 } else { v };
            total += *c;
        }
    }
    let inv = 1.0 / total;
    s.iter_mut().for_each(|v| *v *= inv);
}
