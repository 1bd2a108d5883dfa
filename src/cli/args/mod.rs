//! The command line, as clap reads it. Names follow `shared/design/contract.md`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::engine::device::DeviceChoice;
use crate::engine::sae::{Arch, BiasInit, L1Convention, TrainConfig};

#[derive(Debug, Parser)]
#[command(
    name = "saelab",
    version,
    about = "A terminal lab for sparse autoencoders on CLIP embeddings"
)]
pub struct Cli {
    /// Workspace folder (default: $SAELAB_WORKSPACE, else the platform's data folder).
    #[arg(long, global = true, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// Compute device: auto (CUDA, then Metal, then CPU), cpu, cuda or metal.
    #[arg(long, global = true, value_enum, default_value = "auto")]
    pub device: DeviceArg,
    /// Machine-readable JSON on stdout; progress and logs go to stderr.
    #[arg(long, global = true)]
    pub json: bool,
    /// No progress bars or informational messages.
    #[arg(long, global = true)]
    pub quiet: bool,
    /// The lab's colours: dark, light, high-contrast, or a theme file (default: $SAELAB_THEME,
    /// else dark).
    #[arg(long, global = true, env = "SAELAB_THEME", default_value = "dark")]
    pub theme: String,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// (Re)creates the demo world's embedding set `demo`.
    Demo {
        /// Number of images.
        #[arg(long, default_value_t = crate::engine::demo::DEFAULT_IMAGES)]
        images: usize,
        #[arg(long, default_value_t = crate::engine::demo::DEFAULT_SEED)]
        seed: u64,
    },
    /// Embeds a dataset with CLIP into a new embedding set (resumes an interrupted one).
    Embed(EmbedArgs),
    /// Lists embedding sets.
    Sets,
    /// Writes the picture of one item of a set as PNG (demo sets draw it on demand).
    Image {
        set: String,
        id: usize,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Trains one SAE.
    Train {
        /// Embedding set to train on.
        #[arg(long)]
        data: String,
        /// Sparsity coefficient λ: on the L1 penalty (relu, required) or the L0 penalty
        /// (jumprelu, required).
        #[arg(long = "lambda", allow_negative_numbers = true)]
        lambda: Option<f64>,
        /// Active latents per row for topk, batchtopk and matryoshka (default 32).
        #[arg(long)]
        k: Option<usize>,
        /// Run name (default: SET-lamλ; SET-ARCH-kK or SET-jumprelu-lamλ for the other families).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        opts: TrainOpts,
    },
    /// Trains one run per λ (relu, jumprelu) or per k (topk, batchtopk, matryoshka),
    /// concurrently.
    Sweep {
        /// Embedding set to train on.
        #[arg(long)]
        data: String,
        /// Comma-separated λ values (relu, jumprelu).
        #[arg(
            long,
            value_delimiter = ',',
            allow_negative_numbers = true,
            default_value = "1e-3,1e-2,3e-2"
        )]
        lambdas: Vec<f64>,
        /// Comma-separated k values (topk, batchtopk, matryoshka; default 16,32,64).
        #[arg(long = "k", value_delimiter = ',')]
        ks: Vec<usize>,
        /// Prefix of the run names (default: the set's name).
        #[arg(long)]
        prefix: Option<String>,
        #[command(flatten)]
        opts: TrainOpts,
    },
    /// Lists runs with their status and progress.
    Runs,
    /// Continues interrupted runs from their last checkpoint.
    Resume {
        #[arg(required = true)]
        runs: Vec<String>,
        /// Train to this many epochs in all (extends a finished run).
        #[arg(long)]
        epochs: Option<usize>,
    },
    /// The metrics table (all runs by default).
    Metrics { runs: Vec<String> },
    /// Indexes and labels a run's latents; lists the clearest; writes the study's CSV.
    Latents {
        run: String,
        /// Top activating rows kept per latent (the collage size).
        #[arg(long, default_value_t = crate::engine::latents::DEFAULT_TOP)]
        top: usize,
        /// How many labelled latents to list, most confident first.
        #[arg(long, default_value_t = 10)]
        list: usize,
        /// Labeller: `clip` scores a vocabulary of visual words with the set's text encoder;
        /// `caption` captions each latent's top images with BLIP and summarises the captions
        /// (the study's method), for latents FROM..FROM+COUNT.
        #[arg(long, value_enum, default_value = "clip")]
        label: LabelArg,
        /// The BLIP captioner for `--label caption`: a folder or a hub repo id.
        #[arg(long, default_value = crate::engine::caption::DEFAULT_CAPTIONER)]
        captioner: String,
        /// Top images captioned per latent.
        #[arg(long, default_value_t = crate::engine::latents::captioned::DEFAULT_CAPTIONED)]
        captioned: usize,
        /// Read the captioner from the Hugging Face cache only.
        #[arg(long)]
        offline: bool,
        /// Write the study's CSV (latent_id, category, description, top_words, frequency,
        /// max_activation, collage) for latents FROM..FROM+COUNT, with their collages.
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
        /// First latent of the CSV's (or the captions') range.
        #[arg(long, default_value_t = 0)]
        from: usize,
        /// Latents in that range (the study labelled 300).
        #[arg(long, default_value_t = 300)]
        count: usize,
    },
    /// Prints a latent's collage and label in the terminal.
    Show {
        run: String,
        latent: usize,
        #[arg(long, default_value_t = crate::engine::latents::DEFAULT_TOP)]
        top: usize,
    },
    /// Zero-shot accuracy, CLIP alone and through each run's SAE.
    Zeroshot {
        /// cifar10, cifar100, demo10 or demo100 (or the name given to --classes).
        #[arg(long, required_unless_present = "classes")]
        task: Option<String>,
        /// Runs to score (default: every finished run on the task's model).
        #[arg(long, num_args = 1..)]
        runs: Vec<String>,
        /// The embedding set to score (default: the task's own; demo tasks: a held-out set).
        #[arg(long)]
        set: Option<String>,
        /// Your own task: a TOML file with `classes` and `templates` ("{c}" marks the class).
        #[arg(long, value_name = "FILE")]
        classes: Option<PathBuf>,
        /// How many of the classes that lost the most to list per run.
        #[arg(long, default_value_t = 5)]
        losses: usize,
    },
    /// Steers one image along SAE latents and shows what changes (or --check N measures it).
    Steer {
        run: String,
        /// Row of the run's set to steer, or a picture file, embedded with the set's CLIP model.
        #[arg(long, value_name = "ID|PATH", required_unless_present_any = ["check", "prompt"], conflicts_with = "prompt")]
        image: Option<String>,
        /// Latent to move (repeat for several).
        #[arg(long, required_unless_present = "check")]
        latent: Vec<usize>,
        /// Strength in units of each latent's typical activation (negative removes).
        #[arg(long, allow_negative_numbers = true, default_value_t = 2.0)]
        strength: f32,
        /// edit: change the latent and keep the reconstruction error; add: add its direction
        /// (default: edit; add with --generate, as the study steered Kandinsky).
        #[arg(long, value_enum)]
        method: Option<MethodArg>,
        /// Units of --strength: the latent's typical (90th percentile) or maximum activation.
        #[arg(long, value_enum, default_value = "typical")]
        units: UnitsArg,
        /// Clamp the latents to zero instead (ablation).
        #[arg(long)]
        ablate: bool,
        /// Zero-shot task whose class distribution is shown (default: demo100 on demo sets,
        /// else the set's own item labels when it has 2 to 1,000 of them, as CIFAR sets do).
        #[arg(long)]
        task: Option<String>,
        /// Measure instead: N random images and labelled latents, ±strength each.
        #[arg(long, value_name = "N")]
        check: Option<usize>,
        #[command(flatten)]
        generate: GenerateArgs,
    },
    /// Writes a markdown report (tables, plots, collages, labels) from the workspace.
    Report {
        /// Runs to report (default: all).
        runs: Vec<String>,
        /// Folder to write README.md, plots/ and collages/ into.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Latents to show besides the most frequent and most confident (comma-separated).
        #[arg(long, value_delimiter = ',')]
        latents: Vec<usize>,
        /// Run whose latents are shown (default: the first finished run with a latent index).
        #[arg(long)]
        latent_run: Option<String>,
        /// Latents 0..N go into the report's label CSV, each with its collage.
        #[arg(long, default_value_t = 50)]
        csv_latents: usize,
    },
    /// Times SAE training at the study's shapes (compare with shared/bench/ref_sae.py).
    Bench {
        /// Steps to time (default: the whole 5 epochs).
        #[arg(long)]
        steps: Option<u64>,
        /// Train on the rows of `ref_sae.py --save-data FILE` instead of our own generator.
        #[arg(long, value_name = "FILE")]
        from: Option<PathBuf>,
        /// Sparsity coefficient (relu, jumprelu).
        #[arg(long = "lambda", default_value_t = 1e-3)]
        lambda: f64,
        /// L1 normalisation (relu, jumprelu).
        #[arg(long, value_enum, default_value = "mean")]
        l1: L1Arg,
        /// SAE family.
        #[arg(long, value_enum, default_value = "relu")]
        arch: ArchArg,
        /// Active latents per row (topk, batchtopk, matryoshka; default 32).
        #[arg(long)]
        k: Option<usize>,
        /// Steps without firing before a latent counts as dead (AuxK).
        #[arg(long, default_value_t = crate::engine::sae::config::DEFAULT_DEAD_AFTER)]
        dead_after: u64,
        /// AuxK's dead latents per row (0 turns AuxK off).
        #[arg(long, default_value_t = crate::engine::sae::config::DEFAULT_AUX_K)]
        aux_k: usize,
        #[arg(long, default_value_t = 1e-3)]
        lr: f64,
        /// Steps of linear learning-rate decay to zero at the end.
        #[arg(long, default_value_t = 0)]
        decay_steps: u64,
        /// How b_dec starts (zero, as ref_sae.py starts it).
        #[arg(long, value_enum, default_value = "zero")]
        b_dec_init: BiasArg,
    },
}

