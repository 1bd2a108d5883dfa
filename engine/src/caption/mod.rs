//! Captions for pictures with BLIP (transformers' `BlipForConditionalGeneration` weights),
//! decoded greedily as transformers' `generate` does by default, and summarised into the
//! study's caption labels: key words and "This feature activates on images containing: ...".

pub mod cache;
pub mod config;
pub mod decoder;
pub mod generate;
pub mod model;
pub mod preprocess;
pub mod summary;
pub mod vision;
pub mod vocab;

pub use cache::CaptionCache;
pub use model::Captioner;
pub use summary::{summarise, Summary};

/// The captioner used when none is named: BLIP base, the smaller of Salesforce's two
/// captioning checkpoints (`Salesforce/blip-image-captioning-large` also works).
pub const DEFAULT_CAPTIONER: &str = "Salesforce/blip-image-captioning-base";

#[cfg(test)]
mod tests;
