//! Kandinsky 2.2's decoder UNet (diffusers' `UNet2DConditionModel` as
//! `kandinsky-community/kandinsky-2-2-decoder` configures it). The only condition is a CLIP
//! image embedding, used twice: projected into `IMAGE_TOKENS` cross-attention tokens, and
//! projected and added to the time embedding. Attention is "added-KV": each block attends
//! over the image tokens' keys and values prepended to its own. The output has twice the input
//! channels: the noise, then the learned variance.

use std::path::Path;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{group_norm, layer_norm, linear, Conv2d, GroupNorm, LayerNorm, Linear, VarBuilder};
use serde::Deserialize;

use super::layers::{
    attend, conv3, timestep_features, to_map, to_tokens, tokens_linear, Resample, Resnet,
    ResnetSpec, TimeMlp, TimeNorm,
};
use crate::error::{Error, Result};
use crate::{fsutil, hub};

/// Cross-attention tokens the image embedding is projected into (diffusers'
/// `ImageProjection` default, which the UNet keeps).
pub const IMAGE_TOKENS: usize = 32;

/// PyTorch's default epsilon, which diffusers keeps for the attention and projection norms.
const TORCH_EPS: f64 = 1e-5;
/// Groups of the cross-attention norm (diffusers' default).
const CROSS_NORM_GROUPS: usize = 32;
/// The time embedding's width per channel of the first level.
const TIME_WIDTH: usize = 4;

/// A setting given once for all blocks or once per block.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PerBlock {
    One(usize),
    Each(Vec<usize>),
}

impl PerBlock {
    fn at(&self, i: usize) -> usize {
        match self {
            PerBlock::One(v) => *v,
            PerBlock::Each(v) => v[i.min(v.len() - 1)],
        }
    }
}

fn groups() -> usize {
    32
}
fn eps() -> f64 {
    TORCH_EPS
}
fn one() -> f64 {
    1.0
}
fn yes() -> bool {
    true
}

/// The fields of diffusers' UNet config this model reads; others are checked or ignored.
#[derive(Debug, Clone, Deserialize)]
pub struct UNetConfig {
    pub in_channels: usize,
    pub out_channels: usize,
    pub block_out_channels: Vec<usize>,
    pub layers_per_block: PerBlock,
    pub down_block_types: Vec<String>,
    pub up_block_types: Vec<String>,
    pub mid_block_type: Option<String>,
    pub attention_head_dim: PerBlock,
    pub cross_attention_dim: usize,
    pub encoder_hid_dim: usize,
    pub encoder_hid_dim_type: Option<String>,
    pub addition_embed_type: Option<String>,
    #[serde(default = "groups")]
    pub norm_num_groups: usize,
    #[serde(default = "eps")]
    pub norm_eps: f64,
    #[serde(default)]
    pub resnet_time_scale_shift: Option<String>,
    #[serde(default)]
    pub resnet_skip_time_act: bool,
    #[serde(default = "one")]
    pub resnet_out_scale_factor: f64,
    #[serde(default = "one")]
    pub mid_block_scale_factor: f64,
    #[serde(default = "yes")]
    pub flip_sin_to_cos: bool,
    #[serde(default)]
    pub freq_shift: f64,
    #[serde(default)]
    pub only_cross_attention: bool,
    #[serde(default)]
    pub mid_block_only_cross_attention: Option<bool>,
    #[serde(default)]
    pub cross_attention_norm: Option<String>,
    #[serde(default)]
    pub class_embed_type: Option<String>,
    #[serde(default)]
    pub act_fn: Option<String>,
}

