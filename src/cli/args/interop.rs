//! `saelab export`, `saelab import` and `saelab import-set`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::engine::interop::Format;

/// A layout other tools read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// SAELens 6 (`SAE.load_from_disk`): cfg.json, sae_weights.safetensors, sparsity.safetensors.
    Saelens,
    /// EleutherAI sparsify (`eai-sparsify`): cfg.json, sae.safetensors; TopK SAEs only.
    Sparsify,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Saelens => Format::Saelens,
            FormatArg::Sparsify => Format::Sparsify,
        }
    }
}

/// `saelab export RUN --format saelens|sparsify OUT`.
#[derive(Debug, Clone, PartialEq, Args)]
pub struct ExportArgs {
    /// The finished run.
    pub run: String,
    /// The folder to write (new, or empty).
    pub out: PathBuf,
    /// The layout to write.
    #[arg(long, value_enum, default_value_t = FormatArg::Saelens)]
    pub format: FormatArg,
}

/// `saelab import PATH_OR_REPO --set SET [--name NAME]`.
#[derive(Debug, Clone, PartialEq, Args)]
pub struct ImportArgs {
    /// A SAELens or sparsify SAE folder, or a hub repo (owner/name, or owner/name/subfolder).
    pub source: String,
    /// The embedding set the SAE reads (its metrics are computed there).
    #[arg(long)]
    pub set: String,
    /// The run's name (default: the folder's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Read the Hugging Face cache only; never touch the network.
    #[arg(long)]
    pub offline: bool,
}

/// `saelab import-set FILE --name NAME`.
#[derive(Debug, Clone, PartialEq, Args)]
pub struct ImportSetArgs {
    /// Embeddings made elsewhere: .npy (f32 or f16, rows × d), .safetensors (a 2-D tensor) or
    /// .parquet (a column of float lists).
    pub file: PathBuf,
    /// The new set's name.
    #[arg(long)]
    pub name: String,
    /// The tensor of a .safetensors file holding several (default: its only 2-D tensor).
    #[arg(long)]
    pub key: Option<String>,
    /// The column of a .parquet file (default: its only list column).
    #[arg(long)]
    pub column: Option<String>,
    /// One item per row: .jsonl (label, caption, path keys) or .csv (a header naming them).
    #[arg(long, value_name = "FILE")]
    pub items: Option<PathBuf>,
    /// Scale every row to unit L2 norm, as CLIP's embeddings are compared.
    #[arg(long)]
    pub normalize: bool,
    /// The model that made the embeddings, recorded in set.toml (zero-shot and labels need a
    /// CLIP model's text tower).
    #[arg(long)]
    pub model: Option<String>,
}
