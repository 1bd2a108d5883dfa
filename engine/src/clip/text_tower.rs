//! CLIP's text tower: tokens, positions, causal layers, and the projection of the end token.

use candle_core::{Device, Module, Tensor};
use candle_nn::{embedding, layer_norm, linear_no_bias, Embedding, LayerNorm, Linear, VarBuilder};

use super::config::TowerConfig;
use super::layers::{causal_mask, layers, run_layers, Layer};
use crate::error::Result;

/// The text tower and its projection.
pub(crate) struct TextTower {
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
    pub(crate) fn new(vb: VarBuilder, t: &TowerConfig, projection_dim: usize) -> Result<Self> {
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
    pub(crate) fn forward(&self, ids: &[Vec<u32>], device: &Device) -> Result<(Tensor, Tensor)> {
        let n = ids.iter().map(Vec::len).max().unwrap_or(0);
        let flat: Vec<u32> = ids
            .iter()
            .flat_map(|r| r.iter().copied().chain(std::iter::repeat(0)).take(n))
            .collect();
        let input = Tensor::from_vec(flat, (ids.len(), n), device)?;
        let positions = Tensor::arange(0u32, n as u32, device)?;
        let x = self
            .tokens
            .forward(&input)?
            .broadcast_add(&self.positions.forward(&positions)?)?;
        let mask = causal_mask(n, 0, device)?;
        let x = run_layers(&self.layers, x, Some(&mask))?;
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
