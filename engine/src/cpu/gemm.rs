//! out[m × n] = A[m × k] · Wᵀ + bias, with W ([n, k], as a linear layer stores it) packed once
//! into 16-column panels, the bias, an activation or a residual fused into the tile write, and
//! the panels shared out over the cores.
//!
//! The loops are BLIS's: a kc-deep slice of one panel (16 KiB) stays in L1 while every row
//! tile of an mc-row block of A passes over it; that block is packed first (in L2), each
//! tile's six rows interleaved, so the kernel reads A as one stream.

use rayon::prelude::*;

use super::kernel::{tile_rows, Tile, Write, MR, NR};
use super::{Avx2, SharedMut};
use crate::clip::config::Activation;

/// Depth of a k slice: one panel slice is KC·NR floats, 16 KiB, half of L1.
const KC: usize = 512;
/// Rows of A per block: MC·KC floats, 96 KiB, well inside L2.
const MC: usize = 96;
/// Panel floats are aligned to a cache line, so each 16-float row is one line.
const ALIGN_FLOATS: usize = 16;
/// Below this many multiply-adds per task, a split costs more than it saves.
const MIN_WORK_PER_TASK: usize = 1 << 20;

/// W ([n, k], row-major) packed as ⌈n/16⌉ panels of k rows × 16 columns, zero-padded, with the
/// bias padded alike.
pub struct Packed {
    n: usize,
    k: usize,
    buf: Vec<f32>,
    offset: usize,
    bias: Vec<f32>,
}

impl Packed {
    /// Packs `w`, n rows of k, and its bias (n values, zero when None).
    pub fn new(w: &[f32], n: usize, k: usize, bias: Option<&[f32]>) -> Packed {
        let panels = n.div_ceil(NR);
        let mut buf = vec![0f32; panels * k * NR + ALIGN_FLOATS];

        let offset = buf.as_ptr().align_offset(ALIGN_FLOATS * size_of::<f32>());
        let data = &mut buf[offset..offset + panels * k * NR];
        for (j, row) in w.chunks_exact(k).take(n).enumerate() {
            let (panel, col) = (j / NR, j % NR);
            for (p, &v) in row.iter().enumerate() {
                data[(panel * k + p) * NR + col] = v;
            }
        }
        let mut padded = vec![0f32; panels * NR];
        if let Some(b) = bias {
            padded[..n].copy_from_slice(&b[..n]);
        }
        Packed {
            n,
            k,
            buf,
            offset,
            bias: padded,
        }
    }

    /// Output columns.
    pub fn n(&self) -> usize {
        self.n
    }

    fn panels(&self) -> usize {
        self.n.div_ceil(NR)
    }

    fn data(&self) -> &[f32] {
        &self.buf[self.offset..]
    }
}

/// How the product meets the output buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Into {
    /// out = act(A·Wᵀ + bias)
    Set(Option<Activation>),
    /// out += A·Wᵀ + bias: a residual added in place.
    Add,
}

/// out (m rows of n) from A (m rows of k) and W, as `into` says.
///
/// # Panics
/// When a or out is shorter than m rows: a caller's bug, not an input's.
pub fn matmul(_: Avx2, a: &[f32], m: usize, w: &Packed, out: &mut [f32], into: Into) {
    assert!(
        a.len() >= m * w.k && out.len() >= m * w.n,
        "matmul: buffers too short"
    );
    let panels = w.panels();
    let work = m * w.k * w.n;
    let tasks = rayon::current_num_threads()
        .min(panels)
        .min(work / MIN_WORK_PER_TASK)
        .max(1);
    let per = panels.div_ceil(tasks);
    let out = SharedMut(out.as_mut_ptr());
    let run = |t: usize| {
        let first = t * per;
        // SAFETY: the token proves AVX2 + FMA; each task writes only its panels' columns of
        // out, which the assert above shows hold m rows of n.
        unsafe { panels_range(a, m, w, out, first..(first + per).min(panels), into) };
    };
    if tasks == 1 {
        run(0);
    } else {
        (0..tasks).into_par_iter().for_each(run);
    }
}

