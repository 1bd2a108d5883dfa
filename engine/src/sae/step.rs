//! The study's SAE, forward and backward written out by hand (no autograd graph): five matrix
//! products and a few fused element-wise passes per step.
//!
//! Row-vector notation, a batch X: [B, d], m latents:
//! ```text
//!   pre  = (X − b_dec) W_enc + b_enc           [B, m]
//!   Z    = ReLU(pre)                            [B, m]
//!   X̂    = Z W_dec + b_dec                      [B, d]
//!   loss = Σ (X̂ − X)² / (B d)  +  λ Σ |Z| / c    c = B m (L1 mean) or B (L1 sum)
//! gradients:
//!   G      = 2 (X̂ − X) / (B d)                  [B, d]
//!   ∂W_dec = Zᵀ G                               [m, d]
//!   D      = 1[pre > 0] ⊙ (G W_decᵀ + λ / c)     [B, m]
//!   ∂W_enc = (X − b_dec)ᵀ D                     [d, m]
//!   ∂b_enc = Σ_rows D
//!   ∂b_dec = Σ_rows G − W_enc ∂b_enc
//! ```

use rayon::prelude::*;

use super::config::L1Convention;
use super::linalg::{matmul, MatRef, Threads};
use super::loss::{LossTerms, Sparsity};
use super::params::SaeParams;

pub use super::loss::{BatchSums, StepStats};

/// Scratch buffers for a batch of up to `capacity` rows, reused across steps.
pub struct Scratch {
    capacity: usize,
    /// X − b_dec, [B, d].
    centred: Vec<f32>,
    /// pre-activations, then Z, [B, m].
    pub z: Vec<f32>,
    /// X̂, then G, [B, d].
    pub recon: Vec<f32>,
    /// ∂loss/∂pre, [B, m].
    dpre: Vec<f32>,
    pub grads: SaeParams,
}

impl Scratch {
    pub fn new(d: usize, m: usize, capacity: usize) -> Self {
        Scratch {
            capacity,
            centred: vec![0.0; capacity * d],
            z: vec![0.0; capacity * m],
            recon: vec![0.0; capacity * d],
            dpre: vec![0.0; capacity * m],
            grads: SaeParams::zeros(d, m),
        }
    }
}

/// Runs `f` on each `width`-long row of `data`, in parallel when allowed, and collects the
/// per-row results in order (so sums over them are deterministic).
fn rows_map<R: Send>(
    data: &mut [f32],
    width: usize,
    threads: Threads,
    f: impl Fn(usize, &mut [f32]) -> R + Sync + Send,
) -> Vec<R> {
    match threads {
        Threads::One => data
            .chunks_mut(width)
            .enumerate()
            .map(|(i, r)| f(i, r))
            .collect(),
        Threads::All => data
            .par_chunks_mut(width)
            .enumerate()
            .map(|(i, r)| f(i, r))
            .collect(),
    }
}

/// Sets every `width`-long row of `out` to `bias`, so a product can accumulate onto it.
fn fill_rows(out: &mut [f32], bias: &[f32], threads: Threads) {
    rows_map(out, bias.len(), threads, |_, row| row.copy_from_slice(bias));
}

/// Σ of a slice in f32 with eight independent accumulators, which the compiler vectorises.
fn lane_sum(v: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = v.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        acc.iter_mut().zip(c).for_each(|(a, x)| *a += x);
    }
    acc.iter().sum::<f32>() + tail
}

/// Encodes a batch through the SAE's activation: fills `s.z` with Z and `s.centred` with
/// X − b_dec, and returns each row's (active count, Σ z). x: [rows, d]
pub fn encode(
    p: &SaeParams,
    x: &[f32],
    rows: usize,
    s: &mut Scratch,
    threads: Threads,
) -> Vec<(u32, f32)> {
    assert!(
        rows <= s.capacity && x.len() == rows * p.d,
        "batch does not fit"
    );
    let (d, m) = (p.d, p.m);
    let centred = &mut s.centred[..rows * d];
    rows_map(centred, d, threads, |i, row| {
        let xr = &x[i * d..(i + 1) * d];
        row.iter_mut()
            .zip(xr)
            .zip(&p.b_dec)
            .for_each(|((c, v), b)| *c = v - b)
    });
    let z = &mut s.z[..rows * m];
    fill_rows(z, &p.b_enc, threads);
    matmul(
        z,
        MatRef::new(centred, rows, d),
        MatRef::new(&p.w_enc, d, m),
        true,
        threads,
    );
    let activation = &p.activation;
    rows_map(z, m, threads, |_, row| {
        let active = activation.apply_row(row, &mut Vec::new());
        (active, lane_sum(row))
    })
}

