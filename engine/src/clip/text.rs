//! CLIP's text tower as the zero-shot classifiers' prompt encoder.

use candle_core::Device;

use super::model::{Clip, ClipConfig};
use super::tokenizer::ClipTokenizer;
use crate::error::{Error, Result};
use crate::hub::ModelSource;
use crate::text_encoder::TextEncoder;
use crate::unit::unit_rows;

/// Prompts embedded at a time.
const BATCH: usize = 64;

pub struct ClipText {
    name: String,
    clip: Clip,
    tokenizer: ClipTokenizer,
}

impl ClipText {
    /// The text tower of the model a set was embedded with (`set.toml`'s `model`).
    /// A folder holding only an image tower (Kandinsky's `image_encoder/`) is paired with its
    /// sibling `text_encoder/`, which projects into the same space.
    pub fn load(model: &str, device: &Device) -> Result<Self> {
        let mut dir = ModelSource::new(model).resolve()?;
        if ClipConfig::read(&dir)?.text_config.is_none() {
            if let Some(sibling) = text_sibling(model) {
                dir = ModelSource::new(sibling).resolve()?;
            }
        }
        let clip = Clip::load(&dir, device)?;
        let context = clip.config.text()?.max_position_embeddings;
        Ok(ClipText {
            name: model.to_string(),
            clip,
            tokenizer: ClipTokenizer::new().with_context(context),
        })
    }
}

impl ClipText {
    /// A model whose text tower was not trained on CLIP's vocabulary (a test-sized one) cannot
    /// read the tokenizer's ids; said by name rather than as an indexing failure.
    fn check_vocabulary(&self, ids: &[Vec<u32>]) -> Result<()> {
        let vocab = self.clip.config.text()?.vocab_size;
        match ids.iter().flatten().find(|&&id| id as usize >= vocab) {
            None => Ok(()),
            Some(id) => Err(Error::invalid(
                "model",
                format!(
                    "{}'s text tower knows {vocab} tokens but CLIP's tokenizer gave token {id}: it cannot read text (it was not trained on CLIP's vocabulary)",
                    self.name
                ),
            )),
        }
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
            self.check_vocabulary(&ids)?;
            out.extend(unit_rows(&self.clip.embed_texts(&ids)?)?);
        }
        Ok(out)
    }
}

/// `…/image_encoder` → `…/text_encoder`, for folders and hub specs alike.
fn text_sibling(model: &str) -> Option<String> {
    let trimmed = model.trim_end_matches('/');
    trimmed
        .strip_suffix("image_encoder")
        .map(|stem| format!("{stem}text_encoder"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_encoder_is_paired_with_its_text_encoder() {
        assert_eq!(
            text_sibling("kandinsky-community/kandinsky-2-2-prior/image_encoder").as_deref(),
            Some("kandinsky-community/kandinsky-2-2-prior/text_encoder")
        );
        assert_eq!(
            text_sibling("/m/prior/image_encoder/").as_deref(),
            Some("/m/prior/text_encoder")
        );
        assert_eq!(text_sibling("laion/CLIP-ViT-B-32-laion2B-s34B-b79K"), None);
    }
}
