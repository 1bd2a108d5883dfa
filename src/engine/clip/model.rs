//! CLIP's two towers in candle, built from a Hugging Face `CLIPModel` folder (`config.json` +
//! `model.safetensors`). Every size comes from the config, and `hidden_act` is honoured: `gelu`
//! is the exact (erf) GELU of the laion models, `quick_gelu` OpenAI's x·σ(1.702x).
//! candle-transformers' CLIP hard-codes QuickGELU, hence this module.

use std::path::Path;

use candle_core::{Device, Module, Tensor, D};
use candle_nn::{
    conv2d_no_bias, embedding, layer_norm, linear, linear_no_bias, Conv2d, Conv2dConfig, Embedding,
    LayerNorm, Linear, VarBuilder,
};
use serde::{Deserialize, Serialize};

use super::ops::gelu_erf;
use crate::engine::error::Result;
use crate::engine::fsutil;
use crate::engine::hub;

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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClipConfig {
    pub text_config: TowerConfig,
    pub vision_config: TowerConfig,
    #[serde(default = "default_projection")]
    pub projection_dim: usize,
}

fn default_projection() -> usize {
    512
}

struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    heads: usize,
}

impl Attention {
    fn new(vb: VarBuilder, c: &TowerConfig) -> Result<Self> {
        let h = c.hidden_size;
        Ok(Attention {
            q: linear(h, h, vb.pp("q_proj"))?,
            k: linear(h, h, vb.pp("k_proj"))?,
            v: linear(h, h, vb.pp("v_proj"))?,
            out: linear(h, h, vb.pp("out_proj"))?,
            heads: c.num_attention_heads,
        })
    }

    /// BLIP's naming: one `qkv` projection ([3h, h], queries first) and `projection`.
    fn fused(vb: VarBuilder, c: &TowerConfig) -> Result<Self> {
        let h = c.hidden_size;
        let (w, b) = (
            vb.pp("qkv").get((3 * h, h), "weight")?,
            vb.pp("qkv").get(3 * h, "bias")?,
        );
        let part = |i: usize| -> Result<Linear> {
            Ok(Linear::new(
                w.narrow(0, i * h, h)?.contiguous()?,
                Some(b.narrow(0, i * h, h)?.contiguous()?),
            ))
        };
        Ok(Attention {
            q: part(0)?,
            k: part(1)?,
            v: part(2)?,
            out: linear(h, h, vb.pp("projection"))?,
            heads: c.num_attention_heads,
        })
    }

    /// x: [b, n, h] → [b, n, h]; `mask` ([n, n], additive) keeps text causal.
    fn forward(&self, x: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        let (b, n, h) = x.dims3()?;
        let hd = h / self.heads;
        let split = |t: Tensor| -> Result<Tensor> {
            Ok(t.reshape((b, n, self.heads, hd))?
                .transpose(1, 2)?
                .contiguous()?)
        };
        let q = (split(dense(&self.q, x)?)? * (hd as f64).powf(-0.5))?;
        let (k, v) = (split(dense(&self.k, x)?)?, split(dense(&self.v, x)?)?);
        let mut scores = q.matmul(&k.t()?)?;
        if let Some(m) = mask {
            scores = scores.broadcast_add(m)?;
        }
        let attn = candle_nn::ops::softmax_last_dim(&scores)?;
        let ctx = attn.matmul(&v)?.transpose(1, 2)?.reshape((b, n, h))?;
        dense(&self.out, &ctx)
    }
}

/// A linear layer over every token at once: [b, n, i] → [b, n, o] as one [b·n, i] matmul,
/// rather than b small ones.
pub(crate) fn dense(layer: &Linear, x: &Tensor) -> Result<Tensor> {
    let (b, n, i) = x.dims3()?;
    let y = layer.forward(&x.reshape((b * n, i))?)?;
    let o = y.dim(1)?;
    Ok(y.reshape((b, n, o))?)
}

/// A pre-norm transformer layer: attention, then an MLP, each added to its input.
pub(crate) struct Layer {
    norm1: LayerNorm,
    attn: Attention,
    norm2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    act: Activation,
}

impl Layer {
    fn new(vb: VarBuilder, c: &TowerConfig) -> Result<Self> {
        let attn = Attention::new(vb.pp("self_attn"), c)?;
        Self::with_attention(vb, c, attn)
    }

    /// A layer of BLIP's vision tower, whose attention has one fused `qkv` projection.
    pub(crate) fn blip(vb: VarBuilder, c: &TowerConfig) -> Result<Self> {
        let attn = Attention::fused(vb.pp("self_attn"), c)?;
        Self::with_attention(vb, c, attn)
    }

