//! clip-sae-lab: train and explore sparse autoencoders on CLIP embeddings.
//!
//! [`engine`] (the `saelab-engine` crate) holds everything that computes (data, demo world, SAE,
//! runs) and knows nothing of the terminal: ratatui, crossterm and tokio are not in its
//! dependency tree; the `saelab` binary's command line lives in [`cli`], and the lab (the TUI
//! that `saelab` opens) in [`tui`].

pub mod cli;
pub mod protocol;
pub mod terminal;
pub mod tui;

/// The engine crate, under the name the CLI, the lab, the benches and the tests use.
pub use saelab_engine as engine;
