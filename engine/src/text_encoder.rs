//! What zero-shot classifiers and latent labels need of a text model: prompts embedded into the
//! image embedding space. CLIP's text tower (`clip::text`) and the demo world's concept encoder
//! (`zeroshot::DemoText`) are the two.

use crate::error::Result;

/// Anything that embeds prompts into the image embedding space.
pub trait TextEncoder {
    /// The model's name, which must match the image set's `model`.
    fn model(&self) -> String;
    fn dim(&self) -> usize;
    /// Unit embeddings of the prompts. shape: [prompts.len(), dim]
    fn embed(&self, prompts: &[String]) -> Result<Vec<f32>>;
}
