//! A transformer layer on the CPU's own kernels (`crate::cpu`): q, k and v as one product over
//! weights packed at load (the 1/√d of the scores folded into q's rows), attention read in
//! place per head, GELU fused into fc1's tile write and each residual added in fc2's and the
//! output projection's. x stays one row-major buffer from the first layer to the last.

use candle_core::Tensor;

use super::config::Activation;
use super::layers::CandleLayer;
use crate::cpu::attention::{attend, Heads};
use crate::cpu::gemm::{matmul, Into, Packed};
use crate::cpu::rows::LayerNorm;
use crate::cpu::Avx2;
use crate::error::{Error, Result};

pub(crate) struct PackedLayer {
    simd: Avx2,
    norm1: LayerNorm,
    /// [3h, h]: q (scaled), k, v.
    qkv: Packed,
    out: Packed,
    norm2: LayerNorm,
    fc1: Packed,
    fc2: Packed,
    act: Activation,
    heads: usize,
}

/// The buffers one forward pass reuses from layer to layer.
#[derive(Default)]
pub(crate) struct Scratch {
    normed: Vec<f32>,
    qkv: Vec<f32>,
    ctx: Vec<f32>,
    hidden: Vec<f32>,
}

fn values(t: &Tensor) -> Result<Vec<f32>> {
    Ok(t.flatten_all()?.to_vec1::<f32>()?)
}

fn norm(n: &candle_nn::LayerNorm) -> Result<LayerNorm> {
    let gamma = values(n.weight())?;
    let beta = match n.bias() {
        Some(b) => values(b)?,
        None => vec![0.0; gamma.len()],
    };
    Ok(LayerNorm::new(gamma, beta, n.eps() as f32))
}

fn pack(simd: Avx2, l: &candle_nn::Linear) -> Result<Packed> {
    let (n, k) = l.weight().dims2()?;
    let bias = l.bias().map(values).transpose()?;
    Ok(Packed::new(
        simd,
        &values(l.weight())?,
        n,
        k,
        bias.as_deref(),
    ))
}

impl PackedLayer {
    pub(crate) fn new(simd: Avx2, l: &CandleLayer) -> Result<Self> {
        let (q, k, v) = (&l.attn.q, &l.attn.k, &l.attn.v);
        let (h, width) = q.weight().dims2()?;
        if l.attn.heads == 0 || h % l.attn.heads != 0 {
            return Err(Error::invalid(
                "num_attention_heads",
                format!("hidden size {h} does not split into {} heads", l.attn.heads),
            ));
        }
        let scale = ((h / l.attn.heads) as f32).powf(-0.5);
        let mut w = values(q.weight())?;
        w.iter_mut().for_each(|x| *x *= scale);
        let mut bias: Vec<f32> = match q.bias() {
            Some(b) => values(b)?.iter().map(|x| x * scale).collect(),
            None => vec![0.0; h],
        };
        for part in [k, v] {
            w.extend(values(part.weight())?);
            bias.extend(match part.bias() {
                Some(b) => values(b)?,
                None => vec![0.0; h],
            });
        }
        Ok(PackedLayer {
            simd,
            norm1: norm(&l.norm1)?,
            qkv: Packed::new(simd, &w, 3 * h, width, Some(&bias)),
            out: pack(simd, &l.attn.out)?,
            norm2: norm(&l.norm2)?,
            fc1: pack(simd, &l.fc1)?,
            fc2: pack(simd, &l.fc2)?,
            act: l.act,
            heads: l.attn.heads,
        })
    }

    /// x ← x + attention(norm1(x)); x ← x + mlp(norm2(x)). x: [batch·tokens, h], mask:
    /// [tokens, tokens] added to the scores.
    pub(crate) fn forward(
        &self,
        x: &mut [f32],
        batch: usize,
        tokens: usize,
        mask: Option<&[f32]>,
        s: &mut Scratch,
    ) {
        let (m, h) = (batch * tokens, self.out.n());
        let fit = |buf: &mut Vec<f32>, len: usize| buf.resize(len, 0.0);
        fit(&mut s.normed, m * h);
        fit(&mut s.qkv, m * 3 * h);
        fit(&mut s.ctx, m * h);
        fit(&mut s.hidden, m * self.fc1.n());
        let simd = self.simd;
        self.norm1.apply(simd, x, &mut s.normed);
        matmul(simd, &s.normed, m, &self.qkv, &mut s.qkv, Into::Set(None));
        let shape = Heads {
            batch,
            tokens,
            heads: self.heads,
            head_dim: h / self.heads,
        };
        attend(simd, shape, &s.qkv, mask, &mut s.ctx);
        matmul(simd, &s.ctx, m, &self.out, x, Into::Add);
        self.norm2.apply(simd, x, &mut s.normed);
        matmul(
            simd,
            &s.normed,
            m,
            &self.fc1,
            &mut s.hidden,
            Into::Set(Some(self.act)),
        );
        matmul(simd, &s.hidden, m, &self.fc2, x, Into::Add);
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device, Tensor};
    use candle_nn::{VarBuilder, VarMap};

    use super::*;
    use crate::clip::config::TowerConfig;
    use crate::clip::layers::{causal_mask, Attention};

    /// Sizes that fill no vector or tile evenly: hidden 40 (5 heads of 8), MLP 53, 7 tokens.
    fn tower(act: Activation) -> TowerConfig {
        serde_json::from_value(serde_json::json!({
            "hidden_size": 40, "intermediate_size": 53, "num_hidden_layers": 1,
            "num_attention_heads": 5, "hidden_act": act,
        }))
        .unwrap()
    }

    #[test]
    fn a_packed_layer_equals_candles_with_and_without_a_mask() {
        let Some(simd) = Avx2::detect() else { return };
        for act in [Activation::Gelu, Activation::QuickGelu] {
            let c = tower(act);
            let map = VarMap::new();
            let vb = VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu);
            let attn = Attention::new(vb.pp("self_attn"), &c).unwrap();
            let candle = CandleLayer::new(vb, &c, attn).unwrap();
            // VarMap initialises biases to zero; give every tensor random values instead.
            for var in map.all_vars() {
                let random = Tensor::randn(0f32, 0.5, var.shape(), &Device::Cpu).unwrap();
                var.set(&random).unwrap();
            }
            let packed = PackedLayer::new(simd, &candle).unwrap();
            let (batch, tokens) = (3, 7);
            let x = Tensor::randn(0f32, 1.0, (batch, tokens, 40), &Device::Cpu).unwrap();
            let mask = causal_mask(tokens, 0, &Device::Cpu).unwrap();
            for mask in [None, Some(&mask)] {
                let want: Vec<f32> = candle
                    .forward(&x, mask)
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1()
                    .unwrap();
                let mut got: Vec<f32> = x.flatten_all().unwrap().to_vec1().unwrap();
                let mask_rows: Option<Vec<f32>> =
                    mask.map(|m| m.flatten_all().unwrap().to_vec1().unwrap());
                packed.forward(
                    &mut got,
                    batch,
                    tokens,
                    mask_rows.as_deref(),
                    &mut Scratch::default(),
                );
                for (g, w) in got.iter().zip(&want) {
                    assert!(
                        (g - w).abs() < 1e-4 * w.abs().max(1.0),
                        "{act:?}, mask {}: {g} vs {w}",
                        mask.is_some()
                    );
                }
            }
        }
    }
}