impl UNetConfig {
    /// `kandinsky-community/kandinsky-2-2-decoder`'s UNet (1.22B parameters), for benchmarks
    /// and size estimates where the weights are not at hand.
    pub fn kandinsky22() -> Self {
        serde_json::from_value(serde_json::json!({
            "in_channels": 4, "out_channels": 8,
            "block_out_channels": [384, 768, 1152, 1536], "layers_per_block": 3,
            "down_block_types": ["ResnetDownsampleBlock2D", "SimpleCrossAttnDownBlock2D",
                "SimpleCrossAttnDownBlock2D", "SimpleCrossAttnDownBlock2D"],
            "up_block_types": ["SimpleCrossAttnUpBlock2D", "SimpleCrossAttnUpBlock2D",
                "SimpleCrossAttnUpBlock2D", "ResnetUpsampleBlock2D"],
            "mid_block_type": "UNetMidBlock2DSimpleCrossAttn",
            "attention_head_dim": 64, "cross_attention_dim": 768,
            "encoder_hid_dim": 1280, "encoder_hid_dim_type": "image_proj",
            "addition_embed_type": "image", "resnet_time_scale_shift": "scale_shift"
        }))
        .expect("a valid config")
    }

    /// Refuses configs this reader would compute wrongly, naming the field.
    fn check(&self, path: &Path) -> Result<()> {
        let want = |field: &str, got: Option<&str>, expected: &str| -> Result<()> {
            if got == Some(expected) {
                Ok(())
            } else {
                Err(Error::bad_file(
                    path,
                    format!("has {field} {got:?}; only Kandinsky 2.2's decoder UNet ({field} \"{expected}\") is supported"),
                ))
            }
        };
        want(
            "encoder_hid_dim_type",
            self.encoder_hid_dim_type.as_deref(),
            "image_proj",
        )?;
        want(
            "addition_embed_type",
            self.addition_embed_type.as_deref(),
            "image",
        )?;
        want(
            "mid_block_type",
            self.mid_block_type.as_deref(),
            "UNetMidBlock2DSimpleCrossAttn",
        )?;
        if self.act_fn.as_deref().is_some_and(|a| a != "silu") || self.class_embed_type.is_some() {
            return Err(Error::bad_file(
                path,
                "has an activation other than silu or a class embedding, which Kandinsky 2.2's UNet does not",
            ));
        }
        if self
            .cross_attention_norm
            .as_deref()
            .is_some_and(|n| n != "group_norm" && n != "layer_norm")
        {
            return Err(Error::bad_file(path, "has an unknown cross_attention_norm"));
        }
        let known = [
            "ResnetDownsampleBlock2D",
            "SimpleCrossAttnDownBlock2D",
            "ResnetUpsampleBlock2D",
            "SimpleCrossAttnUpBlock2D",
        ];
        if let Some(b) = self
            .down_block_types
            .iter()
            .chain(&self.up_block_types)
            .find(|b| !known.contains(&b.as_str()))
        {
            return Err(Error::bad_file(
                path,
                format!(
                    "has block type {b}; Kandinsky 2.2's UNet uses only {}",
                    known.join(", ")
                ),
            ));
        }
        if self.down_block_types.len() != self.block_out_channels.len()
            || self.up_block_types.len() != self.block_out_channels.len()
        {
            return Err(Error::bad_file(
                path,
                "has block type lists of another length than block_out_channels",
            ));
        }
        Ok(())
    }

    fn spec(&self) -> ResnetSpec {
        ResnetSpec {
            groups: self.norm_num_groups,
            eps: self.norm_eps,
            temb: self.block_out_channels[0] * TIME_WIDTH,
            time_norm: match self.resnet_time_scale_shift.as_deref() {
                Some("scale_shift") => TimeNorm::ScaleShift,
                _ => TimeNorm::Add,
            },
            skip_time_act: self.resnet_skip_time_act,
            out_scale: self.resnet_out_scale_factor,
        }
    }
}

/// Normalisation of the image tokens before their key and value projections.
enum CrossNorm {
    Group(GroupNorm),
    Layer(LayerNorm),
}

/// diffusers' `Attention` with `AttnAddedKVProcessor`: group-normed pixels attend over the
/// image tokens' keys and values followed by (unless cross-only) their own.
/// x: [b, c, h, w], ctx: [b, m, cross] → [b, c, h, w]
struct AddedKvAttention {
    norm: GroupNorm,
    cross_norm: Option<CrossNorm>,
    to_q: Linear,
    to_kv: Option<(Linear, Linear)>,
    add_k: Linear,
    add_v: Linear,
    to_out: Linear,
    heads: usize,
}

