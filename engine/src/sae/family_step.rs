//! The TopK family (topk, batchtopk, matryoshka) and JumpReLU, forward and backward by hand.
//! Only the encoder is a dense product; everything after it runs over each row's nonzero
//! latents, so a step costs one B×d×m product plus O(B·k·d).
//!
//! Row-vector notation as in `step.rs`, W_encᵀ stored [m, d] (`rows.rs`), d_j = W_dec row j:
//! ```text
//!   pre   = (X − b_dec) W_enc + b_enc                                  [B, m]
//!   Z     = select(pre): each row's k largest (topk), the batch's k·B largest (batchtopk,
//!           matryoshka), or pre where pre > θ_j (jumprelu); all of them positive
//!   X̂_s   = b_dec + Σ_{j < p_s} Z_j d_j      one per Matryoshka prefix p_s (else one, p = m)
//!   loss  = Σ_s ‖X̂_s − X‖² / (B d)  +  λ Σ H(pre − θ) / c   (jumprelu, c as the L1's: B m
//!           or B)
//!                                   +  α ‖ê − e‖² / (B d)     (AuxK)
//! backward, over the nonzeros only:
//!   G_s   = 2 (X̂_s − X) / (B d);   Ĝ_s = Σ_{s' ≥ s} G_s'   (latent j of prefix segment s
//!           reaches every reconstruction from s on)
//!   ∂pre_rj = ⟨Ĝ_seg(j),r , d_j⟩ where Z_rj ≠ 0
//!   ∂d_j  = Σ_r Z_rj Ĝ_seg(j),r        ∂(W_encᵀ)_j = Σ_r ∂pre_rj (x_r − b_dec)
//!   ∂b_enc_j = Σ_r ∂pre_rj             ∂b_dec = Σ_r Ĝ_0,r − Σ_j ∂b_enc_j (W_encᵀ)_j
//! JumpReLU's threshold, straight through a rectangle kernel K(u) = 1[|u| < ½] of width ε:
//!   ∂θ_j  = Σ_r K((pre_rj − θ_j)/ε) · (−θ_j/ε · ⟨Ĝ_0,r, d_j⟩ − λ/(c ε))
//! AuxK, on the latents dead for `dead_after` steps:
//!   e = X − X̂ (held fixed), ê_r = Σ_{top k_aux dead j} ReLU(pre_rj) d_j,
//!   G_aux = 2α (ê − e) / (B d), which reaches d_j and pre_rj as Ĝ does above.
//! ```

use rayon::prelude::*;

use super::arch::jump_keeps;
use super::linalg::{matmul, MatRef, Threads};
use super::loss::{self, BatchSums, LossTerms, Sparsity, StepStats};
use super::rows::{axpy, dot, RowParams};

/// How a family chooses its nonzero latents during training.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Select {
    TopK {
        k: usize,
    },
    BatchTopK {
        k: usize,
    },
    /// JumpReLU: ε, and λ / (c / B), the L0 penalty's weight per active latent and row (the
    /// penalty is l0_weight · Σ H / B: a mean over the batch).
    Jump {
        bandwidth: f32,
        l0_weight: f64,
    },
}

/// A family's training equations.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub select: Select,
    /// Prefix sizes, increasing, the last equal to m (one entry, m, outside Matryoshka).
    pub prefixes: Vec<usize>,
    pub aux_k: usize,
    pub aux_coef: f64,
    /// The L1 convention's divisor per row count, for the logged L1 term: c / B.
    pub l1_per_row: f64,
}

impl Spec {
    /// The family's loss terms (`loss.rs`).
    pub fn loss_terms(&self, d: usize) -> LossTerms {
        LossTerms {
            d,
            l1_per_row: self.l1_per_row,
            sparsity: match self.select {
                Select::Jump { l0_weight, .. } => Sparsity::L0(l0_weight),
                _ => Sparsity::Fixed,
            },
            aux_coef: self.aux_coef,
        }
    }
}

