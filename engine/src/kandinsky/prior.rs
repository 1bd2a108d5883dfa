//! Kandinsky 2.2's prior (diffusers' `PriorTransformer`): a causal transformer that denoises a
//! CLIP image embedding given the prompt's text states and embedding. Its sequence is the
//! text states, the projected text embedding, the time embedding, the noisy image embedding
//! and a learned "prd" token, whose output is the prediction.

use std::path::Path;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{layer_norm, linear, LayerNorm, Linear, VarBuilder};
use serde::Deserialize;

use super::layers::{attend, timestep_features, tokens_linear, TimeMlp};
use crate::clip::ops::gelu_erf;
use crate::error::{Error, Result};
use crate::{fsutil, hub};

/// PyTorch's LayerNorm epsilon, which diffusers keeps.
const TORCH_EPS: f64 = 1e-5;
/// The feed-forward's width per model width.
const FF_WIDTH: usize = 4;

/// The additive mask diffusers puts on masked and future positions.
const MASKED: f64 = -10_000.0;

fn default_additional() -> usize {
    4
}
fn default_tokens() -> usize {
    77
}

#[derive(Debug, Clone, Deserialize)]
pub struct PriorConfig {
    pub num_attention_heads: usize,
    pub attention_head_dim: usize,
    pub num_layers: usize,
    pub embedding_dim: usize,
    #[serde(default = "default_tokens")]
    pub num_embeddings: usize,
    #[serde(default = "default_additional")]
    pub additional_embeddings: usize,
    #[serde(default)]
    pub time_embed_dim: Option<usize>,
    #[serde(default)]
    pub embedding_proj_dim: Option<usize>,
    #[serde(default)]
    pub clip_embed_dim: Option<usize>,
    #[serde(default)]
    pub norm_in_type: Option<String>,
    #[serde(default)]
    pub embedding_proj_norm_type: Option<String>,
    #[serde(default)]
    pub encoder_hid_proj_type: Option<String>,
    #[serde(default)]
    pub added_emb_type: Option<String>,
}

/// A pre-norm transformer block: self-attention, then a 4× GELU MLP.
struct Block {
    norm1: LayerNorm,
    qkv: (Linear, Linear, Linear),
    out: Linear,
    norm3: LayerNorm,
    ff_in: Linear,
    ff_out: Linear,
    heads: usize,
}

impl Block {
    fn new(vb: VarBuilder, dim: usize, heads: usize) -> Result<Self> {
        let a = vb.pp("attn1");
        Ok(Block {
            norm1: layer_norm(dim, TORCH_EPS, vb.pp("norm1"))?,
            qkv: (
                linear(dim, dim, a.pp("to_q"))?,
                linear(dim, dim, a.pp("to_k"))?,
                linear(dim, dim, a.pp("to_v"))?,
            ),
            out: linear(dim, dim, a.pp("to_out").pp(0))?,
            norm3: layer_norm(dim, TORCH_EPS, vb.pp("norm3"))?,
            ff_in: linear(dim, FF_WIDTH * dim, vb.pp("ff").pp("net").pp(0).pp("proj"))?,
            ff_out: linear(FF_WIDTH * dim, dim, vb.pp("ff").pp("net").pp(2))?,
            heads,
        })
    }

    /// x: [b, n, dim], mask: [b, 1, n, n] additive → [b, n, dim]
    fn forward(&self, x: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let h = self.norm1.forward(x)?;
        let (q, k, v) = (
            tokens_linear(&self.qkv.0, &h)?,
            tokens_linear(&self.qkv.1, &h)?,
            tokens_linear(&self.qkv.2, &h)?,
        );
        let x = (x + tokens_linear(&self.out, &attend(&q, &k, &v, self.heads, Some(mask))?)?)?;
        let h = gelu_erf(&tokens_linear(&self.ff_in, &self.norm3.forward(&x)?)?)?;
        Ok((&x + tokens_linear(&self.ff_out, &h)?)?)
    }
}

pub struct PriorTransformer {
    pub config: PriorConfig,
    time: TimeMlp,
    proj_in: Linear,
    embedding_norm: Option<LayerNorm>,
    embedding_proj: Linear,
    states_proj: Linear,
    positions: Tensor,
    prd: Tensor,
    norm_in: Option<LayerNorm>,
    blocks: Vec<Block>,
    norm_out: LayerNorm,
    to_clip: Linear,
    clip_mean: Tensor,
    clip_std: Tensor,
}

impl PriorTransformer {
    /// Loads a diffusers `prior/` folder (`config.json`, `diffusion_pytorch_model.safetensors`).
    pub fn load(dir: &Path, dtype: DType, device: &Device) -> Result<Self> {
        let path = dir.join("config.json");
        let config: PriorConfig = fsutil::read_json(&path)?;
        if config.added_emb_type.as_deref() != Some("prd")
            || config.encoder_hid_proj_type.as_deref() != Some("linear")
        {
            return Err(Error::bad_file(
                &path,
                "is not Kandinsky 2.2's prior (added_emb_type \"prd\", encoder_hid_proj_type \"linear\")",
            ));
        }
        hub::build_from_file(dir, super::WEIGHTS, dtype, device, |vb| {
            Self::new(vb, config)
        })
    }