impl AddedKvAttention {
    fn new(
        vb: VarBuilder,
        c: &UNetConfig,
        channels: usize,
        head_dim: usize,
        cross_only: bool,
    ) -> Result<Self> {
        let cross = c.cross_attention_dim;
        let cross_norm = match c.cross_attention_norm.as_deref() {
            Some("group_norm") => Some(CrossNorm::Group(group_norm(
                CROSS_NORM_GROUPS,
                cross,
                TORCH_EPS,
                vb.pp("norm_cross"),
            )?)),
            Some(_) => Some(CrossNorm::Layer(layer_norm(
                cross,
                TORCH_EPS,
                vb.pp("norm_cross"),
            )?)),
            None => None,
        };
        let to_kv = if cross_only {
            None
        } else {
            Some((
                linear(channels, channels, vb.pp("to_k"))?,
                linear(channels, channels, vb.pp("to_v"))?,
            ))
        };
        Ok(AddedKvAttention {
            norm: group_norm(c.norm_num_groups, channels, TORCH_EPS, vb.pp("group_norm"))?,
            cross_norm,
            to_q: linear(channels, channels, vb.pp("to_q"))?,
            to_kv,
            add_k: linear(cross, channels, vb.pp("add_k_proj"))?,
            add_v: linear(cross, channels, vb.pp("add_v_proj"))?,
            to_out: linear(channels, channels, vb.pp("to_out").pp(0))?,
            heads: channels / head_dim,
        })
    }

    fn forward(&self, x: &Tensor, ctx: &Tensor) -> Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        let ctx = match &self.cross_norm {
            Some(CrossNorm::Group(n)) => n.forward(&ctx.transpose(1, 2)?)?.transpose(1, 2)?,
            Some(CrossNorm::Layer(n)) => n.forward(ctx)?,
            None => ctx.clone(),
        };
        let tokens = to_tokens(&self.norm.forward(&x.flatten_from(2)?)?.reshape(x.shape())?)?;
        let q = tokens_linear(&self.to_q, &tokens)?;
        let (mut k, mut v) = (
            tokens_linear(&self.add_k, &ctx)?,
            tokens_linear(&self.add_v, &ctx)?,
        );
        if let Some((to_k, to_v)) = &self.to_kv {
            k = Tensor::cat(&[&k, &tokens_linear(to_k, &tokens)?], 1)?;
            v = Tensor::cat(&[&v, &tokens_linear(to_v, &tokens)?], 1)?;
        }
        let out = tokens_linear(&self.to_out, &attend(&q, &k, &v, self.heads, None)?)?;
        Ok((to_map(&out, h, w)? + x)?)
    }
}

/// One level of the UNet: residual blocks, each followed by attention in the cross-attention
/// kinds, then a resampling residual block between levels.
struct Level {
    resnets: Vec<Resnet>,
    attentions: Vec<AddedKvAttention>,
    resample: Option<Resnet>,
}

impl Level {
    /// A down or up level: one resnet per input width, attention after each in the
    /// cross-attention kinds, then the resampling resnet unless `resample` is None.
    fn new(
        vb: VarBuilder,
        c: &UNetConfig,
        kind: &str,
        inputs: &[usize],
        out: usize,
        head: usize,
        resample: Resample,
    ) -> Result<Self> {
        let spec = c.spec();
        let attn = kind.starts_with("SimpleCrossAttn");
        let mut level = Level {
            resnets: vec![],
            attentions: vec![],
            resample: None,
        };
        for (j, &from) in inputs.iter().enumerate() {
            let r = Resnet::new(vb.pp("resnets").pp(j), from, out, Resample::None, spec)?;
            level.resnets.push(r);
            if attn {
                let a = AddedKvAttention::new(
                    vb.pp("attentions").pp(j),
                    c,
                    out,
                    head,
                    c.only_cross_attention,
                )?;
                level.attentions.push(a);
            }
        }
        if resample != Resample::None {
            let name = if resample == Resample::Down {
                "downsamplers"
            } else {
                "upsamplers"
            };
            level.resample = Some(Resnet::new(vb.pp(name).pp(0), out, out, resample, spec)?);
        }
        Ok(level)
    }

