//! Dense matrix products on row-major f32 slices, through the `gemm` crate (the kernel candle's
//! CPU backend uses), without candle's tensor allocation and copies in the training hot loop.

use gemm::Parallelism;

/// A read-only strided view of a matrix stored in a slice.
#[derive(Clone, Copy)]
pub struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: isize,
    col_stride: isize,
}

impl<'a> MatRef<'a> {
    /// A row-major `rows x cols` matrix. Panics if the slice is too short (a programming error).
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        assert!(data.len() >= rows * cols, "matrix slice too short");
        MatRef {
            data,
            rows,
            cols,
            row_stride: cols as isize,
            col_stride: 1,
        }
    }

    /// The transpose, as a view (no copy).
    pub fn t(self) -> Self {
        MatRef {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }
}

/// How many threads the products may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threads {
    One,
    All,
}

impl Threads {
    fn parallelism(self) -> Parallelism {
        match self {
            Threads::One => Parallelism::None,
            Threads::All => Parallelism::Rayon(0),
        }
    }
}

/// `out = a · b` (or `out += a · b` when `accumulate`), `out` row-major `a.rows x b.cols`.
pub fn matmul(out: &mut [f32], a: MatRef, b: MatRef, accumulate: bool, threads: Threads) {
    assert_eq!(a.cols, b.rows, "inner dimensions differ");
    let (m, n, k) = (a.rows, b.cols, a.cols);
    assert!(out.len() >= m * n, "output slice too short");
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: the asserts above and in `MatRef::new` keep every index the strides reach
    // inside the slices; `out` is borrowed mutably so it aliases neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a.col_stride,
            a.row_stride,
            b.data.as_ptr(),
            b.col_stride,
            b.row_stride,
            1.0,
            1.0,
            false,
            false,
            false,
            threads.parallelism(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        out
    }

    #[test]
    fn matmul_and_transposes_match_naive() {
        let (m, k, n) = (5, 7, 3);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        let want = naive(&a, &b, m, k, n);
        let mut out = vec![0.0; m * n];
        matmul(
            &mut out,
            MatRef::new(&a, m, k),
            MatRef::new(&b, k, n),
            false,
            Threads::All,
        );
        for (x, y) in out.iter().zip(&want) {
            assert!((x - y).abs() < 1e-5);
        }
        // (bᵀ aᵀ)ᵀ = a b, computed through transposed views of the same storage.
        let mut out_t = vec![0.0; n * m];
        let (at, bt) = (transpose(&a, m, k), transpose(&b, k, n));
        matmul(
            &mut out_t,
            MatRef::new(&bt, n, k),
            MatRef::new(&at, k, m),
            false,
            Threads::One,
        );
        let back = transpose(&out_t, n, m);
        for (x, y) in back.iter().zip(&want) {
            assert!((x - y).abs() < 1e-5);
        }
        // Accumulate adds onto what is there.
        matmul(
            &mut out,
            MatRef::new(&at, k, m).t(),
            MatRef::new(&b, k, n),
            true,
            Threads::One,
        );
        for (x, y) in out.iter().zip(&want) {
            assert!((x - 2.0 * y).abs() < 1e-4);
        }
    }

    fn transpose(a: &[f32], r: usize, c: usize) -> Vec<f32> {
        let mut t = vec![0.0; r * c];
        for i in 0..r {
            for j in 0..c {
                t[j * r + i] = a[i * c + j];
            }
        }
        t
    }
}