    fn with_attention(vb: VarBuilder, c: &TowerConfig, attn: Attention) -> Result<Self> {
        let h = c.hidden_size;
        Ok(Layer {
            norm1: layer_norm(h, c.layer_norm_eps, vb.pp("layer_norm1"))?,
            attn,
            norm2: layer_norm(h, c.layer_norm_eps, vb.pp("layer_norm2"))?,
            fc1: linear(h, c.intermediate_size, vb.pp("mlp").pp("fc1"))?,
            fc2: linear(c.intermediate_size, h, vb.pp("mlp").pp("fc2"))?,
            act: c.hidden_act,
        })
    }

    pub(crate) fn forward(&self, x: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        let x = (x + self.attn.forward(&self.norm1.forward(x)?, mask)?)?;
        let h = self
            .act
            .apply(&dense(&self.fc1, &self.norm2.forward(&x)?)?)?;
        Ok((x + dense(&self.fc2, &h)?)?)
    }
}

fn layers(vb: VarBuilder, c: &TowerConfig) -> Result<Vec<Layer>> {
    (0..c.num_hidden_layers)
        .map(|i| Layer::new(vb.pp("layers").pp(i), c))
        .collect()
}

pub struct Clip {
    pub config: ClipConfig,
    // Vision.
    patch: Conv2d,
    class_embedding: Tensor,
    vision_positions: Embedding,
    pre_norm: LayerNorm,
    vision_layers: Vec<Layer>,
    post_norm: LayerNorm,
    visual_projection: Linear,
    // Text.
    tokens: Embedding,
    text_positions: Embedding,
    text_layers: Vec<Layer>,
    final_norm: LayerNorm,
    text_projection: Linear,
    device: Device,
}

impl Clip {
    /// Loads a Hugging Face `CLIPModel` folder, naming the file and the fix when one is wrong.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let config: ClipConfig = fsutil::read_json(&dir.join("config.json"))?;
        hub::build_from_folder(dir, device, |vb| Self::new(vb, config, device))
    }

    pub(super) fn new(vb: VarBuilder, config: ClipConfig, device: &Device) -> Result<Self> {
        let (t, v) = (&config.text_config, &config.vision_config);
        let (tv, vv) = (vb.pp("text_model"), vb.pp("vision_model"));
        let patches = (v.image_size / v.patch_size.max(1)).pow(2);
        let conv = Conv2dConfig {
            stride: v.patch_size,
            ..Default::default()
        };
        Ok(Clip {
            patch: conv2d_no_bias(
                3,
                v.hidden_size,
                v.patch_size,
                conv,
                vv.pp("embeddings").pp("patch_embedding"),
            )?,
            class_embedding: vv.pp("embeddings").get(v.hidden_size, "class_embedding")?,
            vision_positions: embedding(
                patches + 1,
                v.hidden_size,
                vv.pp("embeddings").pp("position_embedding"),
            )?,
            pre_norm: layer_norm(v.hidden_size, v.layer_norm_eps, vv.pp("pre_layrnorm"))?,
            vision_layers: layers(vv.pp("encoder"), v)?,
            post_norm: layer_norm(v.hidden_size, v.layer_norm_eps, vv.pp("post_layernorm"))?,
            visual_projection: linear_no_bias(
                v.hidden_size,
                config.projection_dim,
                vb.pp("visual_projection"),
            )?,
            tokens: embedding(
                t.vocab_size,
                t.hidden_size,
                tv.pp("embeddings").pp("token_embedding"),
            )?,
            text_positions: embedding(
                t.max_position_embeddings,
                t.hidden_size,
                tv.pp("embeddings").pp("position_embedding"),
            )?,
            text_layers: layers(tv.pp("encoder"), t)?,
            final_norm: layer_norm(t.hidden_size, t.layer_norm_eps, tv.pp("final_layer_norm"))?,
            text_projection: linear_no_bias(
                t.hidden_size,
                config.projection_dim,
                vb.pp("text_projection"),
            )?,
            device: device.clone(),
            config,
        })
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Unit image embeddings of preprocessed pictures, each 3·s·s values (`preprocess`'s
    /// output), as b·projection values on the CPU.
    pub fn embed_pixels(&self, pictures: &[&[f32]]) -> Result<Vec<f32>> {
        let side = self.config.vision_config.image_size;
        unit_rows(&self.embed_images(&pixel_batch(pictures, side, &self.device)?)?)
    }

    /// Projected image embeddings (not normalised). pixels: [b, 3, s, s] → [b, projection]
    pub fn embed_images(&self, pixels: &Tensor) -> Result<Tensor> {
        let x = class_and_patches(&self.patch, &self.class_embedding, pixels)?;
        let positions = Tensor::arange(0u32, x.dim(1)? as u32, &self.device)?;
        let mut x = self
            .pre_norm
            .forward(&x.broadcast_add(&self.vision_positions.forward(&positions)?)?)?;
        for l in &self.vision_layers {
            x = l.forward(&x, None)?;
        }
        let pooled = self.post_norm.forward(&x.narrow(1, 0, 1)?.squeeze(1)?)?;
        Ok(self.visual_projection.forward(&pooled)?)
    }

    /// Projected text embeddings (not normalised). ids: [b, n] → [b, projection]
    pub fn embed_texts(&self, ids: &[Vec<u32>]) -> Result<Tensor> {
        let n = ids.iter().map(Vec::len).max().unwrap_or(0);
        let flat: Vec<u32> = ids
            .iter()
            .flat_map(|r| r.iter().copied().chain(std::iter::repeat(0)).take(n))
            .collect();
        let input = Tensor::from_vec(flat, (ids.len(), n), &self.device)?;
        let positions = Tensor::arange(0u32, n as u32, &self.device)?;
        let mut x = self
            .tokens
            .forward(&input)?
            .broadcast_add(&self.text_positions.forward(&positions)?)?;
        let mask = causal_mask(n, 0, &self.device)?;
        for l in &self.text_layers {
            x = l.forward(&x, Some(&mask))?;
        }
        let x = self.final_norm.forward(&x)?;
        // Pooled at the end-of-text token: the first one, or (legacy configs with eos id 2)
        // the largest id, which is the end token in CLIP's vocabulary.
        let eos = self.config.text_config.eos_token_id.filter(|&e| e != 2);
        let rows = ids
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let at = match eos {
                    Some(e) => r
                        .iter()
                        .position(|&t| t == e)
                        .unwrap_or(r.len().saturating_sub(1)),
                    None => r
                        .iter()
                        .enumerate()
                        .max_by_key(|(j, &t)| (t, usize::MAX - j))
                        .map(|(j, _)| j)
                        .unwrap_or(0),
                };
                Ok(x.get(i)?.get(at)?)
            })
            .collect::<Result<Vec<_>>>()?;
        let pooled = Tensor::stack(&rows, 0)?;
        Ok(self.text_projection.forward(&pooled)?.contiguous()?)
    }
}

