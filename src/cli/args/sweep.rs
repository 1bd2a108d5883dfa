//! `saelab sweep`.

use clap::Args;

use super::train::TrainOpts;

/// λ values a sweep trains when none are given: the study's.
pub const DEFAULT_LAMBDAS: &str = "1e-3,1e-2,3e-2";
/// k values a sweep of the TopK family trains when none are given.
pub const DEFAULT_KS: &str = "16,32,64";

/// `saelab sweep`: one run per λ (relu, jumprelu) or per k (topk, batchtopk, matryoshka).
#[derive(Debug, Clone, PartialEq, Args)]
pub struct SweepArgs {
    /// Embedding set to train on.
    #[arg(long)]
    pub data: String,
    /// Comma-separated λ values (relu, jumprelu).
    #[arg(
        long,
        value_delimiter = ',',
        value_parser = super::trimmed::<f64>,
        allow_negative_numbers = true,
        default_value = DEFAULT_LAMBDAS
    )]
    pub lambdas: Vec<f64>,
    /// Comma-separated k values (topk, batchtopk, matryoshka; default 16,32,64).
    #[arg(long = "k", value_delimiter = ',', value_parser = super::trimmed::<usize>)]
    pub ks: Vec<usize>,
    /// Prefix of the run names (default: the set's name).
    #[arg(long)]
    pub prefix: Option<String>,
    #[command(flatten)]
    pub opts: TrainOpts,
}

impl super::ToArgv for SweepArgs {
    fn to_argv(&self) -> Vec<String> {
        let a = super::argv::Argv::new("sweep")
            .opt("--data", &self.data)
            .list("--lambdas", &self.lambdas)
            .list("--k", &self.ks)
            .opt_some("--prefix", self.prefix.as_ref());
        self.opts.push_argv(a).done()
    }
}
