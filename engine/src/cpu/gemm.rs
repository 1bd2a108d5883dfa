//! out[m × n] = A[m × k] · Wᵀ + bias, with W ([n, k], as a linear layer stores it) packed once
//! into panels of the kernel's width, the bias, an activation or a residual fused into the tile
//! write, and the panels shared out over the cores.
//!
//! The loops are BLIS's: a kc-deep slice of one panel stays in L1 while every row tile of an
//! mc-row block of A passes over it; that block is packed first (in L2), each tile's rows
//! interleaved, so the kernel reads A as one stream.

use std::sync::OnceLock;

use rayon::prelude::*;

use super::tile::{Kernel, Tile, Write, MAX_TILE};
use super::{Avx2, SharedMut, KERNELS_VAR};
use crate::clip::config::Activation;

/// Panel floats are aligned to a cache line, so each step of a panel starts one.
const ALIGN_FLOATS: usize = 16;
/// Below this many multiply-adds per task, a split costs more than it saves.
const MIN_WORK_PER_TASK: usize = 1 << 20;
/// The value of [`KERNELS_VAR`] that keeps to AVX2 on a CPU with AVX-512.
const AVX2_ONLY: &str = "avx2";

/// The fastest kernel this CPU runs: AVX-512 where the CPU has it, its kernel agrees with
/// AVX2's on a test product, and the user has not asked for AVX2 alone; AVX2 otherwise.
fn best_kernel(simd: Avx2) -> Kernel {
    static BEST: OnceLock<Kernel> = OnceLock::new();
    *BEST.get_or_init(|| {
        let avx2_only = std::env::var(KERNELS_VAR).is_ok_and(|v| v.eq_ignore_ascii_case(AVX2_ONLY));
        if avx2_only || !is_x86_feature_detected!("avx512f") {
            return Kernel::Avx2;
        }
        if agrees_with_avx2(simd, Kernel::Avx512) {
            Kernel::Avx512
        } else {
            // Wrong numbers are worse than slow ones; say so once, as nothing else would show it.
            eprintln!(
                "saelab: the AVX-512 matrix kernel disagrees with the AVX2 one on this CPU; \
                 using AVX2 (please report this CPU's model)"
            );
            Kernel::Avx2
        }
    })
}

/// Whether `kernel` computes what AVX2 does: products with a ragged edge on every side, for
/// every row count a tile can have, with each kind of write. They are far below
/// `MIN_WORK_PER_TASK`, so this runs on the calling thread alone.
fn agrees_with_avx2(simd: Avx2, kernel: Kernel) -> bool {
    let (n, k) = (45, 300);
    let value = |i: usize| ((i * 37 % 101) as f32 - 50.0) / 64.0;
    let w: Vec<f32> = (0..n * k).map(|i| value(i + 7)).collect();
    let bias: Vec<f32> = (0..n).map(|i| value(i + 3)).collect();
    let (want, got) = (
        Packed::with_kernel(Kernel::Avx2, &w, n, k, Some(&bias)),
        Packed::with_kernel(kernel, &w, n, k, Some(&bias)),
    );
    let rows = (1..=kernel.shape().mr).chain([2 * kernel.shape().mr + 5]);
    let writes = [
        Into::Set(None),
        Into::Add,
        Into::Set(Some(Activation::Gelu)),
    ];
    rows.flat_map(|m| writes.map(|into| (m, into)))
        .all(|(m, into)| {
            let a: Vec<f32> = (0..m * k).map(value).collect();
            let product = |packed: &Packed| {
                let mut out: Vec<f32> = (0..m * n).map(|i| value(i + 11)).collect();
                matmul(simd, &a, m, packed, &mut out, into);
                out
            };
            let (e, g) = (product(&want), product(&got));
            e.iter()
                .zip(&g)
                .all(|(e, g)| (e - g).abs() <= 1e-4 * e.abs().max(1.0))
        })
}

/// The kernel the products run on here, by name ("avx512" or "avx2"), for benchmarks and
/// reports.
pub fn kernel_name(simd: Avx2) -> &'static str {
    best_kernel(simd).name()
}

/// W ([n, k], row-major) packed for one kernel as ⌈n/nr⌉ panels of k rows × nr columns,
/// zero-padded, with the bias padded alike.
pub struct Packed {
    kernel: Kernel,
    n: usize,
    k: usize,
    buf: Vec<f32>,
    offset: usize,
    bias: Vec<f32>,
}

impl Packed {
    /// Packs `w`, n rows of k, and its bias (n values, zero when None), for this CPU's
    /// fastest kernel.
    pub fn new(simd: Avx2, w: &[f32], n: usize, k: usize, bias: Option<&[f32]>) -> Packed {
        Packed::with_kernel(best_kernel(simd), w, n, k, bias)
    }