/// The SAE families (see `docs` and `sae/arch.rs`).
#[derive(Debug, Clone, Copy, ValueEnum)]
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

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MethodArg {
    Edit,
    Add,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum UnitsArg {
    Typical,
    Max,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LabelArg {
    /// CLIP text labels from the built-in vocabulary.
    Clip,
    /// BLIP captions of the top images, summarised.
    Caption,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum L1Arg {
    Mean,
    Sum,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
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
#[derive(Debug, Clone, Args)]
pub struct TrainOpts {
    /// SAE family: relu (the study's ReLU + L1), topk, batchtopk, jumprelu, matryoshka.
    #[arg(long, value_enum, default_value = "relu")]
    pub arch: ArchArg,
    /// Number of latents.
    #[arg(long, default_value_t = 4096)]
    pub dict: usize,
    #[arg(long, default_value_t = 5)]
    pub epochs: usize,
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// Adam's learning rate (default: 1e-3, the study's, for relu and jumprelu; 2e-3 for
    /// topk, batchtopk and matryoshka, whose short runs learn the ground truth better with it).
    #[arg(long, allow_negative_numbers = true)]
    pub lr: Option<f64>,
    /// L1 normalisation: mean over batch and latents (the study's) or sum over latents.
    #[arg(long, value_enum, default_value = "mean")]
    pub l1: L1Arg,
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
    #[arg(long, value_delimiter = ',')]
    pub prefixes: Vec<usize>,
    /// Steps of linear learning-rate warm-up.
    #[arg(long, default_value_t = 0)]
    pub warmup: u64,
    /// The last this many steps decay the learning rate linearly to zero.
    #[arg(long, default_value_t = 0)]
    pub decay_steps: u64,
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
            ..TrainConfig::default()
        }
    }
}

/// `saelab embed`'s options.
/// Kandinsky 2.2 generation from a steered 1280-d image embedding.
#[derive(Debug, Clone, Args)]
pub struct GenerateArgs {
    /// Generate the study's triptych (orig, plus, minus) with Kandinsky 2.2 instead of the
    /// preview; the run's SAE must be trained on Kandinsky's 1280-d image embeddings.
    #[arg(long, requires = "latent")]
    pub generate: bool,
    /// Start from this prompt, through the prior (with --generate; instead of --image).
    #[arg(long, requires = "generate")]
    pub prompt: Option<String>,
    /// Seed of the prior's and the decoder's noise; the three pictures share it.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Decoder denoising steps.
    #[arg(long, default_value_t = 50)]
    pub steps: usize,
    /// Prior denoising steps.
    #[arg(long, default_value_t = 25)]
    pub prior_steps: usize,
    /// Classifier-free guidance scale of both prior and decoder.
    #[arg(long, default_value_t = 4.0)]
    pub guidance: f64,
    /// Picture side in pixels (rounded up to a multiple of 64).
    #[arg(long, default_value_t = 512)]
    pub size: usize,
    /// Kandinsky 2.2 decoder: a folder or hub repo id.
    #[arg(long, value_name = "DIR|REPO", default_value = crate::engine::hub::DEFAULT_DECODER)]
    pub decoder: String,
    /// Kandinsky 2.2 prior: a folder or hub repo id.
    #[arg(long, value_name = "DIR|REPO", default_value = crate::engine::hub::DEFAULT_PRIOR)]
    pub prior: String,
    /// Read models from the Hugging Face cache only.
    #[arg(long)]
    pub offline: bool,
    /// Folder for the pictures (default: the run's generated/ folder).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// A hub repo id or a local CLIPModel folder (config.json + model.safetensors).
    #[arg(long, default_value = crate::engine::hub::DEFAULT_MODEL)]
    pub model: String,
    /// KIND:PATH, KIND one of folder, flickr30k, cifar10, cifar100, parquet.
    #[arg(long, value_name = "KIND:PATH")]
    pub dataset: String,
    /// Name of the new set (CIFAR tasks look for sets named cifar10 and cifar100).
    #[arg(long)]
    pub name: String,
    /// Images per forward pass.
    #[arg(long, default_value_t = crate::engine::embed::DEFAULT_BATCH)]
    pub batch: usize,
    /// train or test, for datasets with splits.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Embed only the first N images.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Use the Hugging Face cache only; never download.
    #[arg(long)]
    pub offline: bool,
    /// Embed each example's caption (else "a photo of a {label}.") through this Kandinsky
    /// 2.2 prior instead of its picture through CLIP: the study's 1280-d prior embeddings.
    #[arg(long, value_name = "DIR|REPO", num_args = 0..=1,
          default_missing_value = crate::engine::hub::DEFAULT_PRIOR)]
    pub prior: Option<String>,
    /// The prior's denoising steps (with --prior).
    #[arg(long, default_value_t = 25, requires = "prior")]
    pub prior_steps: usize,
    /// The prior's classifier-free guidance scale (with --prior).
    #[arg(long, default_value_t = 4.0, requires = "prior")]
    pub guidance: f64,
    /// Seed of the prior's noise (with --prior).
    #[arg(long, default_value_t = 0, requires = "prior")]
    pub seed: u64,
}
