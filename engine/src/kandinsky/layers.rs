//! The 2-D building blocks diffusers' Kandinsky 2.2 models share: sinusoidal timestep
//! features, the time MLP, residual blocks (time-conditioned or MoVQ's spatially normalised),
//! and multi-head attention over flattened feature maps. Tensors are NCHW.

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{conv2d, group_norm, linear, Conv2d, Conv2dConfig, GroupNorm, Linear, VarBuilder};

use crate::error::Result;

/// diffusers' `get_timestep_embedding` with max period 10,000, in f32 as diffusers computes
/// it. t: b values → [b, dim]
pub fn timestep_features(
    t: &[f64],
    dim: usize,
    flip_sin_to_cos: bool,
    shift: f64,
    device: &Device,
) -> Result<Tensor> {
    let half = dim / 2;
    let denominator = half as f32 - shift as f32;
    let freqs: Vec<f32> = (0..half)
        .map(|i| (-(10_000f32).ln() * i as f32 / denominator).exp())
        .collect();
    let mut values = Vec::with_capacity(t.len() * dim);
    for &step in t {
        let args: Vec<f32> = freqs.iter().map(|f| step as f32 * f).collect();
        let (sin, cos) = (args.iter().map(|a| a.sin()), args.iter().map(|a| a.cos()));
        if flip_sin_to_cos {
            values.extend(cos.chain(sin));
        } else {
            values.extend(sin.chain(cos));
        }
        values.extend(std::iter::repeat_n(0.0, dim - 2 * half));
    }
    Ok(Tensor::from_vec(values, (t.len(), dim), device)?)
}

/// diffusers' `TimestepEmbedding`: linear, SiLU, linear. [b, i] → [b, o]
pub struct TimeMlp {
    linear_1: Linear,
    linear_2: Linear,
}

impl TimeMlp {
    pub fn new(vb: VarBuilder, input: usize, hidden: usize, out: usize) -> Result<Self> {
        Ok(TimeMlp {
            linear_1: linear(input, hidden, vb.pp("linear_1"))?,
            linear_2: linear(hidden, out, vb.pp("linear_2"))?,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = candle_nn::ops::silu(&self.linear_1.forward(x)?)?;
        Ok(self.linear_2.forward(&h)?)
    }
}

pub fn conv3(vb: VarBuilder, cin: usize, cout: usize) -> Result<Conv2d> {
    let padded = Conv2dConfig {
        padding: 1,
        ..Default::default()
    };
    Ok(conv2d(cin, cout, 3, padded, vb)?)
}

pub fn conv1(vb: VarBuilder, cin: usize, cout: usize) -> Result<Conv2d> {
    Ok(conv2d(cin, cout, 1, Default::default(), vb)?)
}

/// How a residual block takes the time embedding: added after its first convolution, or as a
/// scale and shift of its second norm (Kandinsky's `scale_shift`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeNorm {
    Add,
    ScaleShift,
}

/// A residual block's change of resolution: none, nearest ×2 up, or 2×2 average-pool down,
/// applied to both paths after the first norm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resample {
    None,
    Up,
    Down,
}

impl Resample {
    fn apply(self, x: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Resample::None => x.clone(),
            Resample::Up => {
                let (_, _, h, w) = x.dims4()?;
                x.upsample_nearest2d(2 * h, 2 * w)?
            }
            Resample::Down => x.avg_pool2d(2)?,
        })
    }
}

/// The sizes every residual block of one model shares.
#[derive(Debug, Clone, Copy)]
pub struct ResnetSpec {
    pub groups: usize,
    pub eps: f64,
    pub temb: usize,
    pub time_norm: TimeNorm,
    pub skip_time_act: bool,
    pub out_scale: f64,
}

/// diffusers' `ResnetBlock2D` with a time embedding. x: [b, i, h, w], temb: [b, temb] →
/// [b, o, h', w']
pub struct Resnet {
    norm1: GroupNorm,
    conv1: Conv2d,
    time_proj: Linear,
    norm2: GroupNorm,
    conv2: Conv2d,
    shortcut: Option<Conv2d>,
    resample: Resample,
    spec: ResnetSpec,
}

impl Resnet {
    pub fn new(
        vb: VarBuilder,
        cin: usize,
        cout: usize,
        resample: Resample,
        spec: ResnetSpec,
    ) -> Result<Self> {
        let time_out = match spec.time_norm {
            TimeNorm::Add => cout,
            TimeNorm::ScaleShift => 2 * cout,
        };
        Ok(Resnet {
            norm1: group_norm(spec.groups, cin, spec.eps, vb.pp("norm1"))?,
            conv1: conv3(vb.pp("conv1"), cin, cout)?,
            time_proj: linear(spec.temb, time_out, vb.pp("time_emb_proj"))?,
            norm2: group_norm(spec.groups, cout, spec.eps, vb.pp("norm2"))?,
            conv2: conv3(vb.pp("conv2"), cout, cout)?,
            shortcut: shortcut(vb, cin, cout)?,
            resample,
            spec,
        })
    }

    pub fn forward(&self, x: &Tensor, temb: &Tensor) -> Result<Tensor> {
        let h = candle_nn::ops::silu(&self.norm1.forward(x)?)?;
        let (x, h) = (self.resample.apply(x)?, self.resample.apply(&h)?);
        let h = self.conv1.forward(&h)?;
        let temb = if self.spec.skip_time_act {
            temb.clone()
        } else {
            candle_nn::ops::silu(temb)?
        };
        let t = self.time_proj.forward(&temb)?.unsqueeze(2)?.unsqueeze(3)?;
        let h = match self.spec.time_norm {
            TimeNorm::Add => self.norm2.forward(&h.broadcast_add(&t)?)?,
            TimeNorm::ScaleShift => {
                let c = h.dim(1)?;
                let (scale, shift) = (t.narrow(1, 0, c)?, t.narrow(1, c, c)?);
                self.norm2
                    .forward(&h)?
                    .broadcast_mul(&(scale + 1.0)?)?
                    .broadcast_add(&shift)?
            }
        };
        let h = self.conv2.forward(&candle_nn::ops::silu(&h)?)?;
        residual(&x, &h, self.shortcut.as_ref(), self.spec.out_scale)
    }
}

