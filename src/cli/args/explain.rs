//! `saelab explain`.

use clap::{ArgGroup, Args};

/// `saelab explain`: an image, a text or a class in terms of a run's latents.
#[derive(Debug, Clone, PartialEq, Args)]
#[command(group(ArgGroup::new("what").required(true).args(["image", "text", "class"])))]
pub struct ExplainArgs {
    /// The run whose SAE explains.
    pub run: String,
    /// A row of the run's set, or a picture file: its latents by share of the reconstruction.
    #[arg(long, value_name = "ID|PATH")]
    pub image: Option<String>,
    /// A text, moved across the gap between text and image embeddings, as latents.
    #[arg(long)]
    pub text: Option<String>,
    /// A class of the zero-shot task: the latents that carry its decisions over the set.
    #[arg(long)]
    pub class: Option<String>,
    /// The zero-shot task images and classes are explained against (default: the set's own).
    #[arg(long)]
    pub task: Option<String>,
    /// Latents listed.
    #[arg(long, default_value_t = crate::engine::explain::DEFAULT_TOP)]
    pub top: usize,
}
