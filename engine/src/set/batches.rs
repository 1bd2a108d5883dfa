//! The data order: a fresh seeded permutation of the rows each epoch, so that the batch for any
//! step can be recomputed from (seed, rows, step) alone — which is all a checkpoint must keep.

use std::ops::Range;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Which rows make up each step's batch.
#[derive(Debug, Clone)]
pub struct BatchPlan {
    rows: usize,
    batch: usize,
    seed: u64,
    epoch: Option<(u64, Vec<u32>)>,
}

impl BatchPlan {
    pub fn new(rows: usize, batch: usize, seed: u64) -> Self {
        BatchPlan {
            rows,
            batch,
            seed,
            epoch: None,
        }
    }

    pub fn steps_per_epoch(&self) -> u64 {
        steps_per_epoch(self.rows, self.batch)
    }

    /// The row indices of global step `step` (0-based); the last batch of an epoch may be short.
    pub fn batch(&mut self, step: u64) -> &[u32] {
        let (_, order, range) = self.in_epoch(step);
        &order[range]
    }

    /// Step `step`'s epoch, that epoch's order, and the step's range of it.
    pub fn in_epoch(&mut self, step: u64) -> (u64, &[u32], Range<usize>) {
        let per_epoch = self.steps_per_epoch();
        let (epoch, within) = (step / per_epoch, (step % per_epoch) as usize);
        if self.epoch.as_ref().map(|e| e.0) != Some(epoch) {
            self.epoch = Some((epoch, epoch_order(self.rows, self.seed, epoch)));
        }
        let order = &self.epoch.as_ref().expect("set above").1;
        let start = within * self.batch;
        (epoch, order, start..(start + self.batch).min(self.rows))
    }
}

/// The permutation of `rows` rows used in `epoch`.
pub fn epoch_order(rows: usize, seed: u64, epoch: u64) -> Vec<u32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_da7a);
    rng.set_stream(epoch);
    let mut order: Vec<u32> = (0..rows as u32).collect();
    order.shuffle(&mut rng);
    order
}

/// Steps in one epoch of `rows` rows at `batch` rows a step (the last, partial batch is kept).
pub fn steps_per_epoch(rows: usize, batch: usize) -> u64 {
    rows.div_ceil(batch) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_once_per_epoch_and_reproducible() {
        let mut plan = BatchPlan::new(10, 4, 7);
        assert_eq!(plan.steps_per_epoch(), 3);
        let mut seen: Vec<u32> = (0..3).flat_map(|s| plan.batch(s).to_vec()).collect();
        assert_eq!(plan.batch(2).len(), 2);
        seen.sort();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        let again = BatchPlan::new(10, 4, 7).batch(4).to_vec();
        assert_eq!(plan.batch(4), again.as_slice());
        assert_ne!(epoch_order(100, 7, 0), epoch_order(100, 7, 1));
    }
}
