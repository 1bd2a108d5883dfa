//! CLIP's two towers in candle, built from a Hugging Face `CLIPModel` folder (`config.json` +
//! `model.safetensors`) or a single tower's. Every size comes from the config (`config.rs`) and
//! `hidden_act` is honoured; candle-transformers' CLIP hard-codes QuickGELU, hence this module.

use std::path::Path;

use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;

pub use super::config::{Activation, ClipConfig, TowerConfig};
use super::layers::pixel_batch;
use super::text_tower::TextTower;
use super::vision_tower::VisionTower;
use crate::error::Result;
use crate::hub;
use crate::unit::unit_rows_and_norms;

/// CLIP: either tower or both, as the folder holds them.
pub struct Clip {
    pub config: ClipConfig,
    vision: Option<VisionTower>,
    text: Option<TextTower>,
    device: Device,
}

impl Clip {
    /// Loads a Hugging Face `CLIPModel`, `CLIPVisionModelWithProjection` or
    /// `CLIPTextModelWithProjection` folder, naming the file and the fix when one is wrong.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let config = ClipConfig::read(dir)?;
        hub::build_from_folder(dir, device, |vb| Self::new(vb, config, device))
    }

    pub(super) fn new(vb: VarBuilder, config: ClipConfig, device: &Device) -> Result<Self> {
        let p = config.projection_dim;
        let vision = match &config.vision_config {
            Some(v) => Some(VisionTower::new(vb.clone(), v, p)?),
            None => None,
        };
        let text = match &config.text_config {
            Some(t) => Some(TextTower::new(vb, t, p)?),
            None => None,
        };
        Ok(Clip {
            vision,
            text,
            device: device.clone(),
            config,
        })
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The side of the square pictures the image tower takes.
    pub fn image_size(&self) -> Result<usize> {
        Ok(self.config.vision()?.image_size)
    }

    /// Unit image embeddings of preprocessed pictures, each 3·s·s values (`preprocess`'s
    /// output), as b·projection values on the CPU.
    pub fn embed_pixels(&self, pictures: &[&[f32]]) -> Result<Vec<f32>> {
        Ok(self.embed_pixels_with_norms(pictures)?.0)
    }

    /// As [`Clip::embed_pixels`], with each embedding's length before normalising.
    pub fn embed_pixels_with_norms(&self, pictures: &[&[f32]]) -> Result<(Vec<f32>, Vec<f32>)> {
        let side = self.image_size()?;
        unit_rows_and_norms(&self.embed_images(&pixel_batch(pictures, side, &self.device)?)?)
    }

    /// Projected image embeddings (not normalised). pixels: [b, 3, s, s] → [b, projection]
    pub fn embed_images(&self, pixels: &Tensor) -> Result<Tensor> {
        self.config.vision()?;
        self.vision
            .as_ref()
            .expect("built with its config")
            .forward(pixels)
    }

    /// Projected text embeddings (not normalised). ids: [b, n] → [b, projection]
    pub fn embed_texts(&self, ids: &[Vec<u32>]) -> Result<Tensor> {
        Ok(self.text_states(ids)?.1)
    }

    /// The text tower's last hidden states and projected embeddings, as Kandinsky's prior
    /// takes them. ids: [b, n] → ([b, n, h], [b, projection])
    pub fn text_states(&self, ids: &[Vec<u32>]) -> Result<(Tensor, Tensor)> {
        self.config.text()?;
        self.text
            .as_ref()
            .expect("built with its config")
            .forward(ids, &self.device)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde::Deserialize;

    use super::*;
    use crate::fsutil;

    #[derive(Deserialize)]
    struct Expected {
        pixels: Vec<f32>,
        pixel_shape: Vec<usize>,
        input_ids: Vec<Vec<u32>>,
        image_embeds: Vec<Vec<f32>>,
        text_embeds: Vec<Vec<f32>>,
    }

    fn assert_close(got: &Tensor, want: &[Vec<f32>], what: &str) {
        let got: Vec<Vec<f32>> = got.to_vec2().unwrap();
        assert_eq!(got.len(), want.len(), "{what}");
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g.len(), w.len(), "{what}");
            for (a, b) in g.iter().zip(w) {
                assert!((a - b).abs() < 1e-4, "{what}: {a} vs {b}");
            }
        }
    }

    /// Tiny random Hugging Face CLIPModels and their outputs, written by
    /// tools/make_clip_fixtures.py; both activations.
    #[test]
    fn embeddings_equal_hugging_face_for_gelu_and_quick_gelu() {
        for act in ["gelu", "quick_gelu"] {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../fixtures")
                .join(format!("clip-tiny-{act}"));
            let expected: Expected = fsutil::read_json(&dir.join("expected.json")).unwrap();
            let model = Clip::load(&dir, &Device::Cpu).unwrap();
            let want = if act == "gelu" {
                Activation::Gelu
            } else {
                Activation::QuickGelu
            };
            assert_eq!(model.config.text().unwrap().hidden_act, want);
            let pixels = Tensor::from_vec(
                expected.pixels.clone(),
                expected.pixel_shape.as_slice(),
                &Device::Cpu,
            )
            .unwrap();
            assert_close(
                &model.embed_images(&pixels).unwrap(),
                &expected.image_embeds,
                &format!("{act} image"),
            );
            assert_close(
                &model.embed_texts(&expected.input_ids).unwrap(),
                &expected.text_embeds,
                &format!("{act} text"),
            );
        }
    }

    #[test]
    fn missing_or_truncated_weights_are_named() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures")
            .join("clip-tiny-gelu");
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(src.join("config.json"), dir.path().join("config.json")).unwrap();
        let err = Clip::load(dir.path(), &Device::Cpu)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("model.safetensors") && err.contains("missing"),
            "{err}"
        );
        let bytes = std::fs::read(src.join("model.safetensors")).unwrap();
        std::fs::write(
            dir.path().join("model.safetensors"),
            &bytes[..bytes.len() / 2],
        )
        .unwrap();
        let err = Clip::load(dir.path(), &Device::Cpu)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("model.safetensors"), "{err}");
    }
}