/// Unit-length rows copied to the CPU, flattened. x: [b, d] → b·d values
pub fn unit_rows(x: &Tensor) -> Result<Vec<f32>> {
    Ok(normalize_rows(x)?
        .to_device(&Device::Cpu)?
        .flatten_all()?
        .to_vec1::<f32>()?)
}

/// Preprocessed pictures, each 3·s·s values, as one batch. → [b, 3, s, s]
pub(crate) fn pixel_batch<P: AsRef<[f32]>>(
    pictures: &[P],
    side: usize,
    device: &Device,
) -> Result<Tensor> {
    let flat: Vec<f32> = pictures
        .iter()
        .flat_map(|p| p.as_ref().iter().copied())
        .collect();
    Ok(Tensor::from_vec(
        flat,
        (pictures.len(), 3, side, side),
        device,
    )?)
}

/// A ViT's tokens before positions are added: the class embedding, then one per patch.
/// pixels: [b, 3, s, s], class: h values → [b, patches + 1, h]
pub(crate) fn class_and_patches(patch: &Conv2d, class: &Tensor, pixels: &Tensor) -> Result<Tensor> {
    let x = patch.forward(pixels)?.flatten_from(2)?.transpose(1, 2)?;
    let (b, _, h) = x.dims3()?;
    let class = class.reshape((1, 1, h))?.broadcast_as((b, 1, h))?;
    Ok(Tensor::cat(&[&class, &x], 1)?)
}

/// The additive mask under which new tokens at positions past..past+t see every earlier
/// position and themselves. shape: [t, past + t]
pub(crate) fn causal_mask(t: usize, past: usize, device: &Device) -> Result<Tensor> {
    let values: Vec<f32> = (0..t)
        .flat_map(|i| {
            (0..past + t).map(move |j| if j > past + i { f32::NEG_INFINITY } else { 0.0 })
        })
        .collect();
    Ok(Tensor::from_vec(values, (t, past + t), device)?)
}

/// L2-normalises rows. x: [b, d]
pub fn normalize_rows(x: &Tensor) -> Result<Tensor> {
    Ok(x.broadcast_div(&x.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?)?)
}

#[cfg(test)]
mod tests {
    use super::*;

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
                .join("fixtures")
                .join(format!("clip-tiny-{act}"));
            let expected: Expected = fsutil::read_json(&dir.join("expected.json")).unwrap();
            let model = Clip::load(&dir, &Device::Cpu).unwrap();
            let want = if act == "gelu" {
                Activation::Gelu
            } else {
                Activation::QuickGelu
            };
            assert_eq!(model.config.text_config.hidden_act, want);
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
            .join("fixtures")
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
