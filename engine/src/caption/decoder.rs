//! BLIP's text decoder: BERT layers (post-norm) with causal self-attention and
//! cross-attention on the image's states, then the tied language-model head.
//!
//! Written out rather than taken from candle-transformers so that each layer's keys and values
//! of the image are computed once per caption: recomputing them at every token (as that
//! implementation does) was most of a caption's time on a CPU.

use candle_core::{Module, Tensor};
use candle_nn::{embedding, layer_norm, linear, Embedding, LayerNorm, Linear, VarBuilder};

use super::config::TextConfig;
use crate::clip::config::Activation;
use crate::clip::layers::{causal_mask, dense};
use crate::error::Result;

/// The LM head's weights are tied to the word embeddings; transformers' safetensors files
/// store them once, under the embeddings' name.
const TIED_HEAD: &str = "cls.predictions.decoder.weight";
const WORD_EMBEDDINGS: &str = "bert.embeddings.word_embeddings.weight";

struct Attention {
    query: Linear,
    key: Linear,
    value: Linear,
    out: Linear,
    norm: LayerNorm,
}

impl Attention {
    /// `attention` or `crossattention` of a layer; keys and values come from `source` wide
    /// inputs (the text's width, or the image's).
    fn new(vb: VarBuilder, c: &TextConfig, source: usize) -> Result<Self> {
        let (h, s) = (c.hidden_size, vb.pp("self"));
        Ok(Attention {
            query: linear(h, h, s.pp("query"))?,
            key: linear(source, h, s.pp("key"))?,
            value: linear(source, h, s.pp("value"))?,
            out: linear(h, h, vb.pp("output").pp("dense"))?,
            norm: layer_norm(h, c.layer_norm_eps, vb.pp("output").pp("LayerNorm"))?,
        })
    }
}

struct DecoderLayer {
    self_attn: Attention,
    cross: Attention,
    up: Linear,
    down: Linear,
    norm: LayerNorm,
}

/// One caption being decoded: the image's keys and values per layer, and the text's so far.
/// Each pair is [1, heads, len, head_dim].
pub struct Caption {
    image: Vec<(Tensor, Tensor)>,
    text: Vec<Option<(Tensor, Tensor)>>,
    len: usize,
}

pub struct TextDecoder {
    words: Embedding,
    positions: Embedding,
    embed_norm: LayerNorm,
    layers: Vec<DecoderLayer>,
    head_dense: Linear,
    head_norm: LayerNorm,
    /// [vocab, h] and [vocab].
    head: Linear,
    heads: usize,
    act: Activation,
}

/// [1, t, h] → [1, heads, t, h / heads]
fn split(x: &Tensor, heads: usize) -> Result<Tensor> {
    let (b, t, h) = x.dims3()?;
    Ok(x.reshape((b, t, heads, h / heads))?
        .transpose(1, 2)?
        .contiguous()?)
}

/// Attention of queries q over keys k and values v ([1, heads, ·, hd]), with an additive
/// mask; back to [1, t, h].
fn attend(q: &Tensor, k: &Tensor, v: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
    let (b, heads, t, hd) = q.dims4()?;
    let mut scores = (q.matmul(&k.t()?)? * (hd as f64).powf(-0.5))?;
    if let Some(m) = mask {
        scores = scores.broadcast_add(m)?;
    }
    let probs = candle_nn::ops::softmax_last_dim(&scores)?;
    Ok(probs
        .matmul(v)?
        .transpose(1, 2)?
        .reshape((b, t, heads * hd))?)
}