fn shortcut(vb: VarBuilder, cin: usize, cout: usize) -> Result<Option<Conv2d>> {
    Ok(if cin != cout {
        Some(conv1(vb.pp("conv_shortcut"), cin, cout)?)
    } else {
        None
    })
}

fn residual(x: &Tensor, h: &Tensor, shortcut: Option<&Conv2d>, scale: f64) -> Result<Tensor> {
    let x = match shortcut {
        Some(c) => c.forward(x)?,
        None => x.clone(),
    };
    Ok(((x + h)? / scale)?)
}

/// Groups of MoVQ's spatial norms: fixed in diffusers, whatever the model's own groups.
const SPATIAL_GROUPS: usize = 32;
const SPATIAL_EPS: f64 = 1e-6;

/// MoVQ's `SpatialNorm`: a group norm whose scale and shift are 1×1 convolutions of the
/// quantised latents, resized to the feature map. f: [b, c, h, w], zq: [b, z, h0, w0]
pub struct SpatialNorm {
    norm: GroupNorm,
    conv_y: Conv2d,
    conv_b: Conv2d,
}

impl SpatialNorm {
    pub fn new(vb: VarBuilder, channels: usize, zq_channels: usize) -> Result<Self> {
        Ok(SpatialNorm {
            norm: group_norm(SPATIAL_GROUPS, channels, SPATIAL_EPS, vb.pp("norm_layer"))?,
            conv_y: conv1(vb.pp("conv_y"), zq_channels, channels)?,
            conv_b: conv1(vb.pp("conv_b"), zq_channels, channels)?,
        })
    }

    pub fn forward(&self, f: &Tensor, zq: &Tensor) -> Result<Tensor> {
        let (_, _, h, w) = f.dims4()?;
        let zq = zq.upsample_nearest2d(h, w)?;
        Ok(self
            .norm
            .forward(f)?
            .mul(&self.conv_y.forward(&zq)?)?
            .add(&self.conv_b.forward(&zq)?)?)
    }
}

/// diffusers' `ResnetBlockCondNorm2D` with spatial norms, as in MoVQ's decoder.
pub struct SpatialResnet {
    norm1: SpatialNorm,
    conv1: Conv2d,
    norm2: SpatialNorm,
    conv2: Conv2d,
    shortcut: Option<Conv2d>,
}

impl SpatialResnet {
    pub fn new(vb: VarBuilder, cin: usize, cout: usize, zq_channels: usize) -> Result<Self> {
        Ok(SpatialResnet {
            norm1: SpatialNorm::new(vb.pp("norm1"), cin, zq_channels)?,
            conv1: conv3(vb.pp("conv1"), cin, cout)?,
            norm2: SpatialNorm::new(vb.pp("norm2"), cout, zq_channels)?,
            conv2: conv3(vb.pp("conv2"), cout, cout)?,
            shortcut: shortcut(vb, cin, cout)?,
        })
    }

    pub fn forward(&self, x: &Tensor, zq: &Tensor) -> Result<Tensor> {
        let h = candle_nn::ops::silu(&self.norm1.forward(x, zq)?)?;
        let h = self.conv1.forward(&h)?;
        let h = candle_nn::ops::silu(&self.norm2.forward(&h, zq)?)?;
        let h = self.conv2.forward(&h)?;
        residual(x, &h, self.shortcut.as_ref(), 1.0)
    }
}

/// Scaled dot-product attention over `heads` heads, in f32 whatever the model's dtype (as
/// diffusers' `upcast_softmax`). q: [b, n, e], k and v: [b, m, e] → [b, n, e]
pub fn attend(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    heads: usize,
    mask: Option<&Tensor>,
) -> Result<Tensor> {
    let (b, n, e) = q.dims3()?;
    let d = e / heads;
    let split = |t: &Tensor| -> Result<Tensor> {
        let m = t.dim(1)?;
        Ok(t.reshape((b, m, heads, d))?.transpose(1, 2)?.contiguous()?)
    };
    let dtype = q.dtype();
    let (q, k, v) = (split(q)?, split(k)?, split(v)?);
    let mut scores = (q.matmul(&k.t()?)?.to_dtype(DType::F32)? * (d as f64).powf(-0.5))?;
    if let Some(m) = mask {
        scores = scores.broadcast_add(m)?;
    }
    let probs = candle_nn::ops::softmax_last_dim(&scores)?.to_dtype(dtype)?;
    Ok(probs.matmul(&v)?.transpose(1, 2)?.reshape((b, n, e))?)
}

/// A feature map as a token sequence. [b, c, h, w] → [b, h·w, c]
pub fn to_tokens(x: &Tensor) -> Result<Tensor> {
    Ok(x.flatten_from(2)?.transpose(1, 2)?.contiguous()?)
}

/// Tokens back to a feature map. [b, h·w, c] → [b, c, h, w]
pub fn to_map(x: &Tensor, h: usize, w: usize) -> Result<Tensor> {
    let (b, _, c) = x.dims3()?;
    Ok(x.transpose(1, 2)?.reshape((b, c, h, w))?)
}

/// A linear layer over a token sequence. [b, n, i] → [b, n, o]
pub fn tokens_linear(layer: &Linear, x: &Tensor) -> Result<Tensor> {
    crate::clip::layers::dense(layer, x)
}
