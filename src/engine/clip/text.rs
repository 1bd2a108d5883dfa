//! CLIP's text tower as the zero-shot classifiers' prompt encoder.

use candle_core::Device;

use super::model::{unit_rows, Clip};
use super::tokenizer::ClipTokenizer;
use crate::engine::error::Result;
use crate::engine::hub::ModelSource;
use crate::engine::zeroshot::TextEncoder;

/// Prompts embedded at a time.
const BATCH: usize = 64;

pub struct ClipText {
    name: String,
    clip: Clip,
    tokenizer: ClipTokenizer,
}

impl ClipText {
    /// The text tower of the model a set was embedded with (`set.toml`'s `model`).
    pub fn load(model: &str, device: &Device) -> Result<Self> {
        let source = ModelSource::new(model);
        let clip = Clip::load(&source.resolve()?, device)?;
        let context = clip.config.text()?.max_position_embeddings;
        Ok(ClipText {
            name: model.to_string(),
            clip,
            tokenizer: ClipTokenizer::new().with_context(context),
        })
    }
}

impl TextEncoder for ClipText {
    fn model(&self) -> String {
        self.name.clone()
    }

    fn dim(&self) -> usize {
        self.clip.config.projection_dim
    }

    fn embed(&self, prompts: &[String]) -> Result<Vec<f32>> {
        let mut out = Vec::with_capacity(prompts.len() * self.dim());
        for group in prompts.chunks(BATCH) {
            let ids: Vec<Vec<u32>> = group.iter().map(|p| self.tokenizer.encode(p)).collect();
            out.extend(unit_rows(&self.clip.embed_texts(&ids)?)?);
        }
        Ok(out)
    }
}
