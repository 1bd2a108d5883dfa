//! MoVQ's decoder (diffusers' `VQModel` with `norm_type: spatial`, as
//! `kandinsky-community/kandinsky-2-2-decoder/movq`): latents to pixels. Every norm is a
//! spatial norm conditioned on the latents themselves. The pipeline decodes without
//! quantising, so the codebook is never read.

use std::path::Path;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{linear, Conv2d, Linear, VarBuilder};
use serde::Deserialize;

use super::layers::{
    attend, conv1, conv3, to_map, to_tokens, tokens_linear, SpatialNorm, SpatialResnet,
};
use crate::error::{Error, Result};
use crate::{fsutil, hub};

#[derive(Debug, Clone, Deserialize)]
pub struct MovqConfig {
    pub out_channels: usize,
    pub latent_channels: usize,
    #[serde(default)]
    pub vq_embed_dim: Option<usize>,
    pub block_out_channels: Vec<usize>,
    pub layers_per_block: usize,
    pub up_block_types: Vec<String>,
    #[serde(default)]
    pub norm_type: Option<String>,
    #[serde(default = "yes")]
    pub mid_block_add_attention: bool,
}

fn yes() -> bool {
    true
}

impl MovqConfig {
    /// `kandinsky-community/kandinsky-2-2-decoder`'s MoVQ, for benchmarks.
    pub fn kandinsky22() -> Self {
        serde_json::from_value(serde_json::json!({
            "out_channels": 3, "latent_channels": 4, "vq_embed_dim": 4,
            "block_out_channels": [128, 256, 256, 512], "layers_per_block": 2,
            "up_block_types": ["AttnUpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D",
                "UpDecoderBlock2D"],
            "norm_type": "spatial"
        }))
        .expect("a valid config")
    }
}

/// Single-head self-attention with a spatial norm, added to its input.
/// x: [b, c, h, w], zq: the latents → [b, c, h, w]
struct SpatialAttention {
    norm: SpatialNorm,
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
}

impl SpatialAttention {
    fn new(vb: VarBuilder, c: usize, z: usize) -> Result<Self> {
        Ok(SpatialAttention {
            norm: SpatialNorm::new(vb.pp("spatial_norm"), c, z)?,
            q: linear(c, c, vb.pp("to_q"))?,
            k: linear(c, c, vb.pp("to_k"))?,
            v: linear(c, c, vb.pp("to_v"))?,
            out: linear(c, c, vb.pp("to_out").pp(0))?,
        })
    }

    fn forward(&self, x: &Tensor, zq: &Tensor) -> Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        let t = to_tokens(&self.norm.forward(x, zq)?)?;
        let (q, k, v) = (
            tokens_linear(&self.q, &t)?,
            tokens_linear(&self.k, &t)?,
            tokens_linear(&self.v, &t)?,
        );
        let out = tokens_linear(&self.out, &attend(&q, &k, &v, 1, None)?)?;
        Ok((to_map(&out, h, w)? + x)?)
    }
}

struct UpLevel {
    resnets: Vec<SpatialResnet>,
    attentions: Vec<SpatialAttention>,
    upsample: Option<Conv2d>,
}

pub struct Movq {
    pub config: MovqConfig,
    post_quant_conv: Conv2d,
    conv_in: Conv2d,
    mid: (SpatialResnet, Option<SpatialAttention>, SpatialResnet),
    up: Vec<UpLevel>,
    norm_out: SpatialNorm,
    conv_out: Conv2d,
}

impl Movq {
    /// Loads a diffusers `movq/` folder (`config.json`, `diffusion_pytorch_model.safetensors`).
    pub fn load(dir: &Path, dtype: DType, device: &Device) -> Result<Self> {
        let path = dir.join("config.json");
        let config: MovqConfig = fsutil::read_json(&path)?;
        if config.norm_type.as_deref() != Some("spatial") {
            return Err(Error::bad_file(
                &path,
                "is not a MoVQ config (norm_type \"spatial\"); pass Kandinsky 2.2's movq folder",
            ));
        }
        hub::build_from_file(dir, super::WEIGHTS, dtype, device, |vb| {
            Self::new(vb, config)
        })
    }

    pub fn new(vb: VarBuilder, c: MovqConfig) -> Result<Self> {
        let z = c.latent_channels;
        let vq = c.vq_embed_dim.unwrap_or(z);
        let d = vb.pp("decoder");
        let ch = &c.block_out_channels;
        let top = *ch.last().expect("a MoVQ has at least one block");
        let m = d.pp("mid_block");
        let mid = (
            SpatialResnet::new(m.pp("resnets").pp(0), top, top, z)?,
            match c.mid_block_add_attention {
                true => Some(SpatialAttention::new(m.pp("attentions").pp(0), top, z)?),
                false => None,
            },
            SpatialResnet::new(m.pp("resnets").pp(1), top, top, z)?,
        );
        let mut up = Vec::new();
        let mut prev = top;
        for (i, kind) in c.up_block_types.iter().enumerate() {
            let vb = d.pp("up_blocks").pp(i);
            let out = ch[ch.len() - 1 - i];
            let mut level = UpLevel {
                resnets: vec![],
                attentions: vec![],
                upsample: None,
            };
            for j in 0..=c.layers_per_block {
                let from = if j == 0 { prev } else { out };
                level
                    .resnets
                    .push(SpatialResnet::new(vb.pp("resnets").pp(j), from, out, z)?);
                if kind.starts_with("Attn") {
                    level.attentions.push(SpatialAttention::new(
                        vb.pp("attentions").pp(j),
                        out,
                        z,
                    )?);
                }
            }
            if i + 1 < ch.len() {
                level.upsample = Some(conv3(vb.pp("upsamplers").pp(0).pp("conv"), out, out)?);
            }
            prev = out;
            up.push(level);
        }
        Ok(Movq {
            post_quant_conv: conv1(vb.pp("post_quant_conv"), vq, z)?,
            conv_in: conv3(d.pp("conv_in"), z, top)?,
            mid,
            up,
            norm_out: SpatialNorm::new(d.pp("conv_norm_out"), ch[0], z)?,
            conv_out: conv3(d.pp("conv_out"), ch[0], c.out_channels)?,
            config: c,
        })
    }

    /// Pixels in about [-1, 1] from unquantised latents.
    /// latents: [b, z, h, w] → [b, out, h·2^(levels−1), w·2^(levels−1)]
    pub fn decode(&self, latents: &Tensor) -> Result<Tensor> {
        let zq = latents;
        let mut h = self
            .conv_in
            .forward(&self.post_quant_conv.forward(latents)?)?;
        h = self.mid.0.forward(&h, zq)?;
        if let Some(a) = &self.mid.1 {
            h = a.forward(&h, zq)?;
        }
        h = self.mid.2.forward(&h, zq)?;
        for level in &self.up {
            for (i, r) in level.resnets.iter().enumerate() {
                h = r.forward(&h, zq)?;
                if let Some(a) = level.attentions.get(i) {
                    h = a.forward(&h, zq)?;
                }
            }
            if let Some(conv) = &level.upsample {
                let (_, _, hh, ww) = h.dims4()?;
                h = conv.forward(&h.upsample_nearest2d(2 * hh, 2 * ww)?)?;
            }
        }
        let h = candle_nn::ops::silu(&self.norm_out.forward(&h, zq)?)?;
        Ok(self.conv_out.forward(&h)?)
    }

    /// How much smaller than the picture the latents are.
    pub fn scale_factor(&self) -> usize {
        1 << (self.config.block_out_channels.len() - 1)
    }
}
