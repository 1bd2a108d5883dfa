//! The command line, as clap reads it: the global options here, each subcommand's arguments in
//! a file of its own. Names are the contract users and scripts rely on (docs/user-guide.md).

mod argv;
mod bench;
mod demo;
mod embed;
mod eval;
mod explain;
mod interop;
mod latents;
mod report;
mod runs;
mod steer;
mod sweep;
mod train;
mod zeroshot;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

pub use argv::ToArgv;
pub use bench::BenchArgs;
pub use demo::{DemoArgs, ImageArgs};
pub use embed::EmbedArgs;
pub use eval::EvalArgs;
pub use explain::ExplainArgs;
pub use interop::{ExportArgs, FormatArg, ImportArgs, ImportSetArgs};
pub use latents::{LabelArg, LatentsArgs, ShowArgs};
pub use report::ReportArgs;
pub use runs::{MetricsArgs, ResumeArgs};
pub use steer::{GenerateArgs, MethodArg, SteerArgs, UnitsArg, DEFAULT_STRENGTH};
pub use sweep::{SweepArgs, DEFAULT_KS, DEFAULT_LAMBDAS};
pub use train::{default_lr, ArchArg, BiasArg, L1Arg, TrainArgs, TrainOpts};
pub use zeroshot::ZeroshotArgs;

use crate::engine::device::DeviceChoice;

#[derive(Debug, Parser)]
#[command(
    name = "saelab",
    version,
    about = "A terminal lab for sparse autoencoders on CLIP embeddings. With no command, `saelab` opens the lab on the workspace (the demo world on first run)."
)]
pub struct Cli {
    /// Workspace folder (default: $SAELAB_WORKSPACE, else the platform's data folder).
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "DIR"
    )]
    pub workspace: Option<PathBuf>,
    /// Compute device: auto (CUDA, then Metal, then CPU), cpu, cuda or metal.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_enum,
        default_value = "auto"
    )]
    pub device: DeviceArg,
    /// Machine-readable JSON on stdout; progress and logs go to stderr.
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,
    /// No progress bars or informational messages.
    #[arg(long, global = true, help_heading = "Global options")]
    pub quiet: bool,
    /// The lab's colours: dark, light, high-contrast, or a theme file (default: $SAELAB_THEME,
    /// else light on a light terminal background and dark otherwise).
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "SAELAB_THEME"
    )]
    pub theme: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// `saelab sets`: the list, or one set's slices merged or its files verified.
#[derive(Debug, clap::Args)]
pub struct SetsArgs {
    #[command(subcommand)]
    pub action: Option<SetsAction>,
}

#[derive(Debug, Subcommand)]
pub enum SetsAction {
    /// Joins the slices `embed --shard I/N` made into one sharded set (no data is copied),
    /// naming the slices still missing.
    Merge { name: String },
    /// Checks every embeddings file of a set (each shard of a sharded one) against its
    /// checksum and shape, naming any that is missing or damaged.
    Verify { name: String },
    /// Builds the set's nearest-row index now (sets above 100,000 rows; smaller ones are
    /// searched exactly), so the Steer tab's first key does not wait for it.
    Index { name: String },
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// (Re)creates the demo world's embedding set `demo`.
    Demo(DemoArgs),
    /// Embeds a dataset with CLIP into a new embedding set (resumes an interrupted one).
    Embed(EmbedArgs),
    /// Lists embedding sets (or merges a sharded one's slices, or verifies a set's files).
    Sets(SetsArgs),
    /// Writes the picture of one item of a set as PNG (demo sets draw it on demand).
    Image(ImageArgs),
    /// Trains one SAE.
    Train(TrainArgs),
    /// Trains one run per λ (relu, jumprelu) or per k (topk, batchtopk, matryoshka),
    /// concurrently.
    Sweep(SweepArgs),
    /// Lists runs with their status and progress.
    Runs,
    /// Continues interrupted runs from their last checkpoint.
    Resume(ResumeArgs),
    /// The metrics table (all runs by default).
    Metrics(MetricsArgs),
    /// Indexes and labels a run's latents; lists the clearest; writes the study's CSV.
    Latents(LatentsArgs),
    /// Prints a latent's collage and label in the terminal.
    Show(ShowArgs),
    /// Zero-shot accuracy, CLIP alone and through each run's SAE.
    Zeroshot(ZeroshotArgs),
    /// Steers one image along SAE latents and shows what changes (or --check N measures it).
    Steer(SteerArgs),
    /// Writes a markdown report (tables, plots, collages, labels) from the workspace.
    Report(ReportArgs),
    /// Explains an image, a text or a class in terms of a run's SAE latents.
    Explain(ExplainArgs),
    /// The evaluation card of finished runs (fidelity, firing, zero-shot recovered, probing).
    Eval(EvalArgs),
    /// Writes a finished run as a SAELens (or sparsify) SAE folder.
    Export(ExportArgs),
    /// Reads a SAELens or sparsify SAE (folder or hub repo) as a run on a set.
    Import(ImportArgs),
    /// Makes an embedding set from .npy, .safetensors or .parquet embeddings made elsewhere.
    ImportSet(ImportSetArgs),
    /// Times SAE training at the study's shapes (compare with tools/bench/ref_sae.py).
    Bench(BenchArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DeviceArg {
    Auto,
    Cpu,
    Cuda,
    Metal,
}

impl From<DeviceArg> for DeviceChoice {
    fn from(a: DeviceArg) -> Self {
        match a {
            DeviceArg::Auto => DeviceChoice::Auto,
            DeviceArg::Cpu => DeviceChoice::Cpu,
            DeviceArg::Cuda => DeviceChoice::Cuda,
            DeviceArg::Metal => DeviceChoice::Metal,
        }
    }
}

/// A number of a comma-separated list, with spaces around it allowed (`1e-3, 1e-2`).
pub(crate) fn trimmed<T>(value: &str) -> Result<T, String>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    value
        .trim()
        .parse()
        .map_err(|e| format!("'{}': {e}", value.trim()))
}