/// One row's nonzero latents and what the backward pass found for them.
#[derive(Debug, Default, Clone)]
pub struct RowCode {
    /// Selected latents, increasing.
    pub idx: Vec<u32>,
    pub z: Vec<f32>,
    pub dpre: Vec<f32>,
    /// AuxK's latents (dead ones), their ReLU(pre) and gradients.
    pub aux_idx: Vec<u32>,
    pub aux_z: Vec<f32>,
    pub aux_dpre: Vec<f32>,
    /// JumpReLU: latents within ε/2 of their threshold, with (pre, ∂loss/∂z).
    pub window: Vec<(u32, f32, f32)>,
}

/// One nonzero, seen from its latent.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Row of the gradient buffer this entry's decoder gradient reads.
    g_row: u32,
    row: u32,
    z: f32,
    dpre: f32,
}

/// Buffers for a batch of up to `capacity` rows, reused across steps.
pub struct FamilyScratch {
    capacity: usize,
    d: usize,
    m: usize,
    /// X − b_dec, [B, d].
    centred: Vec<f32>,
    /// Pre-activations, [B, m].
    pre: Vec<f32>,
    pub codes: Vec<RowCode>,
    /// Per row, `slots` vectors of width d: Ĝ_0 … Ĝ_{S−1}, then G_aux. [B, S + 1, d]
    g: Vec<f32>,
    slots: usize,
    /// Latent-major view of the nonzeros: offsets [m + 1] into entries.
    offsets: Vec<usize>,
    entries: Vec<Entry>,
    positives: Vec<f32>,
    /// The spec's prefix sizes, for the segment of each latent.
    prefix_ends: Vec<usize>,
}

impl FamilyScratch {
    pub fn new(d: usize, m: usize, capacity: usize, spec: &Spec) -> Self {
        let slots = spec.prefixes.len() + 1;
        FamilyScratch {
            prefix_ends: spec.prefixes.clone(),
            capacity,
            d,
            m,
            centred: vec![0.0; capacity * d],
            pre: vec![0.0; capacity * m],
            codes: vec![RowCode::default(); capacity],
            g: vec![0.0; capacity * slots * d],
            slots,
            offsets: vec![0; m + 1],
            entries: Vec::new(),
            positives: Vec::new(),
        }
    }

    /// Latents that fired in the batch's first `rows` rows.
    pub fn fired(&self, rows: usize, out: &mut [bool]) {
        out.fill(false);
        for c in &self.codes[..rows] {
            c.idx.iter().for_each(|&j| out[j as usize] = true);
        }
    }
}

/// Runs `f` over rows, in parallel when allowed.
fn for_rows<T: Send>(items: &mut [T], threads: Threads, f: impl Fn(usize, &mut T) + Sync + Send) {
    match threads {
        Threads::One => items.iter_mut().enumerate().for_each(|(i, t)| f(i, t)),
        Threads::All => items.par_iter_mut().enumerate().for_each(|(i, t)| f(i, t)),
    }
}

