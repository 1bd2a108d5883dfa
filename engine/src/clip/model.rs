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
use crate::error::{Error, Result};
use crate::fsutil;
use crate::hub;

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

/// The image tower and its projection. pixels: [b, 3, s, s] → [b, projection]
struct VisionTower {
    patch: Conv2d,
    class_embedding: Tensor,
    positions: Embedding,
    pre_norm: LayerNorm,
    layers: Vec<Layer>,
    post_norm: LayerNorm,
    projection: Linear,
}

impl VisionTower {
    fn new(vb: VarBuilder, v: &TowerConfig, projection_dim: usize) -> Result<Self> {
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

    fn forward(&self, pixels: &Tensor) -> Result<Tensor> {
        let x = class_and_patches(&self.patch, &self.class_embedding, pixels)?;
        let positions = Tensor::arange(0u32, x.dim(1)? as u32, x.device())?;
        let mut x = self
            .pre_norm
            .forward(&x.broadcast_add(&self.positions.forward(&positions)?)?)?;
        for l in &self.layers {
            x = l.forward(&x, None)?;
        }
        let pooled = self.post_norm.forward(&x.narrow(1, 0, 1)?.squeeze(1)?)?;
        Ok(self.projection.forward(&pooled)?)
    }
}

/// The text tower and its projection.
struct TextTower {
    tokens: Embedding,
    positions: Embedding,
    layers: Vec<Layer>,
    final_norm: LayerNorm,
    projection: Linear,
    /// The end-of-text id pooled at; None for legacy configs (eos id 2), which pool at the
    /// largest id, the end token in CLIP's vocabulary.
    eos: Option<u32>,
}

impl TextTower {
    fn new(vb: VarBuilder, t: &TowerConfig, projection_dim: usize) -> Result<Self> {
        let tv = vb.pp("text_model");
        Ok(TextTower {
            tokens: embedding(
                t.vocab_size,
                t.hidden_size,
                tv.pp("embeddings").pp("token_embedding"),
            )?,
            positions: embedding(
                t.max_position_embeddings,
                t.hidden_size,
                tv.pp("embeddings").pp("position_embedding"),
            )?,
            layers: layers(tv.pp("encoder"), t)?,
            final_norm: layer_norm(t.hidden_size, t.layer_norm_eps, tv.pp("final_layer_norm"))?,
            projection: linear_no_bias(t.hidden_size, projection_dim, vb.pp("text_projection"))?,
            eos: t.eos_token_id.filter(|&e| e != 2),
        })
    }

    /// Every token's final state and the projected embedding pooled at the end token.
    /// ids: b rows padded to n → ([b, n, h], [b, projection])
    fn forward(&self, ids: &[Vec<u32>], device: &Device) -> Result<(Tensor, Tensor)> {
        let n = ids.iter().map(Vec::len).max().unwrap_or(0);
        let flat: Vec<u32> = ids
            .iter()
            .flat_map(|r| r.iter().copied().chain(std::iter::repeat(0)).take(n))
            .collect();
        let input = Tensor::from_vec(flat, (ids.len(), n), device)?;
        let positions = Tensor::arange(0u32, n as u32, device)?;
        let mut x = self
            .tokens
            .forward(&input)?
            .broadcast_add(&self.positions.forward(&positions)?)?;
        let mask = causal_mask(n, 0, device)?;
        for l in &self.layers {
            x = l.forward(&x, Some(&mask))?;
        }
        let x = self.final_norm.forward(&x)?;
        let rows = ids
            .iter()
            .enumerate()
            .map(|(i, r)| Ok(x.get(i)?.get(self.pooled_at(r))?))
            .collect::<Result<Vec<_>>>()?;
        let pooled = Tensor::stack(&rows, 0)?;
        let embeds = self.projection.forward(&pooled)?.contiguous()?;
        Ok((x, embeds))
    }

    fn pooled_at(&self, ids: &[u32]) -> usize {
        match self.eos {
            Some(e) => ids
                .iter()
                .position(|&t| t == e)
                .unwrap_or(ids.len().saturating_sub(1)),
            None => ids
                .iter()
                .enumerate()
                .max_by_key(|(j, &t)| (t, usize::MAX - j))
                .map(|(j, _)| j)
                .unwrap_or(0),
        }
    }
}

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

/// As [`unit_rows`], with each row's length before normalising, in f32. x: [b, d] →
/// (b·d values, b lengths)
pub fn unit_rows_and_norms(x: &Tensor) -> Result<(Vec<f32>, Vec<f32>)> {
    let x = x.to_dtype(candle_core::DType::F32)?;
    let norms = x
        .sqr()?
        .sum(D::Minus1)?
        .sqrt()?
        .to_device(&Device::Cpu)?
        .to_vec1::<f32>()?;
    Ok((unit_rows(&x)?, norms))
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
