//! `saelab demo` and `saelab image`.

use std::path::PathBuf;

use clap::Args;

/// `saelab demo`: (re)creates the demo world's embedding set.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Number of images.
    #[arg(long, default_value_t = crate::engine::demo::DEFAULT_IMAGES)]
    pub images: usize,
    /// Seed of the pictures' concepts, magnitudes and noise.
    #[arg(long, default_value_t = crate::engine::demo::DEFAULT_SEED)]
    pub seed: u64,
}

/// `saelab image`: one item's picture as PNG.
#[derive(Debug, Clone, Args)]
pub struct ImageArgs {
    /// The set.
    pub set: String,
    /// The item's row.
    pub id: usize,
    /// The PNG file to write.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}
