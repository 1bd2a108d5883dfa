//! BLIP's vision tower: a ViT whose patch embedding has a bias, with no norm before the
//! layers and one after them over every token; the text decoder attends to all of them.
//! Its layers are CLIP's (`clip::layers::Layer`) with BLIP's fused `qkv` projection.

use candle_core::{Module, Tensor};
use candle_nn::{conv2d, layer_norm, Conv2d, Conv2dConfig, LayerNorm, VarBuilder};

use super::config::VisionConfig;
use crate::clip::layers::{class_and_patches, run_layers, Layer};
use crate::error::Result;

pub struct VisionTower {
    patch: Conv2d,
    /// shape: [1, 1, h]
    class: Tensor,
    /// shape: [1, patches + 1, h]
    positions: Tensor,
    layers: Vec<Layer>,
    post_norm: LayerNorm,
}

impl VisionTower {
    /// From `vision_model.*`.
    pub fn new(vb: VarBuilder, c: &VisionConfig) -> Result<Self> {
        let (h, e) = (c.hidden_size, vb.pp("embeddings"));
        let patches = (c.image_size / c.patch_size.max(1)).pow(2);
        let conv = Conv2dConfig {
            stride: c.patch_size,
            ..Default::default()
        };
        let tower = c.tower();
        Ok(VisionTower {
            patch: conv2d(3, h, c.patch_size, conv, e.pp("patch_embedding"))?,
            class: e.get((1, 1, h), "class_embedding")?,
            positions: e.get((1, patches + 1, h), "position_embedding")?,
            layers: (0..c.num_hidden_layers)
                .map(|i| Layer::blip(vb.pp("encoder").pp("layers").pp(i), &tower))
                .collect::<Result<_>>()?,
            post_norm: layer_norm(h, c.layer_norm_eps, vb.pp("post_layernorm"))?,
        })
    }

    /// The last hidden states. pixels: [b, 3, s, s] → [b, patches + 1, h]
    pub fn forward(&self, pixels: &Tensor) -> Result<Tensor> {
        let x =
            class_and_patches(&self.patch, &self.class, pixels)?.broadcast_add(&self.positions)?;
        let x = run_layers(&self.layers, x, None)?;
        Ok(self.post_norm.forward(&x)?)
    }
}
