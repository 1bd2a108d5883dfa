//! `saelab zeroshot`.

use std::path::PathBuf;

use clap::Args;

/// Classes that lost the most listed per run.
pub const DEFAULT_LOSSES: usize = 5;

#[derive(Debug, Clone, PartialEq, Args)]
pub struct ZeroshotArgs {
    /// cifar10, cifar100, demo10 or demo100 (or the name given to --classes).
    #[arg(long, required_unless_present = "classes")]
    pub task: Option<String>,
    /// Runs to score (default: every finished run on the task's model).
    #[arg(long, num_args = 1..)]
    pub runs: Vec<String>,
    /// The embedding set to score (default: the task's own; demo tasks: a held-out set).
    #[arg(long)]
    pub set: Option<String>,
    /// Your own task: a TOML file with `classes` and `templates` ("{c}" marks the class).
    #[arg(long, value_name = "FILE")]
    pub classes: Option<PathBuf>,
    /// How many of the classes that lost the most to list per run.
    #[arg(long, default_value_t = DEFAULT_LOSSES)]
    pub losses: usize,
}

impl ZeroshotArgs {
    /// Scores `task` on every finished run, as `saelab zeroshot --task TASK` does.
    pub fn task(task: &str) -> Self {
        ZeroshotArgs {
            task: Some(task.to_string()),
            runs: Vec::new(),
            set: None,
            classes: None,
            losses: DEFAULT_LOSSES,
        }
    }
}

impl super::ToArgv for ZeroshotArgs {
    fn to_argv(&self) -> Vec<String> {
        let mut a = super::argv::Argv::new("zeroshot")
            .opt_some("--task", self.task.as_ref())
            .opt_some("--set", self.set.as_ref())
            .opt_some("--classes", self.classes.as_ref().map(|p| p.display()))
            .opt("--losses", self.losses);
        if !self.runs.is_empty() {
            a = self.runs.iter().fold(a.arg("--runs"), |a, r| a.arg(r));
        }
        a.done()
    }
}
