//! `saelab latents` and `saelab show`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LabelArg {
    /// CLIP text labels from the built-in vocabulary.
    Clip,
    /// BLIP captions of the top images, summarised.
    Caption,
}

/// `saelab latents`: indexes and labels a run's latents.
#[derive(Debug, Clone, Args)]
pub struct LatentsArgs {
    pub run: String,
    /// Top activating rows kept per latent (the collage size).
    #[arg(long, default_value_t = crate::engine::latents::DEFAULT_TOP)]
    pub top: usize,
    /// How many labelled latents to list, most confident first.
    #[arg(long, default_value_t = 10)]
    pub list: usize,
    /// Labeller: `clip` scores a vocabulary of visual words with the set's text encoder;
    /// `caption` captions each latent's top images with BLIP and summarises the captions
    /// (the study's method), for latents FROM..FROM+COUNT.
    #[arg(long, value_enum, default_value = "clip")]
    pub label: LabelArg,
    /// The BLIP captioner for `--label caption`: a folder or a hub repo id.
    #[arg(long, default_value = crate::engine::caption::DEFAULT_CAPTIONER)]
    pub captioner: String,
    /// Top images captioned per latent.
    #[arg(long, default_value_t = crate::engine::latents::captioned::DEFAULT_CAPTIONED)]
    pub captioned: usize,
    /// Read the captioner from the Hugging Face cache only.
    #[arg(long)]
    pub offline: bool,
    /// Write the study's CSV (latent_id, category, description, top_words, frequency,
    /// max_activation, collage) for latents FROM..FROM+COUNT, with their collages.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// First latent of the CSV's (or the captions') range.
    #[arg(long, default_value_t = 0)]
    pub from: usize,
    /// Latents in that range (the study labelled 300).
    #[arg(long, default_value_t = 300)]
    pub count: usize,
}

/// `saelab show`: a latent's collage and label in a plain terminal.
#[derive(Debug, Clone, Args)]
pub struct ShowArgs {
    /// The run.
    pub run: String,
    /// The latent's id.
    pub latent: usize,
    /// Top activating rows in the collage.
    #[arg(long, default_value_t = crate::engine::latents::DEFAULT_TOP)]
    pub top: usize,
}