/// Encodes the batch and selects its nonzeros into `s.codes`. Returns BatchTopK's cut-off
/// (the smallest value kept: the batch's k·B-th largest pre-activation) where the family has
/// one and the batch kept any. x: [rows, d]
pub fn encode_select(
    p: &RowParams,
    spec: &Spec,
    x: &[f32],
    rows: usize,
    s: &mut FamilyScratch,
    threads: Threads,
) -> Option<f32> {
    assert!(
        rows <= s.capacity && x.len() == rows * p.d,
        "batch does not fit"
    );
    let (d, m) = (p.d, p.m);
    let centred = &mut s.centred[..rows * d];
    for (c, xr) in centred.chunks_mut(d).zip(x.chunks(d)) {
        c.iter_mut()
            .zip(xr)
            .zip(&p.b_dec)
            .for_each(|((c, v), b)| *c = v - b);
    }
    let pre = &mut s.pre[..rows * m];
    for row in pre.chunks_mut(m) {
        row.copy_from_slice(&p.b_enc);
    }
    matmul(
        pre,
        MatRef::new(centred, rows, d),
        MatRef::new(&p.w_enc_t, m, d).t(),
        true,
        threads,
    );
    let pre = &s.pre[..rows * m];
    let codes = &mut s.codes[..rows];
    match spec.select {
        Select::TopK { k } => {
            for_rows(codes, threads, |r, c| {
                let row = &pre[r * m..(r + 1) * m];
                let mut order = std::mem::take(&mut c.idx);
                super::arch::top_k_positive(row, k, &mut order);
                order.sort_unstable();
                c.idx = order;
                fill_values(c, row);
            });
            None
        }
        Select::BatchTopK { k } => {
            let cut = batch_cutoff(pre, k * rows, &mut s.positives);
            let at = cut.unwrap_or(f32::INFINITY);
            for_rows(codes, threads, |r, c| {
                let row = &pre[r * m..(r + 1) * m];
                c.idx.clear();
                c.idx
                    .extend((0..m as u32).filter(|&j| keeps(row[j as usize], at)));
                fill_values(c, row);
            });
            cut
        }
        Select::Jump { .. } => {
            for_rows(codes, threads, |r, c| {
                let row = &pre[r * m..(r + 1) * m];
                c.idx.clear();
                c.idx.extend(
                    (0..m as u32).filter(|&j| jump_keeps(row[j as usize], p.threshold[j as usize])),
                );
                fill_values(c, row);
            });
            None
        }
    }
}

/// Whether BatchTopK keeps a pre-activation at the batch's cut-off.
fn keeps(v: f32, cut: f32) -> bool {
    v > 0.0 && v >= cut
}

fn fill_values(c: &mut RowCode, row: &[f32]) {
    c.z.clear();
    c.z.extend(c.idx.iter().map(|&j| row[j as usize]));
}

/// The smallest value BatchTopK keeps: the `keep`-th largest positive value of `pre`, or the
/// smallest positive one when fewer are positive (None when none is).
fn batch_cutoff(pre: &[f32], keep: usize, positives: &mut Vec<f32>) -> Option<f32> {
    positives.clear();
    positives.extend(pre.iter().copied().filter(|&v| v > 0.0));
    if positives.len() <= keep {
        return positives.iter().copied().reduce(f32::min);
    }
    let (_, nth, _) = positives.select_nth_unstable_by(keep.max(1) - 1, |a, b| b.total_cmp(a));
    Some(*nth)
}

/// Reconstructs the batch from `s.codes`, adds AuxK on the `dead` latents (increasing ids),
/// and computes every gradient the per-latent pass needs: Ĝ and G_aux into `s.g`, ∂pre into
/// the codes, and JumpReLU's window. Returns the batch's stats.
pub fn backward_rows(
    p: &RowParams,
    spec: &Spec,
    x: &[f32],
    rows: usize,
    dead: &[u32],
    s: &mut FamilyScratch,
    threads: Threads,
) -> StepStats {
    let (d, m) = (p.d, p.m);
    let slots = s.slots;
    let scale = 2.0 / (rows * d) as f32;
    let aux_k = if dead.is_empty() { 0 } else { spec.aux_k };
    let pre = &s.pre[..rows * m];
    let row_ctx = |r: usize| RowCtx {
        p,
        spec,
        x: &x[r * d..(r + 1) * d],
        pre: &pre[r * m..(r + 1) * m],
        dead,
        aux_k,
        scale,
    };
    let work = s.codes[..rows].iter_mut().zip(s.g.chunks_mut(slots * d));
    let per_row: Vec<RowSums> = match threads {
        Threads::One => work
            .enumerate()
            .map(|(r, (c, g))| row_ctx(r).run(c, g))
            .collect(),
        Threads::All => work
            .collect::<Vec<_>>()
            .into_par_iter()
            .enumerate()
            .map(|(r, (c, g))| row_ctx(r).run(c, g))
            .collect(),
    };
    batch_stats(&per_row, spec, rows, d)
}

