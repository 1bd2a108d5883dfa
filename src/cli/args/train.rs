//! `saelab train`, and the training options `train`, `sweep` and `bench` share.

use clap::{Args, ValueEnum};

use crate::engine::sae::{Arch, BiasInit, L1Convention, Precision, TrainConfig};

/// `saelab train`: trains one SAE.
#[derive(Debug, Clone, PartialEq, Args)]
pub struct TrainArgs {
    /// Embedding set to train on.
    #[arg(long)]
    pub data: String,
    /// Sparsity coefficient λ: on the L1 penalty (relu, required) or the L0 penalty
    /// (jumprelu, required).
    #[arg(long = "lambda", allow_negative_numbers = true)]
    pub lambda: Option<f64>,
    /// Active latents per row for topk, batchtopk and matryoshka (default 32).
    #[arg(long)]
    pub k: Option<usize>,
    /// Run name (default: SET-lamλ; SET-ARCH-kK or SET-jumprelu-lamλ for the other families).
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub opts: TrainOpts,
}

/// The SAE families (see `docs` and `sae/arch.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ArchArg {
    /// ReLU + L1, the study's.
    Relu,
    /// Each row's k largest latents.
    Topk,
    /// The batch's k·B largest; a threshold at inference.
    Batchtopk,
    /// A learned threshold per latent, with an L0 penalty λ.
    Jumprelu,
    /// BatchTopK with nested prefixes of the dictionary.
    Matryoshka,
}

