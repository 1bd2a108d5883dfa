//! Latent analysis: which rows fire each latent most, and how often each fires.

/// Top rows kept per latent unless asked otherwise (a 4×4 collage).
pub const DEFAULT_TOP: usize = 16;

pub mod analysis;
pub mod captioned;
pub mod collage;
pub mod index;
pub mod label;
pub mod store;

pub use analysis::{analyse, Analysis};
pub use index::{LatentIndex, LatentStats, HIST_BINS};
pub use label::{Category, Label};
pub use store::{index_for_run, COLLAGES_DIR, INDEX_FILE, LATENTS_DIR};

#[cfg(test)]
mod tests;
