//! `saelab resume` and `saelab metrics`.

use clap::Args;

/// `saelab resume`: continues interrupted runs.
#[derive(Debug, Clone, PartialEq, Args)]
pub struct ResumeArgs {
    /// The runs to continue.
    #[arg(required = true)]
    pub runs: Vec<String>,
    /// Train to this many epochs in all (extends a finished run).
    #[arg(long)]
    pub epochs: Option<usize>,
}

/// `saelab metrics`: the metrics table.
#[derive(Debug, Clone, Args)]
pub struct MetricsArgs {
    /// Runs to list (default: all).
    pub runs: Vec<String>,
}

impl super::ToArgv for ResumeArgs {
    fn to_argv(&self) -> Vec<String> {
        let a = self
            .runs
            .iter()
            .fold(super::argv::Argv::new("resume"), |a, r| a.arg(r));
        a.opt_some("--epochs", self.epochs).done()
    }
}
