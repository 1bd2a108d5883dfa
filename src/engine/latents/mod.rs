//! Latent analysis: which rows fire each latent most, and how often each fires.

pub mod index;
pub mod store;

pub use index::{LatentIndex, LatentStats, HIST_BINS};
pub use store::{index_for_run, INDEX_FILE, LATENTS_DIR};

#[cfg(test)]
mod tests;
