//! `saelab steer`, and its Kandinsky 2.2 generation options.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::engine::steer::{ImageRef, Method, Units};

/// Decoder denoising steps when none are given.
pub const DEFAULT_STEPS: usize = 50;
/// Prior denoising steps when none are given.
pub const DEFAULT_PRIOR_STEPS: usize = 25;
/// Classifier-free guidance of prior and decoder when none is given.
pub const DEFAULT_GUIDANCE: f64 = 4.0;
/// Picture side in pixels when none is given.
pub const DEFAULT_SIZE: usize = 512;
/// Strength of `--strength` when none is given, in units of the latent's typical activation.
pub const DEFAULT_STRENGTH: f32 = 2.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    Edit,
    Add,
}

impl From<MethodArg> for Method {
    fn from(a: MethodArg) -> Self {
        match a {
            MethodArg::Edit => Method::Edit,
            MethodArg::Add => Method::Add,
        }
    }
}

impl From<Method> for MethodArg {
    fn from(m: Method) -> Self {
        match m {
            Method::Edit => MethodArg::Edit,
            Method::Add => MethodArg::Add,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UnitsArg {
    Typical,
    Max,
}

impl From<UnitsArg> for Units {
    fn from(a: UnitsArg) -> Self {
        match a {
            UnitsArg::Typical => Units::Typical,
            UnitsArg::Max => Units::Max,
        }
    }
}

/// `saelab steer`: steers one image along SAE latents and shows what changes.
#[derive(Debug, Clone, PartialEq, Args)]
pub struct SteerArgs {
    pub run: String,
    /// Row of the run's set to steer, or a picture file, embedded with the set's CLIP model.
    #[arg(long, value_name = "ID|PATH", required_unless_present_any = ["check", "prompt"], conflicts_with = "prompt")]
    pub image: Option<String>,
    /// Latent to move (repeat for several).
    #[arg(long, required_unless_present = "check")]
    pub latent: Vec<usize>,
    /// Strength in units of each latent's typical activation (negative removes).
    #[arg(long, allow_negative_numbers = true, default_value_t = DEFAULT_STRENGTH)]
    pub strength: f32,
    /// edit: change the latent and keep the reconstruction error; add: add its direction
    /// (default: edit; add with --generate, as the study steered Kandinsky).
    #[arg(long, value_enum)]
    pub method: Option<MethodArg>,
    /// Units of --strength: the latent's typical (90th percentile) or maximum activation.
    #[arg(long, value_enum, default_value = "typical")]
    pub units: UnitsArg,
    /// Clamp the latents to zero instead (ablation).
    #[arg(long)]
    pub ablate: bool,
    /// Zero-shot task whose class distribution is shown (default: demo100 on demo sets,
    /// else the set's own item labels when it has 2 to 1,000 of them, as CIFAR sets do).
    #[arg(long)]
    pub task: Option<String>,
    /// Measure instead: N random images and labelled latents, ±strength each.
    #[arg(long, value_name = "N")]
    pub check: Option<usize>,
    #[command(flatten)]
    pub generate: GenerateArgs,
}

impl SteerArgs {
    /// The image to steer, a row id or a picture file.
    pub fn image_ref(&self) -> Option<ImageRef> {
        self.image.as_deref().map(ImageRef::parse)
    }

    /// The method asked for, else the default: add when generating (as the study steered
    /// Kandinsky), edit otherwise.
    pub fn method(&self) -> Method {
        match (self.method, self.generate.generate) {
            (Some(m), _) => m.into(),
            (None, true) => Method::Add,
            (None, false) => Method::Edit,
        }
    }
}

/// Kandinsky 2.2 generation from a steered 1280-d image embedding.
#[derive(Debug, Clone, PartialEq, Args)]
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
    #[arg(long, default_value_t = DEFAULT_STEPS)]
    pub steps: usize,
    /// Prior denoising steps.
    #[arg(long, default_value_t = DEFAULT_PRIOR_STEPS)]
    pub prior_steps: usize,
    /// Classifier-free guidance scale of both prior and decoder.
    #[arg(long, default_value_t = DEFAULT_GUIDANCE)]
    pub guidance: f64,
    /// Picture side in pixels (rounded up to a multiple of 64).
    #[arg(long, default_value_t = DEFAULT_SIZE)]
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

impl Default for GenerateArgs {
    /// No generation; the options at their parser defaults.
    fn default() -> Self {
        GenerateArgs {
            generate: false,
            prompt: None,
            seed: 0,
            steps: DEFAULT_STEPS,
            prior_steps: DEFAULT_PRIOR_STEPS,
            guidance: DEFAULT_GUIDANCE,
            size: DEFAULT_SIZE,
            decoder: crate::engine::hub::DEFAULT_DECODER.to_string(),
            prior: crate::engine::hub::DEFAULT_PRIOR.to_string(),
            offline: false,
            out: None,
        }
    }
}

impl super::ToArgv for SteerArgs {
    fn to_argv(&self) -> Vec<String> {
        let g = &self.generate;
        let mut a = super::argv::Argv::new("steer")
            .arg(&self.run)
            .opt_some("--image", self.image.as_ref())
            .each("--latent", &self.latent)
            .opt("--strength", self.strength);
        if let Some(m) = self.method {
            a = a.choice("--method", m);
        }
        a.choice("--units", self.units)
            .flag("--ablate", self.ablate)
            .opt_some("--task", self.task.as_ref())
            .opt_some("--check", self.check)
            .flag("--generate", g.generate)
            .opt_some("--prompt", g.prompt.as_ref())
            .opt("--seed", g.seed)
            .opt("--steps", g.steps)
            .opt("--prior-steps", g.prior_steps)
            .opt("--guidance", g.guidance)
            .opt("--size", g.size)
            .opt("--decoder", &g.decoder)
            .opt("--prior", &g.prior)
            .flag("--offline", g.offline)
            .opt_some("--out", g.out.as_ref().map(|p| p.display()))
            .done()
    }
}