/// What one row adds to the batch's loss.
#[derive(Debug, Clone, Copy, Default)]
struct RowSums {
    /// Σ over prefixes of ‖x̂_s − x‖².
    sse_prefixes: f64,
    /// ‖x̂ − x‖² of the whole dictionary's reconstruction.
    sse: f64,
    aux_sse: f64,
    active: u64,
    l1: f64,
}

fn batch_stats(per_row: &[RowSums], spec: &Spec, rows: usize, d: usize) -> StepStats {
    let sum = |f: fn(&RowSums) -> f64| per_row.iter().map(f).sum::<f64>();
    let sums = BatchSums {
        rows,
        sse: sum(|r| r.sse),
        sse_prefixes: sum(|r| r.sse_prefixes),
        aux_sse: sum(|r| r.aux_sse),
        l1: sum(|r| r.l1),
        active: per_row.iter().map(|r| r.active).sum(),
    };
    loss::stats(&sums, &spec.loss_terms(d))
}

/// One row's share of the backward pass.
struct RowCtx<'a> {
    p: &'a RowParams,
    spec: &'a Spec,
    /// [d]
    x: &'a [f32],
    /// [m]
    pre: &'a [f32],
    dead: &'a [u32],
    aux_k: usize,
    /// 2 / (B d)
    scale: f32,
}

impl RowCtx<'_> {
    /// g: this row's [S + 1, d] gradient block.
    fn run(&self, c: &mut RowCode, g: &mut [f32]) -> RowSums {
        let (p, d) = (self.p, self.p.d);
        let s_count = self.spec.prefixes.len();
        let mut out = RowSums {
            active: c.idx.len() as u64,
            l1: c.z.iter().map(|&v| v as f64).sum(),
            ..Default::default()
        };
        // X̂_s for each prefix, accumulated segment by segment (codes are in latent order).
        let mut acc = p.b_dec.clone();
        let mut e = 0;
        for (s, &end) in self.spec.prefixes.iter().enumerate() {
            while e < c.idx.len() && (c.idx[e] as usize) < end {
                axpy(&mut acc, c.z[e], p.decoder_row(c.idx[e] as usize));
                e += 1;
            }
            g[s * d..(s + 1) * d].copy_from_slice(&acc);
        }
        for s in 0..s_count {
            let gs = &mut g[s * d..(s + 1) * d];
            let mut sse = 0.0f64;
            for (v, &t) in gs.iter_mut().zip(self.x) {
                let diff = *v - t;
                sse += (diff as f64) * (diff as f64);
                *v = diff * self.scale;
            }
            out.sse_prefixes += sse;
            if s + 1 == s_count {
                out.sse = sse;
            }
        }
        for s in (0..s_count.saturating_sub(1)).rev() {
            let (head, tail) = g.split_at_mut((s + 1) * d);
            axpy(&mut head[s * d..], 1.0, &tail[..d]);
        }
        out.aux_sse = self.aux(c, &acc, &mut g[s_count * d..(s_count + 1) * d]);
        c.dpre.clear();
        let mut s = 0;
        for &j in &c.idx {
            while (j as usize) >= self.spec.prefixes[s] {
                s += 1;
            }
            c.dpre
                .push(dot(&g[s * d..(s + 1) * d], p.decoder_row(j as usize)));
        }
        self.window(c, &g[..d]);
        out
    }

    /// AuxK: the top `aux_k` positive pre-activations among dead latents reconstruct the
    /// residual e = x − `recon` (the whole dictionary's); writes G_aux into `g_aux` and returns
    /// ‖ê − e‖².
    fn aux(&self, c: &mut RowCode, recon: &[f32], g_aux: &mut [f32]) -> f64 {
        c.aux_idx.clear();
        c.aux_z.clear();
        c.aux_dpre.clear();
        g_aux.fill(0.0);
        if self.aux_k == 0 {
            return 0.0;
        }
        let dead_pre: Vec<f32> = self.dead.iter().map(|&j| self.pre[j as usize]).collect();
        let mut order = Vec::new();
        super::arch::top_k_positive(&dead_pre, self.aux_k, &mut order);
        order.sort_unstable();
        let mut e_hat = vec![0.0f32; self.p.d];
        for &o in &order {
            let j = self.dead[o as usize];
            c.aux_idx.push(j);
            c.aux_z.push(dead_pre[o as usize]);
            axpy(
                &mut e_hat,
                dead_pre[o as usize],
                self.p.decoder_row(j as usize),
            );
        }
        let coef = self.spec.aux_coef as f32;
        let mut sse = 0.0f64;
        for (((gv, h), x), x_hat) in g_aux.iter_mut().zip(&e_hat).zip(self.x).zip(recon) {
            let diff = h - (x - x_hat);
            sse += (diff as f64) * (diff as f64);
            *gv = coef * self.scale * diff;
        }
        for &j in &c.aux_idx {
            c.aux_dpre.push(dot(g_aux, self.p.decoder_row(j as usize)));
        }
        sse
    }

    /// JumpReLU: latents within ε/2 of their threshold, with ∂loss/∂z (Ĝ_0 · d_j).
    fn window(&self, c: &mut RowCode, g0: &[f32]) {
        c.window.clear();
        let Select::Jump { bandwidth, .. } = self.spec.select else {
            return;
        };
        let half = bandwidth / 2.0;
        for (j, (&v, &t)) in self.pre.iter().zip(&self.p.threshold).enumerate() {
            if (v - t).abs() < half {
                c.window.push((j as u32, v, dot(g0, self.p.decoder_row(j))));
            }
        }
    }
}