    /// # Panics
    /// When asked for AVX-512 on a CPU without it: running that packing would be undefined.
    fn with_kernel(kernel: Kernel, w: &[f32], n: usize, k: usize, bias: Option<&[f32]>) -> Packed {
        assert!(
            kernel != Kernel::Avx512 || is_x86_feature_detected!("avx512f"),
            "an AVX-512 packing on a CPU without AVX-512"
        );
        let nr = kernel.shape().nr;
        let panels = n.div_ceil(nr);
        let mut buf = vec![0f32; panels * k * nr + ALIGN_FLOATS];

        let offset = buf.as_ptr().align_offset(ALIGN_FLOATS * size_of::<f32>());
        let data = &mut buf[offset..offset + panels * k * nr];
        for (j, row) in w.chunks_exact(k).take(n).enumerate() {
            let (panel, col) = (j / nr, j % nr);
            for (p, &v) in row.iter().enumerate() {
                data[(panel * k + p) * nr + col] = v;
            }
        }
        let mut padded = vec![0f32; panels * nr];
        if let Some(b) = bias {
            padded[..n].copy_from_slice(&b[..n]);
        }
        Packed {
            kernel,
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
        self.n.div_ceil(self.kernel.shape().nr)
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
    if m == 0 || w.n == 0 {
        return;
    }
    let panels = w.panels();
    let shape = w.kernel.shape();
    let work = m * w.k * w.n;
    let threads = rayon::current_num_threads()
        .min(work / MIN_WORK_PER_TASK)
        .max(1);
    // Rows are shared out first, a block of A or more to each task, so each packs only its
    // own rows; the panels are split as well where there are more threads than row blocks
    // (each of those tasks then packs the same rows: the cost of a small batch).
    let rows_per = m
        .div_ceil(threads.min(m / shape.mc).max(1))
        .next_multiple_of(shape.mr);
    let row_groups = m.div_ceil(rows_per).max(1);
    let panels_per = panels.div_ceil(threads.div_ceil(row_groups).min(panels).max(1));
    // Counted again from the rounded sizes, so that no task is left without work.
    let panel_groups = panels.div_ceil(panels_per).max(1);
    let out = SharedMut(out.as_mut_ptr());
    let run = |t: usize| {
        let (r, p) = (t / panel_groups * rows_per, t % panel_groups * panels_per);
        let rows = r.min(m)..(r + rows_per).min(m);
        // SAFETY: the token proves AVX2 + FMA, and a packing is only made for AVX-512 where
        // the CPU has it; each task writes only its rows of its panels' columns of out, which
        // the assert above shows hold m rows of n.
        unsafe { panels_range(a, rows, w, out, p..(p + panels_per).min(panels), into) };
    };
    let tasks = row_groups * panel_groups;
    if tasks == 1 {
        run(0);
    } else {
        (0..tasks).into_par_iter().for_each(run);
    }
}

/// The columns of `range`'s panels, for `rows`.
///
/// # Safety
/// The CPU runs `w`'s kernel; `a` holds the rows, `out` holds m rows of n, and no other task
/// writes these rows of these panels' columns.
unsafe fn panels_range(
    a: &[f32],
    rows: std::ops::Range<usize>,
    w: &Packed,
    out: SharedMut,
    range: std::ops::Range<usize>,
    into: Into,
) {
    let (n, k, kernel) = (w.n, w.k, w.kernel);
    let shape = kernel.shape();
    let (mr, nr) = (shape.mr, shape.nr);
    let slices = k.div_ceil(shape.kc).max(1);
    let mut block = vec![0f32; shape.mc * shape.kc];
    // Every k slice of one row block before the next block, so C's block is summed while it
    // is still in cache.
    for ic in rows.clone().step_by(shape.mc) {
        let rows_in_block = shape.mc.min(rows.end - ic);
        for s in 0..slices {
            let pc = s * shape.kc;
            let kc = shape.kc.min(k - pc);
            let write = Write {
                first: s == 0,
                last: s + 1 == slices,
                add: into == Into::Add,
                act: match into {
                    Into::Set(act) => act,
                    Into::Add => None,
                },
            };
            pack_block(&a[ic * k..], k, rows_in_block, pc, kc, mr, &mut block);
            for panel in range.clone() {
                let cols = nr.min(n - panel * nr);
                let b = w.data().as_ptr().add((panel * k + pc) * nr);
                let next = if panel + 1 < range.end {
                    panel + 1
                } else {
                    panel
                };
                let next_b = w.data().as_ptr().add((next * k + pc) * nr);
                let bias = w.bias.as_ptr().add(panel * nr);
                for ir in (ic..ic + rows_in_block).step_by(mr) {
                    let rows = mr.min(ic + rows_in_block - ir);
                    let t = Tile {
                        kc,
                        a: block.as_ptr().add((ir - ic) * kc),
                        b,
                        next_b,
                        c: out.0.add(ir * n + panel * nr),
                        ldc: n,
                        bias,
                    };
                    if cols == nr {
                        kernel.run(rows, t, write);
                    } else {
                        narrow_tile(kernel, rows, cols, t, write);
                    }
                }
            }
        }
    }
}

/// Rows [0, rows) × columns [pc, pc + kc) of A (rows of k) into `block`, tile by tile: step
/// p of tile t holds its mr rows' values at (t·kc + p)·mr, a short last tile zero-padded.
fn pack_block(
    a: &[f32],
    k: usize,
    rows: usize,
    pc: usize,
    kc: usize,
    mr: usize,
    block: &mut [f32],
) {
    for (t, dst) in block
        .chunks_mut(kc * mr)
        .take(rows.div_ceil(mr))
        .enumerate()
    {
        let live = mr.min(rows - t * mr);
        for r in 0..mr {
            let column = dst.iter_mut().skip(r).step_by(mr);
            if r < live {
                let i = (t * mr + r) * k + pc;
                column.zip(&a[i..i + kc]).for_each(|(v, &x)| *v = x);
            } else {
                column.for_each(|v| *v = 0.0);
            }
        }
    }
}

/// A tile at the right edge, narrower than the kernel: summed in a full-width scratch tile
/// and its columns copied back.
unsafe fn narrow_tile(kernel: Kernel, rows: usize, cols: usize, t: Tile, write: Write) {
    let nr = kernel.shape().nr;
    let mut scratch = [0f32; MAX_TILE];
    for r in 0..rows {
        std::ptr::copy_nonoverlapping(t.c.add(r * t.ldc), scratch.as_mut_ptr().add(r * nr), cols);
    }
    let inner = Tile {
        c: scratch.as_mut_ptr(),
        ldc: nr,
        ..t
    };
    kernel.run(rows, inner, write);
    for r in 0..rows {
        std::ptr::copy_nonoverlapping(scratch.as_ptr().add(r * nr), t.c.add(r * t.ldc), cols);
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

    /// Every kernel this CPU runs, and AVX2 over AVX-512's shape.
    fn kernels() -> Vec<Kernel> {
        let mut all = vec![Kernel::Avx2, Kernel::Avx2Wide];
        if is_x86_feature_detected!("avx512f") {
            all.push(Kernel::Avx512);
        }
        all
    }

    #[test]
    fn products_equal_the_reference_at_every_edge() {
        let Some(simd) = Avx2::detect() else { return };
        // Rows not a multiple of any tile's or block's, columns not of any panel's, depths
        // below, at and past one k slice; on one thread and on five, so that tasks split by
        // panels, by rows, and by both.
        for (kernel, threads) in kernels().into_iter().flat_map(|k| [(k, 1), (k, 5)]) {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| products_equal_the_reference(simd, kernel));
        }
    }

    fn products_equal_the_reference(simd: Avx2, kernel: Kernel) {
        {
            for &(m, n, k) in &[
                (1, 1, 1),
                (7, 17, 3),
                (50, 48, 256),
                (13, 37, 600),
                (100, 33, 257),
                (211, 70, 513),
                (400, 70, 100),
                (900, 150, 40),
            ] {
                let (a, w, bias) = (values(m * k, 1), values(n * k, 2), values(n, 3));
                let want = reference(&a, m, &w, n, k, &bias);
                let packed = Packed::with_kernel(kernel, &w, n, k, Some(&bias));
                let case = format!(
                    "{}, {} threads: {m}×{n}×{k}",
                    kernel.name(),
                    rayon::current_num_threads()
                );
                let mut out = vec![f32::NAN; m * n];
                matmul(simd, &a, m, &packed, &mut out, Into::Set(None));
                for (g, e) in out.iter().zip(&want) {
                    assert!((g - e).abs() < 1e-4, "{case}: {g} vs {e}");
                }
                let residual = values(m * n, 4);
                let mut out = residual.clone();
                matmul(simd, &a, m, &packed, &mut out, Into::Add);
                for ((g, e), r) in out.iter().zip(&want).zip(&residual) {
                    assert!((g - (e + r)).abs() < 1e-4, "{case} add: {g} vs {}", e + r);
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
                    assert!((g - q).abs() < 1e-4, "{case} quick_gelu: {g} vs {q}");
                }
            }
        }
    }

    #[test]
    fn the_self_check_accepts_a_kernel_that_agrees_and_the_best_is_one_this_cpu_runs() {
        let Some(simd) = Avx2::detect() else { return };
        assert!(agrees_with_avx2(simd, Kernel::Avx2Wide));
        let best = best_kernel(simd);
        assert!(kernels().contains(&best) && best != Kernel::Avx2Wide);
    }
}
