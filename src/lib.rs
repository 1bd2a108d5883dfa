//! clip-sae-lab: train and explore sparse autoencoders on CLIP embeddings.
//!
//! [`engine`] holds everything that computes (data, demo world, SAE, runs) and knows nothing of
//! the terminal; the `saelab` binary's command line lives in [`cli`], and the lab (the TUI
//! that `saelab` opens) in [`tui`].

pub mod cli;
pub mod engine;
pub mod tui;
