//! The transformer layers CLIP's towers are made of, which BLIP's vision tower and text decoder
//! share: attention, the pre-norm layer, and the token plumbing around them.

#[cfg(target_arch = "x86_64")]
use candle_core::DType;
use candle_core::{Device, Module, Tensor};
use candle_nn::{layer_norm, linear, Conv2d, LayerNorm, Linear, VarBuilder};

use super::config::{Activation, TowerConfig};
#[cfg(target_arch = "x86_64")]
use super::packed_layer::{PackedLayer, Scratch};
#[cfg(target_arch = "x86_64")]
use crate::cpu::Avx2;
use crate::error::Result;

pub(crate) struct Attention {
    pub(crate) q: Linear,
    pub(crate) k: Linear,
    pub(crate) v: Linear,
    pub(crate) out: Linear,
    pub(crate) heads: usize,
}

impl Attention {
    pub(crate) fn new(vb: VarBuilder, c: &TowerConfig) -> Result<Self> {
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

/// A pre-norm transformer layer: attention, then an MLP, each added to its input. On a CPU
/// with AVX2 and FMA its weights are packed for the CPU's own kernels; elsewhere it runs in
/// candle.
pub(crate) enum Layer {
    Candle(CandleLayer),
    #[cfg(target_arch = "x86_64")]
    Packed(Box<PackedLayer>),
}

impl Layer {
    fn new(vb: VarBuilder, c: &TowerConfig) -> Result<Self> {
        let attn = Attention::new(vb.pp("self_attn"), c)?;
        Self::chosen(&vb, CandleLayer::new(vb.clone(), c, attn)?)
    }

    /// A layer of BLIP's vision tower, whose attention has one fused `qkv` projection.
    pub(crate) fn blip(vb: VarBuilder, c: &TowerConfig) -> Result<Self> {
        let attn = Attention::fused(vb.pp("self_attn"), c)?;
        Self::chosen(&vb, CandleLayer::new(vb.clone(), c, attn)?)
    }

    /// The packed layer where the CPU's kernels run these weights, else candle's.
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
    fn chosen(vb: &VarBuilder, layer: CandleLayer) -> Result<Self> {
        #[cfg(target_arch = "x86_64")]
        if vb.device().is_cpu() && vb.dtype() == DType::F32 {
            if let Some(simd) = Avx2::detect() {
                return Ok(Layer::Packed(Box::new(PackedLayer::new(simd, &layer)?)));
            }
        }
        Ok(Layer::Candle(layer))
    }
}

/// x through every layer. x: [b, n, h] → [b, n, h]; `mask` ([n, n], additive) keeps text
/// causal.
pub(crate) fn run_layers(layers: &[Layer], x: Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
    #[cfg(target_arch = "x86_64")]
    if let Some(Layer::Packed(_)) = layers.first() {
        return run_packed(layers, &x, mask);
    }
    let mut x = x;
    for l in layers {
        match l {
            Layer::Candle(l) => x = l.forward(&x, mask)?,
            #[cfg(target_arch = "x86_64")]
            Layer::Packed(_) => unreachable!("a tower's layers are all built alike"),
        }
    }
    Ok(x)
}

/// The packed layers over one row-major copy of x, taken out of candle once and put back once.
#[cfg(target_arch = "x86_64")]
fn run_packed(layers: &[Layer], x: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
    let (b, n, h) = x.dims3()?;
    let mut rows = x.flatten_all()?.to_vec1::<f32>()?;
    let mask = mask
        .map(|m| m.flatten_all().and_then(|m| m.to_vec1::<f32>()))
        .transpose()?;
    let mut scratch = Scratch::default();
    for l in layers {
        if let Layer::Packed(l) = l {
            l.forward(&mut rows, b, n, mask.as_deref(), &mut scratch);
        }
    }
    Ok(Tensor::from_vec(rows, (b, n, h), x.device())?)
}

/// A pre-norm transformer layer in candle's ops.
pub(crate) struct CandleLayer {
    pub(crate) norm1: LayerNorm,
    pub(crate) attn: Attention,
    pub(crate) norm2: LayerNorm,
    pub(crate) fc1: Linear,
    pub(crate) fc2: Linear,
    pub(crate) act: Activation,
}

impl CandleLayer {
    pub(crate) fn new(vb: VarBuilder, c: &TowerConfig, attn: Attention) -> Result<Self> {
        let h = c.hidden_size;
        Ok(CandleLayer {
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

pub(crate) fn layers(vb: VarBuilder, c: &TowerConfig) -> Result<Vec<Layer>> {
    (0..c.num_hidden_layers)
        .map(|i| Layer::new(vb.pp("layers").pp(i), c))
        .collect()
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