/// The columns of `range`'s panels, for every row.
unsafe fn panels_range(
    a: &[f32],
    m: usize,
    w: &Packed,
    out: SharedMut,
    range: std::ops::Range<usize>,
    into: Into,
) {
    let (n, k) = (w.n, w.k);
    let slices = k.div_ceil(KC).max(1);
    let mut block = vec![0f32; MC * KC];
    // Every k slice of one row block before the next block, so C's block is summed while it
    // is still in cache.
    for ic in (0..m).step_by(MC) {
        let rows_in_block = MC.min(m - ic);
        for s in 0..slices {
            let pc = s * KC;
            let kc = KC.min(k - pc);
            let write = Write {
                first: s == 0,
                last: s + 1 == slices,
                add: into == Into::Add,
                act: match into {
                    Into::Set(act) => act,
                    Into::Add => None,
                },
            };
            pack_block(&a[ic * k..], k, rows_in_block, pc, kc, &mut block);
            for panel in range.clone() {
                let cols = NR.min(n - panel * NR);
                let b = w.data().as_ptr().add((panel * k + pc) * NR);
                let next = if panel + 1 < range.end {
                    panel + 1
                } else {
                    panel
                };
                let next_b = w.data().as_ptr().add((next * k + pc) * NR);
                let bias = w.bias.as_ptr().add(panel * NR);
                for ir in (ic..ic + rows_in_block).step_by(MR) {
                    let rows = MR.min(ic + rows_in_block - ir);
                    let t = Tile {
                        kc,
                        a: block.as_ptr().add((ir - ic) * kc),
                        b,
                        next_b,
                        c: out.0.add(ir * n + panel * NR),
                        ldc: n,
                        bias,
                    };
                    if cols == NR {
                        tile_rows(rows, t, write);
                    } else {
                        narrow_tile(rows, cols, t, write);
                    }
                }
            }
        }
    }
}

/// Rows [0, rows) × columns [pc, pc + kc) of A (rows of k) into `block`, tile by tile: step
/// p of tile t holds its MR rows' values at (t·kc + p)·MR, a short last tile zero-padded.
fn pack_block(a: &[f32], k: usize, rows: usize, pc: usize, kc: usize, block: &mut [f32]) {
    for (t, dst) in block
        .chunks_mut(kc * MR)
        .take(rows.div_ceil(MR))
        .enumerate()
    {
        let live = MR.min(rows - t * MR);
        let src: [&[f32]; MR] = std::array::from_fn(|r| {
            let i = t * MR + r.min(live - 1);
            &a[i * k + pc..i * k + pc + kc]
        });
        for (p, step) in dst.chunks_exact_mut(MR).enumerate() {
            for (r, v) in step.iter_mut().enumerate() {
                *v = if r < live { src[r][p] } else { 0.0 };
            }
        }
    }
}

/// A tile at the right edge, fewer than 16 columns wide: summed in a 16-wide scratch tile
/// and its columns copied back.
unsafe fn narrow_tile(rows: usize, cols: usize, t: Tile, write: Write) {
    let mut scratch = [0f32; MR * NR];
    for r in 0..rows {
        std::ptr::copy_nonoverlapping(t.c.add(r * t.ldc), scratch.as_mut_ptr().add(r * NR), cols);
    }
    let inner = Tile {
        c: scratch.as_mut_ptr(),
        ldc: NR,
        ..t
    };
    tile_rows(rows, inner, write);
    for r in 0..rows {
        std::ptr::copy_nonoverlapping(scratch.as_ptr().add(r * NR), t.c.add(r * t.ldc), cols);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(a: &[f32], m: usize, w: &[f32], n: usize, k: usize, bias: &[f32]) -> Vec<f32> {
        let mut out = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let dot: f64 = (0..k)
                    .map(|p| f64::from(a[i * k + p]) * f64::from(w[j * k + p]))
                    .sum();
                out[i * n + j] = dot as f32 + bias[j];
            }
        }
        out
    }

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len)
            .map(|i| {
                ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8) as f32
                    / (1u32 << 24) as f32
                    - 0.5
            })
            .collect()
    }

    #[test]
    fn products_equal_the_reference_at_every_edge() {
        let Some(simd) = Avx2::detect() else { return };
        // Rows not a multiple of 6, columns not of 16, depths below, at and past one k slice.
        for &(m, n, k) in &[
            (1, 1, 1),
            (7, 17, 3),
            (50, 48, 256),
            (13, 37, 600),
            (100, 33, 257),
        ] {
            let (a, w, bias) = (values(m * k, 1), values(n * k, 2), values(n, 3));
            let want = reference(&a, m, &w, n, k, &bias);
            let packed = Packed::new(&w, n, k, Some(&bias));
            let mut out = vec![f32::NAN; m * n];
            matmul(simd, &a, m, &packed, &mut out, Into::Set(None));
            for (g, e) in out.iter().zip(&want) {
                assert!((g - e).abs() < 1e-4, "{m}×{n}×{k}: {g} vs {e}");
            }
            let residual = values(m * n, 4);
            let mut out = residual.clone();
            matmul(simd, &a, m, &packed, &mut out, Into::Add);
            for ((g, e), r) in out.iter().zip(&want).zip(&residual) {
                assert!(
                    (g - (e + r)).abs() < 1e-4,
                    "{m}×{n}×{k} add: {g} vs {}",
                    e + r
                );
            }
            let mut out = vec![0f32; m * n];
            matmul(
                simd,
                &a,
                m,
                &packed,
                &mut out,
                Into::Set(Some(Activation::QuickGelu)),
            );
            for (g, e) in out.iter().zip(&want) {
                let q = e / (1.0 + (-1.702 * e).exp());
                assert!((g - q).abs() < 1e-4, "{m}×{n}×{k} quick_gelu: {g} vs {q}");
            }
        }
    }
}