impl From<ArchArg> for Arch {
    fn from(a: ArchArg) -> Self {
        match a {
            ArchArg::Relu => Arch::Relu,
            ArchArg::Topk => Arch::TopK,
            ArchArg::Batchtopk => Arch::BatchTopK,
            ArchArg::Jumprelu => Arch::JumpRelu,
            ArchArg::Matryoshka => Arch::Matryoshka,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PrecisionArg {
    /// f32 products (the CPU's arithmetic).
    F32,
    /// f32 products on CUDA's TF32 tensor cores.
    Tf32,
    /// Products of bf16 copies of the operands; f32 weights and Adam state.
    Bf16,
}

impl From<PrecisionArg> for Precision {
    fn from(a: PrecisionArg) -> Self {
        match a {
            PrecisionArg::F32 => Precision::F32,
            PrecisionArg::Tf32 => Precision::Tf32,
            PrecisionArg::Bf16 => Precision::Bf16,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum L1Arg {
    Mean,
    Sum,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BiasArg {
    Mean,
    /// The geometric median of a sample of the rows.
    Median,
    Zero,
}

impl From<BiasArg> for BiasInit {
    fn from(a: BiasArg) -> Self {
        match a {
            BiasArg::Mean => BiasInit::Mean,
            BiasArg::Median => BiasInit::Median,
            BiasArg::Zero => BiasInit::Zero,
        }
    }
}

/// Training options shared by `train` and `sweep`; defaults are the study's.
#[derive(Debug, Clone, PartialEq, Args)]
pub struct TrainOpts {
    /// SAE family: relu (the study's ReLU + L1), topk, batchtopk, jumprelu, matryoshka.
    #[arg(long, value_enum, default_value = "relu")]
    pub arch: ArchArg,
    /// Number of latents.
    #[arg(long, default_value_t = TrainConfig::default().dict)]
    pub dict: usize,
    /// Passes over the set.
    #[arg(long, default_value_t = TrainConfig::default().epochs)]
    pub epochs: usize,
    /// Rows per step.
    #[arg(long, default_value_t = TrainConfig::default().batch)]
    pub batch: usize,
    /// The matrix products' arithmetic on a GPU (the CPU trains in f32).
    #[arg(long, value_enum, default_value = "f32")]
    pub precision: PrecisionArg,
    /// Adam's learning rate (default: 1e-3, the study's, for relu and jumprelu; 2e-3 for
    /// topk, batchtopk and matryoshka, whose short runs learn the ground truth better with it).
    #[arg(long, allow_negative_numbers = true)]
    pub lr: Option<f64>,
    /// L1 normalisation: mean over batch and latents (the study's) or sum over latents.
    #[arg(long, value_enum, default_value = "mean")]
    pub l1: L1Arg,
    /// Seed of the initial weights and the data order.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Save a checkpoint every this many steps (and at every epoch's end).
    #[arg(long, default_value_t = 50)]
    pub checkpoint_every: u64,
    /// Log a metrics line every this many steps.
    #[arg(long, default_value_t = 5)]
    pub log_every: u64,
    /// Keep decoder rows at unit norm (always on for topk, batchtopk and matryoshka unless
    /// --free-decoder).
    #[arg(long, conflicts_with = "free_decoder")]
    pub unit_norm_decoder: bool,
    /// TopK family: let decoder rows grow or shrink (no unit norm, no gradient projection).
    #[arg(long)]
    pub free_decoder: bool,
    /// Draw the encoder independently instead of starting it as the decoder's transpose.
    #[arg(long)]
    pub untied_init: bool,
    /// How b_dec starts: the data's mean, its geometric median, or zero.
    #[arg(long, value_enum, default_value = "mean")]
    pub b_dec_init: BiasArg,
    /// TopK family: dead latents per row that reconstruct the residual (AuxK; 0 turns it off).
    #[arg(long, default_value_t = crate::engine::sae::config::DEFAULT_AUX_K)]
    pub aux_k: usize,
    /// AuxK's weight in the loss.
    #[arg(long, default_value_t = crate::engine::sae::config::DEFAULT_AUX_COEF)]
    pub aux_coef: f64,
    /// Steps without firing before a latent counts as dead.
    #[arg(long, default_value_t = crate::engine::sae::config::DEFAULT_DEAD_AFTER)]
    pub dead_after: u64,
    /// Matryoshka: comma-separated nested prefix sizes (default dict/32, /8, /4, /2, dict).
    #[arg(long, value_delimiter = ',', value_parser = super::trimmed::<usize>)]
    pub prefixes: Vec<usize>,
    /// Steps of linear learning-rate warm-up.
    #[arg(long, default_value_t = 0)]
    pub warmup: u64,
    /// The last this many steps decay the learning rate linearly to zero.
    #[arg(long, default_value_t = 0)]
    pub decay_steps: u64,
    /// A sharded set: rows in each window of the shuffle buffer (three are held at most; at
    /// least one batch).
    #[arg(long, default_value_t = crate::engine::sae::config::DEFAULT_SHUFFLE_WINDOW)]
    pub shuffle_window: usize,
}

impl From<L1Arg> for L1Convention {
    fn from(a: L1Arg) -> Self {
        match a {
            L1Arg::Mean => L1Convention::Mean,
            L1Arg::Sum => L1Convention::Sum,
        }
    }
}

/// The learning rate a family trains at unless `--lr` says otherwise.
pub fn default_lr(arch: Arch) -> f64 {
    if arch.uses_k() {
        crate::engine::sae::config::TOPK_LR
    } else {
        TrainConfig::default().lr
    }
}

impl TrainOpts {
    /// The run's config for one λ (or the default, where the family has none) and k.
    pub fn config(&self, lambda: Option<f64>, k: Option<usize>) -> TrainConfig {
        let arch: Arch = self.arch.into();
        TrainConfig {
            arch,
            dict: self.dict,
            lambda: lambda.unwrap_or(TrainConfig::default().lambda),
            k,
            l1: self.l1.into(),
            lr: self.lr.unwrap_or_else(|| default_lr(arch)),
            batch: self.batch,
            epochs: self.epochs,
            seed: self.seed,
            unit_norm_decoder: self.unit_norm_decoder || (arch.uses_k() && !self.free_decoder),
            tied_init: !self.untied_init,
            b_dec_init: self.b_dec_init.into(),
            checkpoint_every: self.checkpoint_every,
            log_every: self.log_every,
            aux_k: self.aux_k,
            aux_coef: self.aux_coef,
            dead_after: self.dead_after,
            prefixes: self.prefixes.clone(),
            warmup_steps: self.warmup,
            decay_steps: self.decay_steps,
            precision: self.precision.into(),
            shuffle_window: self.shuffle_window,
            ..TrainConfig::default()
        }
    }
}

impl TrainOpts {
    /// The options as the parser gives them when none is typed: clap's defaults are their one
    /// definition.
    pub fn parsed_defaults() -> Result<Self, String> {
        #[derive(clap::Parser)]
        struct OptsOnly {
            #[command(flatten)]
            opts: TrainOpts,
        }
        <OptsOnly as clap::Parser>::try_parse_from(["saelab"])
            .map(|o| o.opts)
            .map_err(|e| e.to_string())
    }

    /// These options appended to a command line.
    pub fn push_argv(&self, a: super::argv::Argv) -> super::argv::Argv {
        a.choice("--arch", self.arch)
            .opt("--dict", self.dict)
            .opt("--epochs", self.epochs)
            .opt("--batch", self.batch)
            .choice("--precision", self.precision)
            .opt_some("--lr", self.lr)
            .choice("--l1", self.l1)
            .opt("--seed", self.seed)
            .opt("--checkpoint-every", self.checkpoint_every)
            .opt("--log-every", self.log_every)
            .flag("--unit-norm-decoder", self.unit_norm_decoder)
            .flag("--free-decoder", self.free_decoder)
            .flag("--untied-init", self.untied_init)
            .choice("--b-dec-init", self.b_dec_init)
            .opt("--aux-k", self.aux_k)
            .opt("--aux-coef", self.aux_coef)
            .opt("--dead-after", self.dead_after)
            .list("--prefixes", &self.prefixes)
            .opt("--warmup", self.warmup)
            .opt("--decay-steps", self.decay_steps)
            .opt("--shuffle-window", self.shuffle_window)
    }
}
