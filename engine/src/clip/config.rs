//! CLIP's configuration as Hugging Face writes it (`config.json`), for a `CLIPModel` folder or a
//! single tower's, and the MLP activation it names: `gelu` is the exact (erf) GELU of the laion
//! models, `quick_gelu` OpenAI's x·σ(1.702x).

use std::path::Path;

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use super::ops::gelu_erf;
use crate::error::{Error, Result};
use crate::fsutil;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    Gelu,
    QuickGelu,
}

impl Activation {
    pub(crate) fn apply(self, x: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Activation::Gelu => gelu_erf(x)?,
            Activation::QuickGelu => (x * candle_nn::ops::sigmoid(&(x * 1.702)?)?)?,
        })
    }
}

fn quick_gelu() -> Activation {
    Activation::QuickGelu
}
fn eps() -> f64 {
    1e-5
}

/// A tower's sizes; defaults are Hugging Face's, which `save_pretrained` leaves out.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TowerConfig {
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    #[serde(default = "quick_gelu")]
    pub hidden_act: Activation,
    #[serde(default = "eps")]
    pub layer_norm_eps: f64,
    // Text tower only.
    #[serde(default)]
    pub vocab_size: usize,
    #[serde(default)]
    pub max_position_embeddings: usize,
    #[serde(default)]
    pub eos_token_id: Option<u32>,
    // Vision tower only.
    #[serde(default)]
    pub image_size: usize,
    #[serde(default)]
    pub patch_size: usize,
}

/// A model's towers. A `CLIPModel` folder has both; a `CLIPVisionModelWithProjection` or
/// `CLIPTextModelWithProjection` folder (Kandinsky 2.2's `image_encoder/`, `text_encoder/`) has
/// one, with the same weight names.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClipConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_config: Option<TowerConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vision_config: Option<TowerConfig>,
    #[serde(default = "default_projection")]
    pub projection_dim: usize,
}

/// A single tower's `config.json`: its sizes and projection side by side.
#[derive(Deserialize)]
struct SingleTower {
    #[serde(default)]
    model_type: String,
    #[serde(flatten)]
    tower: TowerConfig,
    #[serde(default = "default_projection")]
    projection_dim: usize,
}

impl ClipConfig {
    /// Reads `dir/config.json` of any of the three folder kinds.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join("config.json");
        let value: serde_json::Value = fsutil::read_json(&path)?;
        if value.get("vision_config").is_some() || value.get("text_config").is_some() {
            return fsutil::read_json(&path);
        }
        let single: SingleTower = serde_json::from_value(value)
            .map_err(|e| Error::bad_file(&path, format!("is not a CLIP config: {e}")))?;
        let (vision, text) = match single.model_type.as_str() {
            "clip_vision_model" => (Some(single.tower), None),
            "clip_text_model" => (None, Some(single.tower)),
            other => {
                return Err(Error::bad_file(
                    &path,
                    format!("has model_type '{other}': expected a CLIPModel, clip_vision_model or clip_text_model config"),
                ))
            }
        };
        Ok(ClipConfig {
            text_config: text,
            vision_config: vision,
            projection_dim: single.projection_dim,
        })
    }

    /// The vision tower's sizes, or a message naming the folder kind that lacks it.
    pub fn vision(&self) -> Result<&TowerConfig> {
        self.vision_config.as_ref().ok_or_else(|| {
            Error::invalid("--model", "this CLIP folder holds only a text tower; pass a CLIPModel or an image encoder folder")
        })
    }

    /// The text tower's sizes, or a message naming the folder kind that lacks it.
    pub fn text(&self) -> Result<&TowerConfig> {
        self.text_config.as_ref().ok_or_else(|| {
            Error::invalid("--model", "this CLIP folder holds only an image tower; pass a CLIPModel or a text encoder folder")
        })
    }
}

fn default_projection() -> usize {
    512
}
