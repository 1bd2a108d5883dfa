//! The captioner: a BLIP folder (config, safetensors weights, WordPiece vocabulary) on a
//! device, captioning pictures one at a time after encoding them in batches.

use std::path::Path;

use candle_core::{DType, Device, IndexOp, Module, Tensor};
use candle_nn::{VarBuilder, VarMap};
use candle_transformers::models::blip::BlipForConditionalGeneration;
use image::DynamicImage;

use super::config::BlipConfig;
use super::generate::{greedy, MAX_LEN};
use super::preprocess::pixels;
use super::vocab::Vocab;
use crate::engine::error::{Error, Result};
use crate::engine::hub::{ModelSource, BLIP};

/// The LM head's weights are tied to the word embeddings; transformers' safetensors files
/// store them once, under the embeddings' name.
const TIED_HEAD: &str = "text_decoder.cls.predictions.decoder.weight";
const WORD_EMBEDDINGS: &str = "text_decoder.bert.embeddings.word_embeddings.weight";

pub struct Captioner {
    /// The model's stable name (repo id or full folder path), for caches.
    pub name: String,
    model: BlipForConditionalGeneration,
    config: BlipConfig,
    vocab: Vocab,
    device: Device,
}

impl Captioner {
    /// A BLIP folder or hub repo id, fetched into the Hugging Face cache if needed.
    pub fn load(spec: &str, offline: bool, device: &Device) -> Result<Self> {
        let mut source = ModelSource::of_kind(spec, BLIP);
        source.offline = offline;
        let dir = source.resolve()?;
        Self::from_dir(&dir, source.name(), device)
    }

    pub fn from_dir(dir: &Path, name: String, device: &Device) -> Result<Self> {
        let config = BlipConfig::read(&dir.join("config.json"))?;
        let vocab = Vocab::read(&dir.join("vocab.txt"))?;
        let weights = dir.join("model.safetensors");
        // SAFETY: the weights file is only read, and kept unchanged while the model lives.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&weights], DType::F32, device) }
            .map_err(|e| {
                Error::bad_file(
                    &weights,
                    format!("is not a readable safetensors file ({e}); download it again"),
                )
            })?;
        let vb = if vb.contains_tensor(TIED_HEAD) {
            vb
        } else {
            vb.rename_f(|n| if n == TIED_HEAD { WORD_EMBEDDINGS } else { n }.to_string())
        };
        Self::new(vb, config, vocab, name).map_err(|e| {
            Error::bad_file(
                &weights,
                format!("does not match {}: {e}", dir.join("config.json").display()),
            )
        })
    }

    fn new(vb: VarBuilder, config: BlipConfig, vocab: Vocab, name: String) -> Result<Self> {
        Ok(Captioner {
            name,
            model: BlipForConditionalGeneration::new(&config.model, vb.clone())?,
            device: vb.device().clone(),
            config,
            vocab,
        })
    }

    /// A captioner with random weights and a made-up vocabulary, for benchmarks.
    pub fn random(config: BlipConfig, device: &Device) -> Result<Self> {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, device);
        let tokens = (0..config.model.text_config.vocab_size)
            .map(|i| format!("w{i}"))
            .collect();
        Self::new(vb, config, Vocab::from_tokens(tokens), "random".into())
    }

    /// The model's square input side.
    pub fn side(&self) -> u32 {
        self.config.image_size as u32
    }

    /// The vision tower's last hidden states. pictures: b × [3, s, s] → [b, patches + 1, h]
    pub fn encode(&self, pictures: &[Vec<f32>]) -> Result<Tensor> {
        let s = self.config.image_size;
        let flat: Vec<f32> = pictures.iter().flatten().copied().collect();
        let x = Tensor::from_vec(flat, (pictures.len(), 3, s, s), &self.device)?;
        Ok(self.model.vision_model().forward(&x)?)
    }

    /// Token ids of one picture's caption, [DEC] first. hidden: [1, patches + 1, h]
    pub fn caption_ids(&mut self, hidden: &Tensor, max_len: usize) -> Result<Vec<u32>> {
        self.model.reset_kv_cache();
        let (bos, sep, device) = (self.config.bos, self.config.sep, self.device.clone());
        let decoder = self.model.text_decoder();
        greedy(bos, sep, max_len, |fresh| {
            let ids = Tensor::new(fresh, &device)?.unsqueeze(0)?;
            let logits = decoder.forward(&ids, hidden)?;
            Ok(logits.i((0, fresh.len() - 1))?.to_vec1::<f32>()?)
        })
    }

    /// The decoder's logits at every position of `ids`, from a fresh cache.
    /// hidden: [1, patches + 1, h] → [ids, vocab]
    pub fn logits(&mut self, ids: &[u32], hidden: &Tensor) -> Result<Tensor> {
        self.model.reset_kv_cache();
        let ids = Tensor::new(ids, &self.device)?.unsqueeze(0)?;
        Ok(self
            .model
            .text_decoder()
            .forward(&ids, hidden)?
            .squeeze(0)?)
    }

    /// The text of token ids.
    pub fn decode(&self, ids: &[u32]) -> String {
        self.vocab.decode(ids)
    }

    /// Captions of pictures, in order.
    pub fn caption(&mut self, pictures: &[DynamicImage]) -> Result<Vec<String>> {
        let side = self.side();
        let inputs: Vec<Vec<f32>> = pictures.iter().map(|p| pixels(p, side)).collect();
        let hidden = self.encode(&inputs)?;
        (0..pictures.len())
            .map(|i| {
                let ids = self.caption_ids(&hidden.narrow(0, i, 1)?, MAX_LEN)?;
                Ok(self.decode(&ids))
            })
            .collect()
    }
}
