//! CLIP's image tower for single pictures named by path: what steering an arbitrary picture
//! needs, with exactly the decoding and preprocessing `saelab embed` applies to a set.

use std::path::Path;

use candle_core::Device;

use super::decode;
use super::model::Clip;
use super::preprocess::preprocess;
use crate::error::Result;
use crate::hub::ModelSource;

pub struct ClipImage {
    clip: Clip,
}

impl ClipImage {
    /// The image tower of the model a set was embedded with (`set.toml`'s `model`).
    pub fn load(model: &str, device: &Device) -> Result<Self> {
        let dir = ModelSource::new(model).resolve()?;
        Ok(ClipImage {
            clip: Clip::load(&dir, device)?,
        })
    }

    pub fn dim(&self) -> usize {
        self.clip.config.projection_dim
    }

    /// The unit embedding of the picture at `path`. shape: [projection]
    pub fn embed_file(&self, path: &Path) -> Result<Vec<f32>> {
        let side = self.clip.image_size()? as u32;
        let pixels = preprocess(&decode::open(path)?, side);
        self.clip.embed_pixels(&[&pixels])
    }
}