    /// The middle: resnet, attention, resnet at the deepest width.
    fn mid(vb: VarBuilder, c: &UNetConfig) -> Result<Self> {
        let last = *c
            .block_out_channels
            .last()
            .expect("checked: one width per block");
        let spec = ResnetSpec {
            out_scale: c.mid_block_scale_factor,
            ..c.spec()
        };
        let cross_only = c
            .mid_block_only_cross_attention
            .unwrap_or(c.only_cross_attention);
        let head = c.attention_head_dim.at(c.block_out_channels.len() - 1);
        Ok(Level {
            resnets: (0..2)
                .map(|j| Resnet::new(vb.pp("resnets").pp(j), last, last, Resample::None, spec))
                .collect::<Result<_>>()?,
            attentions: vec![AddedKvAttention::new(
                vb.pp("attentions").pp(0),
                c,
                last,
                head,
                cross_only,
            )?],
            resample: None,
        })
    }

    fn attend_after(&self, i: usize, h: Tensor, ctx: &Tensor) -> Result<Tensor> {
        match self.attentions.get(i) {
            Some(a) => a.forward(&h, ctx),
            None => Ok(h),
        }
    }
}

pub struct UNet {
    pub config: UNetConfig,
    time: TimeMlp,
    image_time: (Linear, LayerNorm),
    image_tokens: (Linear, LayerNorm),
    conv_in: Conv2d,
    down: Vec<Level>,
    mid: Level,
    up: Vec<Level>,
    norm_out: GroupNorm,
    conv_out: Conv2d,
}

impl UNet {
    /// Loads a diffusers `unet/` folder (`config.json`, `diffusion_pytorch_model.safetensors`).
    pub fn load(dir: &Path, dtype: DType, device: &Device) -> Result<Self> {
        let path = dir.join("config.json");
        let config: UNetConfig = fsutil::read_json(&path)?;
        config.check(&path)?;
        hub::build_from_file(dir, super::WEIGHTS, dtype, device, |vb| {
            Self::new(vb, config)
        })
    }

