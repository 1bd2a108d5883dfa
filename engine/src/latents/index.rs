//! The latent index: one streaming pass over a set through a run's SAE that keeps, per latent,
//! its top K activating rows, how often it fires, its mean and max activation and a coarse
//! log-scale histogram. Memory is O(latents × K) whatever the number of rows.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::sae::linalg::Threads;
use crate::sae::step::{encode, Scratch};
use crate::sae::SaeParams;
use crate::set::RowSource;

/// Rows encoded at a time.
const CHUNK_ROWS: usize = 1024;
/// Histogram bins: bin b holds activations in [2^(b − HIST_OFFSET), 2^(b + 1 − HIST_OFFSET)),
/// the first and last bins also everything below and above.
pub const HIST_BINS: usize = 16;
pub const HIST_OFFSET: i32 = 10;
/// Latents per parallel work item.
const LATENT_BLOCK: usize = 64;

/// What the index knows of one latent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatentStats {
    /// Rows where it fired.
    pub active: u64,
    /// Σ of its activations.
    pub sum: f64,
    pub max: f32,
    pub histogram: [u32; HIST_BINS],
    /// Its top activations, best first: (activation, row).
    pub top: Vec<(f32, u32)>,
}

impl LatentStats {
    fn new(k: usize) -> Self {
        LatentStats {
            active: 0,
            sum: 0.0,
            max: 0.0,
            histogram: [0; HIST_BINS],
            top: Vec::with_capacity(k),
        }
    }

    /// Share of rows on which it fires.
    pub fn frequency(&self, rows: usize) -> f64 {
        self.active as f64 / rows.max(1) as f64
    }

    /// Mean activation over the rows where it fires (0 when dead).
    pub fn mean_active(&self) -> f64 {
        if self.active == 0 {
            0.0
        } else {
            self.sum / self.active as f64
        }
    }

    pub fn is_dead(&self) -> bool {
        self.active == 0
    }

    /// Offers one activation; keeps the best K, ties broken by the earlier row.
    fn offer(&mut self, value: f32, row: u32, k: usize) {
        self.active += 1;
        self.sum += value as f64;
        self.max = self.max.max(value);
        self.histogram[hist_bin(value)] += 1;
        if self.top.len() < k {
            self.top.push((value, row));
            if self.top.len() == k {
                self.sort_top();
            }
        } else if value > self.top[k - 1].0 {
            self.top[k - 1] = (value, row);
            self.sort_top();
        }
    }

    fn sort_top(&mut self) {
        self.top
            .sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    }
}

/// floor(log2 v) from the float's exponent bits, shifted into the histogram's range.
fn hist_bin(v: f32) -> usize {
    let exponent = ((v.to_bits() >> 23) & 0xff) as i32 - 127;
    (exponent + HIST_OFFSET).clamp(0, HIST_BINS as i32 - 1) as usize
}

/// The index of every latent of one SAE over one set.
#[derive(Debug, Clone, PartialEq)]
pub struct LatentIndex {
    pub k: usize,
    pub rows: usize,
    pub latents: Vec<LatentStats>,
}

impl LatentIndex {
    /// Streams `data` ([rows, d], read a piece at a time) through the SAE, keeping the top
    /// `k` rows per latent.
    pub fn build(p: &SaeParams, data: &dyn RowSource, k: usize) -> Result<Self> {
        let (d, m) = (p.d, p.m);
        let mut latents: Vec<LatentStats> = (0..m).map(|_| LatentStats::new(k)).collect();
        let mut scratch = Scratch::new(d, m, CHUNK_ROWS);
        let mut first_row = 0usize;
        data.each_piece(CHUNK_ROWS, &mut |chunk| {
            let rows = chunk.len() / d;
            encode(p, chunk, rows, &mut scratch, Threads::All);
            let z = &scratch.z[..rows * m];
            latents
                .par_chunks_mut(LATENT_BLOCK)
                .enumerate()
                .for_each(|(b, block)| {
                    let (j0, width) = (b * LATENT_BLOCK, block.len());
                    for (r, zr) in z.chunks(m).enumerate() {
                        let row = (first_row + r) as u32;
                        for (stats, &v) in block.iter_mut().zip(&zr[j0..j0 + width]) {
                            if v > 0.0 {
                                stats.offer(v, row, k);
                            }
                        }
                    }
                });
            first_row += rows;
            Ok(())
        })?;
        for l in latents.iter_mut() {
            l.sort_top();
        }
        Ok(LatentIndex {
            k,
            rows: first_row,
            latents,
        })
    }

    /// Latents that never fired.
    pub fn dead(&self) -> usize {
        self.latents.iter().filter(|l| l.is_dead()).count()
    }
}