    pub fn new(vb: VarBuilder, c: PriorConfig) -> Result<Self> {
        let inner = c.num_attention_heads * c.attention_head_dim;
        let time_dim = c.time_embed_dim.unwrap_or(inner);
        let proj_dim = c.embedding_proj_dim.unwrap_or(c.embedding_dim);
        let clip_dim = c.clip_embed_dim.unwrap_or(c.embedding_dim);
        let n = c.num_embeddings + c.additional_embeddings;
        let norm = |on: &Option<String>, dim: usize, name: &str| -> Result<Option<LayerNorm>> {
            Ok(match on {
                Some(_) => Some(layer_norm(dim, TORCH_EPS, vb.pp(name))?),
                None => None,
            })
        };
        Ok(PriorTransformer {
            time: TimeMlp::new(vb.pp("time_embedding"), inner, time_dim, inner)?,
            proj_in: linear(c.embedding_dim, inner, vb.pp("proj_in"))?,
            embedding_norm: norm(&c.embedding_proj_norm_type, proj_dim, "embedding_proj_norm")?,
            embedding_proj: linear(proj_dim, inner, vb.pp("embedding_proj"))?,
            states_proj: linear(c.embedding_dim, inner, vb.pp("encoder_hidden_states_proj"))?,
            positions: vb.get((1, n, inner), "positional_embedding")?,
            prd: vb.get((1, 1, inner), "prd_embedding")?,
            norm_in: norm(&c.norm_in_type, inner, "norm_in")?,
            blocks: (0..c.num_layers)
                .map(|i| {
                    Block::new(
                        vb.pp("transformer_blocks").pp(i),
                        inner,
                        c.num_attention_heads,
                    )
                })
                .collect::<Result<_>>()?,
            norm_out: layer_norm(inner, TORCH_EPS, vb.pp("norm_out"))?,
            to_clip: linear(inner, clip_dim, vb.pp("proj_to_clip_embeddings"))?,
            clip_mean: vb.get((1, clip_dim), "clip_mean")?,
            clip_std: vb.get((1, clip_dim), "clip_std")?,
            config: c,
        })
    }

    /// The predicted (normalised) image embedding at timestep `t`.
    /// latents: [b, d], text_embeds: [b, proj], states: [b, n, d], lengths: each row's unmasked
    /// tokens → [b, clip]
    pub fn forward(
        &self,
        latents: &Tensor,
        t: f64,
        text_embeds: &Tensor,
        states: &Tensor,
        lengths: &[usize],
    ) -> Result<Tensor> {
        let b = latents.dim(0)?;
        let inner = self.positions.dim(2)?;
        let dtype = latents.dtype();
        let features = timestep_features(&vec![t; b], inner, true, 0.0, latents.device())?;
        let time = self.time.forward(&features.to_dtype(dtype)?)?;
        let text = match &self.embedding_norm {
            Some(n) => n.forward(text_embeds)?,
            None => text_embeds.clone(),
        };
        let text = self.embedding_proj.forward(&text)?;
        let states = tokens_linear(&self.states_proj, states)?;
        let latents = self.proj_in.forward(latents)?;
        let prd = self.prd.broadcast_as((b, 1, inner))?;
        let mut x = Tensor::cat(
            &[
                &states,
                &text.unsqueeze(1)?,
                &time.unsqueeze(1)?,
                &latents.unsqueeze(1)?,
                &prd,
            ],
            1,
        )?
        .broadcast_add(&self.positions)?;
        if let Some(n) = &self.norm_in {
            x = n.forward(&x)?;
        }
        let mask = self.mask(lengths, states.dim(1)?, x.device())?;
        for block in &self.blocks {
            x = block.forward(&x, &mask)?;
        }
        let last = self
            .norm_out
            .forward(&x.narrow(1, x.dim(1)? - 1, 1)?.squeeze(1)?)?;
        Ok(self.to_clip.forward(&last)?)
    }

    /// The causal mask plus, per row, the text padding mask. → [b, 1, n, n]
    fn mask(&self, lengths: &[usize], text: usize, device: &Device) -> Result<Tensor> {
        let n = text + self.config.additional_embeddings;
        let mut values = Vec::with_capacity(lengths.len() * n * n);
        for &len in lengths {
            for i in 0..n {
                values.extend((0..n).map(|j| {
                    let padded = j >= len && j < text;
                    let future = j > i;
                    (MASKED * (padded as u8 as f64) + MASKED * (future as u8 as f64)) as f32
                }));
            }
        }
        Ok(Tensor::from_vec(values, (lengths.len(), 1, n, n), device)?)
    }

    /// Back from the prior's normalised space to CLIP's. [b, clip] → [b, clip]
    pub fn unnormalise(&self, latents: &Tensor) -> Result<Tensor> {
        Ok(latents
            .broadcast_mul(&self.clip_std)?
            .broadcast_add(&self.clip_mean)?)
    }

    pub fn embedding_dim(&self) -> usize {
        self.config.embedding_dim
    }
}