/// Groups the batch's nonzeros (main and AuxK) by latent, in row order, for the per-latent
/// pass.
pub fn by_latent(s: &mut FamilyScratch, rows: usize) {
    let (m, slots) = (s.m, s.slots);
    let counts = &mut s.offsets;
    counts.fill(0);
    for c in &s.codes[..rows] {
        c.idx
            .iter()
            .chain(&c.aux_idx)
            .for_each(|&j| counts[j as usize + 1] += 1);
    }
    for j in 0..m {
        counts[j + 1] += counts[j];
    }
    let mut next = counts[..m].to_vec();
    s.entries.clear();
    s.entries.resize(
        counts[m],
        Entry {
            g_row: 0,
            row: 0,
            z: 0.0,
            dpre: 0.0,
        },
    );
    let prefixes = s.slots - 1;
    for (r, c) in s.codes[..rows].iter().enumerate() {
        let mut seg = 0;
        for ((&j, &z), &dpre) in c.idx.iter().zip(&c.z).zip(&c.dpre) {
            while seg + 1 < prefixes && (j as usize) >= s.prefix_ends[seg] {
                seg += 1;
            }
            let at = &mut next[j as usize];
            s.entries[*at] = Entry {
                g_row: (r * slots + seg) as u32,
                row: r as u32,
                z,
                dpre,
            };
            *at += 1;
        }
        for ((&j, &z), &dpre) in c.aux_idx.iter().zip(&c.aux_z).zip(&c.aux_dpre) {
            let at = &mut next[j as usize];
            s.entries[*at] = Entry {
                g_row: (r * slots + prefixes) as u32,
                row: r as u32,
                z,
                dpre,
            };
            *at += 1;
        }
    }
}