/// Forward pass: Z into `s.z`, X̂ into `s.recon`, and the batch's sums. x: [rows, d]
pub fn forward(
    p: &SaeParams,
    x: &[f32],
    rows: usize,
    s: &mut Scratch,
    threads: Threads,
) -> BatchSums {
    let latent_sums = encode(p, x, rows, s, threads);
    let (d, m) = (p.d, p.m);
    let recon = &mut s.recon[..rows * d];
    fill_rows(recon, &p.b_dec, threads);
    matmul(
        recon,
        MatRef::new(&s.z[..rows * m], rows, m),
        MatRef::new(&p.w_dec, m, d),
        true,
        threads,
    );
    let sse = rows_map(recon, d, threads, |i, row| {
        let target = &x[i * d..(i + 1) * d];
        row.iter()
            .zip(target)
            .map(|(v, t)| ((v - t) as f64).powi(2))
            .sum::<f64>()
    });
    BatchSums::plain(
        rows,
        sse.iter().sum(),
        latent_sums.iter().map(|s| s.1 as f64).sum(),
        latent_sums.iter().map(|s| s.0 as u64).sum(),
    )
}

/// The loss terms of one batch's sums, as ReLU + L1 trains.
pub fn stats(sums: &BatchSums, d: usize, m: usize, lambda: f64, l1: L1Convention) -> StepStats {
    super::loss::stats(sums, &relu_terms(d, m, lambda, l1))
}

/// ReLU + L1's loss terms.
pub fn relu_terms(d: usize, m: usize, lambda: f64, l1: L1Convention) -> LossTerms {
    LossTerms {
        d,
        l1_per_row: l1.divisor(1, m),
        sparsity: Sparsity::L1(lambda),
        aux_coef: 0.0,
    }
}

/// Forward and backward: returns the batch's stats and leaves the gradients in `s.grads`.
pub fn forward_backward(
    p: &SaeParams,
    x: &[f32],
    rows: usize,
    lambda: f64,
    l1: L1Convention,
    s: &mut Scratch,
    threads: Threads,
) -> StepStats {
    let (d, m) = (p.d, p.m);
    let sums = forward(p, x, rows, s, threads);

    // G = 2 (X̂ − X) / (B d), in place of X̂.
    let g_scale = 2.0 / (rows * d) as f32;
    let g = &mut s.recon[..rows * d];
    rows_map(g, d, threads, |i, row| {
        let target = &x[i * d..(i + 1) * d];
        row.iter_mut()
            .zip(target)
            .for_each(|(v, t)| *v = (*v - t) * g_scale)
    });
    let z = &s.z[..rows * m];
    let grads = &mut s.grads;
    matmul(
        &mut grads.w_dec,
        MatRef::new(z, rows, m).t(),
        MatRef::new(g, rows, d),
        false,
        threads,
    );
    column_sums(g, d, &mut grads.b_dec);

    // D = 1[pre > 0] ⊙ (G W_decᵀ + λ/c); Z > 0 exactly where pre > 0.
    let dpre = &mut s.dpre[..rows * m];
    matmul(
        dpre,
        MatRef::new(g, rows, d),
        MatRef::new(&p.w_dec, m, d).t(),
        false,
        threads,
    );
    let l1_grad = (lambda / l1.divisor(rows, m)) as f32;
    rows_map(dpre, m, threads, |i, row| {
        let zr = &z[i * m..(i + 1) * m];
        row.iter_mut()
            .zip(zr)
            .for_each(|(v, &zv)| *v = if zv > 0.0 { *v + l1_grad } else { 0.0 })
    });
    column_sums_par(dpre, m, &mut grads.b_enc, threads);
    matmul(
        &mut grads.w_enc,
        MatRef::new(&s.centred[..rows * d], rows, d).t(),
        MatRef::new(dpre, rows, m),
        false,
        threads,
    );
    // ∂b_dec −= W_enc ∂b_enc: b_dec also enters through the encoder's centring.
    let mut through_encoder = vec![0.0f32; d];
    matmul(
        &mut through_encoder,
        MatRef::new(&p.w_enc, d, m),
        MatRef::new(&grads.b_enc, m, 1),
        false,
        Threads::One,
    );
    grads
        .b_dec
        .iter_mut()
        .zip(&through_encoder)
        .for_each(|(g, t)| *g -= t);
    stats(&sums, d, m, lambda, l1)
}

/// Columns per parallel work item of [`column_sums_par`].
const COLUMN_BLOCK: usize = 512;

/// [`column_sums`], split over blocks of columns so threads never share an output.
fn column_sums_par(a: &[f32], width: usize, out: &mut [f32], threads: Threads) {
    let block = |(b, out): (usize, &mut [f32])| {
        let (c0, len) = (b * COLUMN_BLOCK, out.len());
        out.fill(0.0);
        for row in a.chunks(width) {
            out.iter_mut()
                .zip(&row[c0..c0 + len])
                .for_each(|(o, v)| *o += v);
        }
    };
    match threads {
        Threads::One => out.chunks_mut(COLUMN_BLOCK).enumerate().for_each(block),
        Threads::All => out.par_chunks_mut(COLUMN_BLOCK).enumerate().for_each(block),
    }
}

/// out[j] = Σ_i a[i, j] for a row-major matrix of width `width`.
fn column_sums(a: &[f32], width: usize, out: &mut [f32]) {
    out.fill(0.0);
    for row in a.chunks(width) {
        out.iter_mut().zip(row).for_each(|(o, v)| *o += v);
    }
}