impl TextDecoder {
    /// From `text_decoder.*`.
    pub fn new(vb: VarBuilder, c: &TextConfig) -> Result<Self> {
        let (h, bert) = (c.hidden_size, vb.pp("bert"));
        let emb = bert.pp("embeddings");
        let layers = (0..c.num_hidden_layers)
            .map(|i| {
                let l = bert.pp("encoder").pp("layer").pp(i);
                Ok(DecoderLayer {
                    self_attn: Attention::new(l.pp("attention"), c, h)?,
                    cross: Attention::new(l.pp("crossattention"), c, c.encoder_hidden_size)?,
                    up: linear(h, c.intermediate_size, l.pp("intermediate").pp("dense"))?,
                    down: linear(c.intermediate_size, h, l.pp("output").pp("dense"))?,
                    norm: layer_norm(h, c.layer_norm_eps, l.pp("output").pp("LayerNorm"))?,
                })
            })
            .collect::<Result<_>>()?;
        let p = vb.pp("cls").pp("predictions");
        let head_weight = if vb.contains_tensor(TIED_HEAD) {
            vb.get((c.vocab_size, h), TIED_HEAD)?
        } else {
            vb.get((c.vocab_size, h), WORD_EMBEDDINGS)?
        };
        Ok(TextDecoder {
            words: embedding(c.vocab_size, h, emb.pp("word_embeddings"))?,
            positions: embedding(c.max_position_embeddings, h, emb.pp("position_embeddings"))?,
            embed_norm: layer_norm(h, c.layer_norm_eps, emb.pp("LayerNorm"))?,
            layers,
            head_dense: linear(h, h, p.pp("transform").pp("dense"))?,
            head_norm: layer_norm(h, c.layer_norm_eps, p.pp("transform").pp("LayerNorm"))?,
            head: Linear::new(head_weight, Some(p.get(c.vocab_size, "bias")?)),
            heads: c.num_attention_heads,
            act: c.hidden_act,
        })
    }

    /// Starts a caption of one picture. image: [1, patches + 1, e]
    pub fn start(&self, image: &Tensor) -> Result<Caption> {
        let kv = self
            .layers
            .iter()
            .map(|l| {
                Ok((
                    split(&dense(&l.cross.key, image)?, self.heads)?,
                    split(&dense(&l.cross.value, image)?, self.heads)?,
                ))
            })
            .collect::<Result<_>>()?;
        Ok(Caption {
            image: kv,
            text: vec![None; self.layers.len()],
            len: 0,
        })
    }

    /// Feeds the next tokens of a caption; the logits at each of them. → [t, vocab]
    pub fn forward(&self, cap: &mut Caption, ids: &[u32]) -> Result<Tensor> {
        let device = self.head.weight().device();
        let (t, past) = (ids.len(), cap.len);
        let tokens = Tensor::new(ids, device)?.unsqueeze(0)?;
        let at = Tensor::arange(past as u32, (past + t) as u32, device)?.unsqueeze(0)?;
        let mut x = self
            .embed_norm
            .forward(&(self.words.forward(&tokens)? + self.positions.forward(&at)?)?)?;
        let mask = (t > 1).then(|| causal_mask(t, past, device)).transpose()?;
        for (i, l) in self.layers.iter().enumerate() {
            let a = &l.self_attn;
            let (k, v) = (
                split(&dense(&a.key, &x)?, self.heads)?,
                split(&dense(&a.value, &x)?, self.heads)?,
            );
            let (k, v) = match cap.text[i].take() {
                Some((pk, pv)) => (Tensor::cat(&[&pk, &k], 2)?, Tensor::cat(&[&pv, &v], 2)?),
                None => (k, v),
            };
            let q = split(&dense(&a.query, &x)?, self.heads)?;
            let ctx = attend(&q, &k, &v, mask.as_ref())?;
            cap.text[i] = Some((k, v));
            x = a.norm.forward(&(dense(&a.out, &ctx)? + &x)?)?;
            let c = &l.cross;
            let (ik, iv) = &cap.image[i];
            let ctx = attend(&split(&dense(&c.query, &x)?, self.heads)?, ik, iv, None)?;
            x = c.norm.forward(&(dense(&c.out, &ctx)? + &x)?)?;
            let up = self.act.apply(&dense(&l.up, &x)?)?;
            x = l.norm.forward(&(dense(&l.down, &up)? + &x)?)?;
        }
        cap.len += t;
        let h = self.act.apply(&dense(&self.head_dense, &x)?)?;
        let logits = dense(&self.head, &self.head_norm.forward(&h)?)?;
        Ok(logits.squeeze(0)?)
    }
}
