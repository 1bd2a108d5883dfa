//! `saelab report`.

use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Runs to report (default: all).
    pub runs: Vec<String>,
    /// Folder to write README.md, plots/ and collages/ into.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Latents to show besides the most frequent and most confident (comma-separated).
    #[arg(long, value_delimiter = ',', value_parser = super::trimmed::<usize>)]
    pub latents: Vec<usize>,
    /// Run whose latents are shown (default: the first finished run with a latent index).
    #[arg(long)]
    pub latent_run: Option<String>,
    /// Latents 0..N go into the report's label CSV, each with its collage.
    #[arg(long, default_value_t = 50)]
    pub csv_latents: usize,
}
