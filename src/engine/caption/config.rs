//! A BLIP folder's `config.json`, with transformers' defaults for every field it leaves out
//! (transformers writes only the fields that differ from them).

use candle_transformers::models::blip;
use serde_json::{json, Value};

use crate::engine::error::{Error, Result};
use std::path::Path;

/// transformers' `BlipTextConfig` defaults.
fn text_defaults() -> Value {
    json!({
        "vocab_size": 30524, "hidden_size": 768, "encoder_hidden_size": 768,
        "intermediate_size": 3072, "projection_dim": 768, "num_hidden_layers": 12,
        "num_attention_heads": 8, "max_position_embeddings": 512, "hidden_act": "gelu",
        "layer_norm_eps": 1e-12, "is_decoder": true,
        "bos_token_id": 30522, "sep_token_id": 102, "pad_token_id": 0
    })
}

/// transformers' `BlipVisionConfig` defaults.
fn vision_defaults() -> Value {
    json!({
        "hidden_size": 768, "intermediate_size": 3072, "projection_dim": 512,
        "num_hidden_layers": 12, "num_attention_heads": 12, "image_size": 384,
        "patch_size": 16, "hidden_act": "gelu", "layer_norm_eps": 1e-5
    })
}

/// What captioning needs from the config.
#[derive(Debug, Clone)]
pub struct BlipConfig {
    pub model: blip::Config,
    /// The decoder's first token ([DEC]) and the one that ends a caption ([SEP]).
    pub bos: u32,
    pub sep: u32,
    pub image_size: usize,
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
        let file: Value = crate::engine::fsutil::read_json(path)?;
        Self::from_value(&file)
            .map_err(|e| Error::bad_file(path, format!("is not a BLIP config ({e})")))
    }

    /// Salesforce's `blip-image-captioning-base`: transformers' defaults with 12 text heads.
    pub fn base() -> Self {
        Self::from_value(&json!({"text_config": {"num_attention_heads": 12}}))
            .expect("the defaults make a config")
    }

    fn from_value(file: &Value) -> std::result::Result<Self, serde_json::Error> {
        let text = overlay(text_defaults(), file.get("text_config"));
        let vision = overlay(vision_defaults(), file.get("vision_config"));
        let top = json!({
            "text_config": text,
            "vision_config": vision,
            "projection_dim": file.get("projection_dim").cloned().unwrap_or(json!(512)),
            "image_text_hidden_size": file.get("image_text_hidden_size").cloned().unwrap_or(json!(256)),
        });
        let model: blip::Config = serde_json::from_value(top)?;
        let id = |key: &str| text[key].as_u64().unwrap_or(0) as u32;
        Ok(BlipConfig {
            bos: id("bos_token_id"),
            sep: id("sep_token_id"),
            image_size: model.vision_config.image_size,
            model,
        })
    }
}