/// Latent j's gradients: ∂d_j into `gd`, ∂(W_encᵀ)_j into `ge` (both [d]); returns ∂b_enc_j.
pub fn latent_grads(s: &FamilyScratch, j: usize, gd: &mut [f32], ge: &mut [f32]) -> f32 {
    let d = s.d;
    gd.fill(0.0);
    ge.fill(0.0);
    let mut gb = 0.0f32;
    for e in &s.entries[s.offsets[j]..s.offsets[j + 1]] {
        let g = e.g_row as usize * d;
        axpy(gd, e.z, &s.g[g..g + d]);
        let r = e.row as usize * d;
        axpy(ge, e.dpre, &s.centred[r..r + d]);
        gb += e.dpre;
    }
    gb
}

/// ∂b_enc_j = Σ_r ∂pre_rj, summed in the order [`latent_grads`] sums it. [m]
pub fn b_enc_grad(s: &FamilyScratch) -> Vec<f32> {
    (0..s.m)
        .map(|j| {
            s.entries[s.offsets[j]..s.offsets[j + 1]]
                .iter()
                .fold(0.0f32, |acc, e| acc + e.dpre)
        })
        .collect()
}

/// ∂b_dec = Σ_r Ĝ_0,r − Σ_j ∂b_enc_j (W_encᵀ)_j, from the per-latent ∂b_enc. [d]
pub fn b_dec_grad(p: &RowParams, s: &FamilyScratch, rows: usize, g_b_enc: &[f32]) -> Vec<f32> {
    let d = p.d;
    let mut out = vec![0.0f32; d];
    for r in 0..rows {
        let g0 = r * s.slots * d;
        axpy(&mut out, 1.0, &s.g[g0..g0 + d]);
    }
    for (j, &gb) in g_b_enc.iter().enumerate() {
        if gb != 0.0 {
            axpy(&mut out, -gb, p.encoder_row(j));
        }
    }
    out
}

/// JumpReLU's ∂θ from the batch's window entries. [m]
pub fn threshold_grad(p: &RowParams, spec: &Spec, s: &FamilyScratch, rows: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; p.m];
    let Select::Jump {
        bandwidth,
        l0_weight,
    } = spec.select
    else {
        return out;
    };
    let per_entry = (l0_weight / (bandwidth as f64 * rows as f64)) as f32;
    for c in &s.codes[..rows] {
        for &(j, _, dz) in &c.window {
            let theta = p.threshold[j as usize];
            out[j as usize] += -theta / bandwidth * dz - per_entry;
        }
    }
    out
}

/// Every gradient of a step gathered in one [`RowParams`] (threshold included for JumpReLU):
/// what the fused trainer applies latent by latent, for tests and checks.
pub fn gradients(p: &RowParams, spec: &Spec, s: &FamilyScratch, rows: usize) -> RowParams {
    let d = p.d;
    let mut g = p.zeros_like();
    for j in 0..p.m {
        g.b_enc[j] = latent_grads(
            s,
            j,
            &mut g.w_dec[j * d..(j + 1) * d],
            &mut g.w_enc_t[j * d..(j + 1) * d],
        );
    }
    g.b_dec = b_dec_grad(p, s, rows, &g.b_enc);
    if !p.threshold.is_empty() {
        g.threshold = threshold_grad(p, spec, s, rows);
    }
    g
}

#[cfg(test)]
mod tests {
    use super::batch_cutoff;

    #[test]
    fn the_batch_cutoff_is_the_smallest_value_kept() {
        let pre = [0.5, -1.0, 0.2, 0.9, 0.0, 0.3];
        let mut buf = Vec::new();
        assert_eq!(batch_cutoff(&pre, 2, &mut buf), Some(0.5));
        // Fewer positive values than asked: all of them, the smallest is the cut.
        assert_eq!(batch_cutoff(&pre, 9, &mut buf), Some(0.2));
        assert_eq!(batch_cutoff(&[-1.0, 0.0], 1, &mut buf), None);
    }
}
