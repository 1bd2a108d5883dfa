//! A BLIP folder's `config.json`, with transformers' defaults for every field it leaves out
//! (transformers writes only the fields that differ from them).

use std::path::Path;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::clip::config::{Activation, TowerConfig};
use crate::error::{Error, Result};

/// transformers' `BlipTextConfig` defaults.
fn text_defaults() -> Value {
    json!({
        "vocab_size": 30524, "hidden_size": 768, "encoder_hidden_size": 768,
        "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 8,
        "max_position_embeddings": 512, "hidden_act": "gelu", "layer_norm_eps": 1e-12,
        "bos_token_id": 30522, "sep_token_id": 102
    })
}

/// transformers' `BlipVisionConfig` defaults.
fn vision_defaults() -> Value {
    json!({
        "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
        "num_attention_heads": 12, "image_size": 384, "patch_size": 16, "hidden_act": "gelu",
        "layer_norm_eps": 1e-5
    })
}

/// The text decoder: BERT with cross-attention on the image.
#[derive(Debug, Clone, Deserialize)]
pub struct TextConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    /// Width of the image states it attends to.
    pub encoder_hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub max_position_embeddings: usize,
    pub hidden_act: Activation,
    pub layer_norm_eps: f64,
    /// The first token of a caption ([DEC]) and the one that ends it ([SEP]).
    pub bos_token_id: u32,
    pub sep_token_id: u32,
}

/// The vision tower: a ViT without a pre-norm.
#[derive(Debug, Clone, Deserialize)]
pub struct VisionConfig {
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub image_size: usize,
    pub patch_size: usize,
    pub hidden_act: Activation,
    pub layer_norm_eps: f64,
}

impl VisionConfig {
    /// The sizes its transformer layers are built from.
    pub fn tower(&self) -> TowerConfig {
        TowerConfig {
            hidden_size: self.hidden_size,
            intermediate_size: self.intermediate_size,
            num_hidden_layers: self.num_hidden_layers,
            num_attention_heads: self.num_attention_heads,
            hidden_act: self.hidden_act,
            layer_norm_eps: self.layer_norm_eps,
            vocab_size: 0,
            max_position_embeddings: 0,
            eos_token_id: None,
            image_size: self.image_size,
            patch_size: self.patch_size,
        }
    }
}

#[derive(Debug, Clone)]
pub struct BlipConfig {
    pub text: TextConfig,
    pub vision: VisionConfig,
}

/// `defaults` with every field `given` sets replaced.
fn overlay(mut defaults: Value, given: Option<&Value>) -> Value {
    if let (Some(d), Some(Value::Object(g))) = (defaults.as_object_mut(), given) {
        for (k, v) in g {
            if !v.is_null() {
                d.insert(k.clone(), v.clone());
            }
        }
    }
    defaults
}

impl BlipConfig {
    pub fn read(path: &Path) -> Result<Self> {
        let file: Value = crate::fsutil::read_json(path)?;
        Self::from_value(&file)
            .map_err(|e| Error::bad_file(path, format!("is not a BLIP config ({e})")))
    }

    /// Salesforce's `blip-image-captioning-base`: transformers' defaults with 12 text heads.
    pub fn base() -> Self {
        Self::from_value(&json!({"text_config": {"num_attention_heads": 12}}))
            .expect("the defaults make a config")
    }

    fn from_value(file: &Value) -> std::result::Result<Self, serde_json::Error> {
        Ok(BlipConfig {
            text: serde_json::from_value(overlay(text_defaults(), file.get("text_config")))?,
            vision: serde_json::from_value(overlay(vision_defaults(), file.get("vision_config")))?,
        })
    }
}
