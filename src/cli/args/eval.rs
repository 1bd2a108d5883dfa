//! `saelab eval`.

use clap::Args;

/// `saelab eval [RUN...]`: the evaluation card of finished runs.
#[derive(Debug, Clone, PartialEq, Args)]
pub struct EvalArgs {
    /// The runs (default: every finished run).
    pub runs: Vec<String>,
}
