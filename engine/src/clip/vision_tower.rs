//! CLIP's image tower: patches, positions, the layers, and the projection of the class token.

use candle_core::{Module, Tensor};
use candle_nn::{
    conv2d_no_bias, embedding, layer_norm, linear_no_bias, Conv2d, Conv2dConfig, Embedding,
    LayerNorm, Linear, VarBuilder,
};

use super::config::TowerConfig;
use super::layers::{class_and_patches, layers, run_layers, Layer};
use crate::error::Result;

/// The image tower and its projection. pixels: [b, 3, s, s] → [b, projection]
pub(crate) struct VisionTower {
    patch: Conv2d,
    class_embedding: Tensor,
    positions: Embedding,
    pre_norm: LayerNorm,
    layers: Vec<Layer>,
    post_norm: LayerNorm,
    projection: Linear,
}

impl VisionTower {
    pub(crate) fn new(vb: VarBuilder, v: &TowerConfig, projection_dim: usize) -> Result<Self> {
        let vv = vb.pp("vision_model");
        let patches = (v.image_size / v.patch_size.max(1)).pow(2);
        let conv = Conv2dConfig {
            stride: v.patch_size,
            ..Default::default()
        };
        Ok(VisionTower {
            patch: conv2d_no_bias(
                3,
                v.hidden_size,
                v.patch_size,
                conv,
                vv.pp("embeddings").pp("patch_embedding"),
            )?,
            class_embedding: vv.pp("embeddings").get(v.hidden_size, "class_embedding")?,
            positions: embedding(
                patches + 1,
                v.hidden_size,
                vv.pp("embeddings").pp("position_embedding"),
            )?,
            pre_norm: layer_norm(v.hidden_size, v.layer_norm_eps, vv.pp("pre_layrnorm"))?,
            layers: layers(vv.pp("encoder"), v)?,
            post_norm: layer_norm(v.hidden_size, v.layer_norm_eps, vv.pp("post_layernorm"))?,
            projection: linear_no_bias(v.hidden_size, projection_dim, vb.pp("visual_projection"))?,
        })
    }

    pub(crate) fn forward(&self, pixels: &Tensor) -> Result<Tensor> {
        let x = class_and_patches(&self.patch, &self.class_embedding, pixels)?;
        let positions = Tensor::arange(0u32, x.dim(1)? as u32, x.device())?;
        let x = self
            .pre_norm
            .forward(&x.broadcast_add(&self.positions.forward(&positions)?)?)?;
        let x = run_layers(&self.layers, x, None)?;
        let pooled = self.post_norm.forward(&x.narrow(1, 0, 1)?.squeeze(1)?)?;
        Ok(self.projection.forward(&pooled)?)
    }
}