    pub fn new(vb: VarBuilder, c: UNetConfig) -> Result<Self> {
        let ch = &c.block_out_channels;
        let (levels, spec) = (ch.len(), c.spec());
        let temb = spec.temb;
        let mut down = Vec::new();
        let mut out = ch[0];
        for (i, kind) in c.down_block_types.iter().enumerate() {
            let cin = out;
            out = ch[i];
            let inputs: Vec<usize> = (0..c.layers_per_block.at(i))
                .map(|j| if j == 0 { cin } else { out })
                .collect();
            let resample = if i + 1 < levels {
                Resample::Down
            } else {
                Resample::None
            };
            let vb = vb.pp("down_blocks").pp(i);
            down.push(Level::new(
                vb,
                &c,
                kind,
                &inputs,
                out,
                c.attention_head_dim.at(i),
                resample,
            )?);
        }
        let mid = Level::mid(vb.pp("mid_block"), &c)?;
        let reversed: Vec<usize> = ch.iter().rev().copied().collect();
        let mut up = Vec::new();
        let mut prev = reversed[0];
        for (i, kind) in c.up_block_types.iter().enumerate() {
            let out = reversed[i];
            let skip_in = reversed[(i + 1).min(levels - 1)];
            let n = c.layers_per_block.at(levels - 1 - i) + 1;
            // Each resnet takes the level's running width plus one skip from the way down.
            let inputs: Vec<usize> = (0..n)
                .map(|j| {
                    let from = if j == 0 { prev } else { out };
                    from + if j == n - 1 { skip_in } else { out }
                })
                .collect();
            let resample = if i + 1 < levels {
                Resample::Up
            } else {
                Resample::None
            };
            // diffusers indexes the up blocks' head size by i, not reversed.
            let head = c.attention_head_dim.at(i);
            up.push(Level::new(
                vb.pp("up_blocks").pp(i),
                &c,
                kind,
                &inputs,
                out,
                head,
                resample,
            )?);
            prev = out;
        }
        let tokens = IMAGE_TOKENS * c.cross_attention_dim;
        Ok(UNet {
            time: TimeMlp::new(vb.pp("time_embedding"), ch[0], temb, temb)?,
            image_time: (
                linear(
                    c.encoder_hid_dim,
                    temb,
                    vb.pp("add_embedding").pp("image_proj"),
                )?,
                layer_norm(temb, TORCH_EPS, vb.pp("add_embedding").pp("image_norm"))?,
            ),
            image_tokens: (
                linear(
                    c.encoder_hid_dim,
                    tokens,
                    vb.pp("encoder_hid_proj").pp("image_embeds"),
                )?,
                layer_norm(
                    c.cross_attention_dim,
                    TORCH_EPS,
                    vb.pp("encoder_hid_proj").pp("norm"),
                )?,
            ),
            conv_in: conv3(vb.pp("conv_in"), c.in_channels, ch[0])?,
            norm_out: group_norm(c.norm_num_groups, ch[0], c.norm_eps, vb.pp("conv_norm_out"))?,
            conv_out: conv3(vb.pp("conv_out"), ch[0], c.out_channels)?,
            down,
            mid,
            up,
            config: c,
        })
    }

    /// The predicted noise and variance of noisy latents at timestep `t`, conditioned on image
    /// embeddings. sample: [b, in, h, w], image_embeds: [b, encoder_hid_dim] → [b, out, h, w]
    pub fn forward(&self, sample: &Tensor, t: f64, image_embeds: &Tensor) -> Result<Tensor> {
        let c = &self.config;
        let b = sample.dim(0)?;
        let dtype = sample.dtype();
        let features = timestep_features(
            &vec![t; b],
            c.block_out_channels[0],
            c.flip_sin_to_cos,
            c.freq_shift,
            sample.device(),
        )?;
        let image_time = self
            .image_time
            .1
            .forward(&self.image_time.0.forward(image_embeds)?)?;
        let temb = (self.time.forward(&features.to_dtype(dtype)?)? + image_time)?;
        let ctx = self.image_tokens.0.forward(image_embeds)?.reshape((
            b,
            IMAGE_TOKENS,
            c.cross_attention_dim,
        ))?;
        let ctx = self.image_tokens.1.forward(&ctx)?;

        let mut h = self.conv_in.forward(sample)?;
        let mut skips = vec![h.clone()];
        for level in &self.down {
            for (i, r) in level.resnets.iter().enumerate() {
                h = level.attend_after(i, r.forward(&h, &temb)?, &ctx)?;
                skips.push(h.clone());
            }
            if let Some(r) = &level.resample {
                h = r.forward(&h, &temb)?;
                skips.push(h.clone());
            }
        }
        h = self.mid.resnets[0].forward(&h, &temb)?;
        h = self.mid.attentions[0].forward(&h, &ctx)?;
        h = self.mid.resnets[1].forward(&h, &temb)?;
        for level in &self.up {
            for (i, r) in level.resnets.iter().enumerate() {
                let skip = skips.pop().expect("one skip per up-block resnet");
                h = r.forward(&Tensor::cat(&[&h, &skip], 1)?, &temb)?;
                h = level.attend_after(i, h, &ctx)?;
            }
            if let Some(r) = &level.resample {
                h = r.forward(&h, &temb)?;
            }
        }
        let h = candle_nn::ops::silu(&self.norm_out.forward(&h)?)?;
        Ok(self.conv_out.forward(&h)?)
    }
}
