//! The captioner: a BLIP folder (config, safetensors weights, WordPiece vocabulary) on a
//! device, captioning pictures one at a time after encoding them in batches.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use image::DynamicImage;

use super::config::BlipConfig;
use super::decoder::TextDecoder;
use super::generate::{greedy, MAX_LEN};
use super::preprocess::pixels;
use super::vision::VisionTower;
use super::vocab::Vocab;
use crate::clip::layers::pixel_batch;
use crate::error::Result;
use crate::hub::{self, ModelSource, BLIP};

/// The name after `random:` of a random BLIP of the base model's sizes.
pub const RANDOM_BASE: &str = "blip-base";

pub struct Captioner {
    /// The model's stable name (repo id or full folder path), for caches.
    pub name: String,
    vision: VisionTower,
    decoder: TextDecoder,
    config: BlipConfig,
    vocab: Vocab,
    device: Device,
}

impl Captioner {
    /// A BLIP folder or hub repo id, fetched into the Hugging Face cache if needed; or
    /// `random:blip-base`, the base model's sizes with random weights (for timing).
    pub fn load(spec: &str, offline: bool, device: &Device) -> Result<Self> {
        if spec.strip_prefix(hub::RANDOM_PREFIX) == Some(RANDOM_BASE) {
            return Self::random(BlipConfig::base(), device);
        }
        let mut source = ModelSource::of_kind(spec, BLIP);
        source.offline = offline;
        let dir = source.resolve()?;
        Self::from_dir(&dir, source.name(), device)
    }

    pub fn from_dir(dir: &Path, name: String, device: &Device) -> Result<Self> {
        let config = BlipConfig::read(&dir.join("config.json"))?;
        let vocab = Vocab::read(&dir.join("vocab.txt"))?;
        hub::build_from_folder(dir, device, |vb| Self::new(vb, config, vocab, name))
    }

    fn new(vb: VarBuilder, config: BlipConfig, vocab: Vocab, name: String) -> Result<Self> {
        Ok(Captioner {
            name,
            vision: VisionTower::new(vb.pp("vision_model"), &config.vision)?,
            decoder: TextDecoder::new(vb.pp("text_decoder"), &config.text)?,
            device: vb.device().clone(),
            config,
            vocab,
        })
    }

    /// A captioner with random weights and a made-up vocabulary, for benchmarks.
    pub fn random(config: BlipConfig, device: &Device) -> Result<Self> {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, device);
        // A random model has no tied head stored apart: make the one the decoder reads.
        let (v, h) = (config.text.vocab_size, config.text.hidden_size);
        vb.pp("text_decoder")
            .pp("cls")
            .pp("predictions")
            .pp("decoder")
            .get((v, h), "weight")?;
        let tokens = (0..v).map(|i| format!("w{i}")).collect();
        Self::new(vb, config, Vocab::from_tokens(tokens), "random".into())
    }

    /// The model's square input side.
    pub fn side(&self) -> u32 {
        self.config.vision.image_size as u32
    }

    /// The vision tower's last hidden states. pictures: b × [3, s, s] → [b, patches + 1, h]
    pub fn encode(&self, pictures: &[Vec<f32>]) -> Result<Tensor> {
        let side = self.config.vision.image_size;
        self.vision
            .forward(&pixel_batch(pictures, side, &self.device)?)
    }

    /// Token ids of one picture's caption, [DEC] first. hidden: [1, patches + 1, h]
    pub fn caption_ids(&self, hidden: &Tensor, max_len: usize) -> Result<Vec<u32>> {
        let mut caption = self.decoder.start(hidden)?;
        let t = &self.config.text;
        greedy(t.bos_token_id, t.sep_token_id, max_len, |fresh| {
            let logits = self.decoder.forward(&mut caption, fresh)?;
            Ok(logits.get(fresh.len() - 1)?.to_vec1::<f32>()?)
        })
    }

    /// The decoder's logits at every position of `ids`, from a fresh start.
    /// hidden: [1, patches + 1, h] → [ids, vocab]
    pub fn logits(&self, ids: &[u32], hidden: &Tensor) -> Result<Tensor> {
        let mut caption = self.decoder.start(hidden)?;
        self.decoder.forward(&mut caption, ids)
    }

    /// The text of token ids.
    pub fn decode(&self, ids: &[u32]) -> String {
        self.vocab.decode(ids)
    }

    /// Captions of pictures, in order.
    pub fn caption(&self, pictures: &[DynamicImage]) -> Result<Vec<String>> {
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
