//! Randomly initialised CLIP folders of any size: tiny ones for tests that run the real
//! tokenizer end to end, ViT-B/32 for benchmarks (as the PyTorch reference, random weights).

use std::path::Path;

use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};

use super::model::{Activation, Clip, ClipConfig, TowerConfig};
use crate::error::{Error, Result};
use crate::fsutil;

/// CLIP's BPE vocabulary size and text context.
const VOCAB: usize = 49_408;
const CONTEXT: usize = 77;
const EOS: u32 = 49_407;

fn tower(hidden: usize, layers: usize, heads: usize) -> TowerConfig {
    TowerConfig {
        hidden_size: hidden,
        intermediate_size: 4 * hidden,
        num_hidden_layers: layers,
        num_attention_heads: heads,
        hidden_act: Activation::Gelu,
        layer_norm_eps: 1e-5,
        vocab_size: 0,
        max_position_embeddings: 0,
        eos_token_id: None,
        image_size: 0,
        patch_size: 0,
    }
}

fn config(
    text: TowerConfig,
    vision: TowerConfig,
    image: usize,
    patch: usize,
    proj: usize,
) -> ClipConfig {
    ClipConfig {
        text_config: Some(TowerConfig {
            vocab_size: VOCAB,
            max_position_embeddings: CONTEXT,
            eos_token_id: Some(EOS),
            ..text
        }),
        vision_config: Some(TowerConfig {
            image_size: image,
            patch_size: patch,
            ..vision
        }),
        projection_dim: proj,
    }
}

/// OpenCLIP ViT-B/32's sizes (laion2b_s34b_b79k): 512-d embeddings.
pub fn vit_b32() -> ClipConfig {
    config(tower(512, 12, 8), tower(768, 12, 12), 224, 32, 512)
}

/// A tiny model with CLIP's real vocabulary and context, so prompts tokenize as for the real
/// one. 16-d embeddings of 32×32 pictures.
pub fn tiny() -> ClipConfig {
    config(tower(32, 2, 4), tower(32, 2, 4), 32, 16, 16)
}

/// A tiny model into Kandinsky 2.2's image-embedding dimensions (its prior's image encoder
/// is ViT-bigG/14's, 1280-d), for the random Kandinsky prior.
pub fn into_kandinsky() -> ClipConfig {
    config(tower(32, 2, 4), tower(32, 2, 4), 32, 16, 1280)
}

/// A model of this config with random weights, and the variables that hold them.
pub fn build(config: &ClipConfig, device: &Device) -> Result<(Clip, VarMap)> {
    let vars = VarMap::new();
    let vb = VarBuilder::from_varmap(&vars, DType::F32, device);
    let clip = Clip::new(vb, config.clone(), device)?;
    Ok((clip, vars))
}

/// Writes `config.json` and random `model.safetensors` into `dir`.
pub fn save_random(config: &ClipConfig, dir: &Path) -> Result<()> {
    fsutil::create_dir(dir)?;
    let (_, vars) = build(config, &Device::Cpu)?;
    let weights = dir.join("model.safetensors");
    vars.save(&weights)
        .map_err(|e| Error::bad_file(&weights, format!("could not be written: {e}")))?;
    fsutil::write_json(&dir.join("config.json"), config)
}
