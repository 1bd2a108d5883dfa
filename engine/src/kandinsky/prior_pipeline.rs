//! Kandinsky 2.2's prior pipeline, as diffusers' `KandinskyV22PriorPipeline` runs it: the
//! prompt through the ViT-bigG/14 text tower, then the prior denoises an image embedding under
//! classifier-free guidance against the empty prompt. The negative image embedding is the
//! image tower's embedding of an all-zero picture. The image tower also embeds pictures for
//! "start from this picture".

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use candle_core::{DType, Device, Tensor};

use super::prior::PriorTransformer;
use super::scheduler::{Noise, UnClip, UnClipConfig};
use crate::clip::model::Clip;
use crate::clip::{decode, preprocess::preprocess, ClipTokenizer};
use crate::error::{Error, Result};
use crate::fsutil;

/// How a prompt is turned into an embedding; the defaults are diffusers'.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PriorOptions {
    pub steps: usize,
    pub guidance: f64,
}

impl Default for PriorOptions {
    fn default() -> Self {
        PriorOptions {
            steps: 25,
            guidance: 4.0,
        }
    }
}

/// What turns prompts into embeddings: loaded on the first prompt, since a picture or a
/// row start needs only the image tower (the text tower and the prior are 1.7B parameters).
struct PromptSide {
    prior: PriorTransformer,
    text: Clip,
    tokenizer: ClipTokenizer,
}

pub struct KandinskyPrior {
    /// The repo's folder (None for the random prior, which has no prompt side).
    dir: Option<PathBuf>,
    device: Device,
    prompts: OnceLock<PromptSide>,
    image: Clip,
    scheduler: UnClipConfig,
    dtype: DType,
}

impl KandinskyPrior {
    /// Loads a `kandinsky-2-2-prior` folder: `prior/`, `text_encoder/`, `image_encoder/`,
    /// `scheduler/`. The prompt is tokenized with CLIP's own BPE, which the repo's
    /// `tokenizer/` also holds.
    pub fn load(dir: &Path, dtype: DType, device: &Device) -> Result<Self> {
        let scheduler: UnClipConfig =
            fsutil::read_json(&dir.join("scheduler").join("scheduler_config.json"))?;
        UnClip::new(scheduler.clone())?;
        Ok(KandinskyPrior {
            image: Clip::load(&dir.join("image_encoder"), device)?,
            dir: Some(dir.to_path_buf()),
            device: device.clone(),
            prompts: OnceLock::new(),
            scheduler,
            dtype,
        })
    }

    /// A prior of random weights: `random.rs`'s image encoder into Kandinsky 2.2's
    /// dimensions, and no prompt side.
    pub fn random(dtype: DType, device: &Device) -> Result<Self> {
        let encoder = crate::hub::ModelSource::new(format!(
            "{}{}",
            crate::hub::RANDOM_PREFIX,
            super::random::RANDOM_KANDINSKY
        ));
        Ok(KandinskyPrior {
            image: Clip::load(&encoder.resolve()?, device)?,
            dir: None,
            device: device.clone(),
            prompts: OnceLock::new(),
            scheduler: super::random::prior_scheduler(),
            dtype,
        })
    }

    /// The prior transformer, the text tower and the tokenizer, loaded once.
    fn prompt_side(&self) -> Result<&PromptSide> {
        if let Some(side) = self.prompts.get() {
            return Ok(side);
        }
        let Some(dir) = &self.dir else {
            return Err(Error::invalid(
                "--prompt",
                "the random prior has no prompt side: steer a set's row or a picture with it, or pass a real prior",
            ));
        };
        let prior = PriorTransformer::load(&dir.join("prior"), self.dtype, &self.device)?;
        let side = PromptSide {
            tokenizer: ClipTokenizer::new().with_context(prior.config.num_embeddings),
            text: Clip::load(&dir.join("text_encoder"), &self.device)?,
            prior,
        };
        Ok(self.prompts.get_or_init(|| side))
    }

    /// The image embeddings' size.
    pub fn dim(&self) -> usize {
        self.image.config.projection_dim
    }

    /// Image embeddings of b prompts, denoised together. → [b, d]
    pub fn embed_prompts(
        &self,
        prompts: &[&str],
        opts: &PriorOptions,
        noise: &mut dyn Noise,
        on_step: &mut dyn FnMut(usize, usize),
    ) -> Result<Tensor> {
        let side = self.prompt_side()?;
        let n = side.prior.config.num_embeddings;
        let rows: Vec<Vec<u32>> = std::iter::repeat_n("", prompts.len())
            .chain(prompts.iter().copied())
            .map(|p| side.tokenizer.encode(p))
            .collect();
        let lengths: Vec<usize> = rows.iter().map(Vec::len).collect();
        let ids: Vec<Vec<u32>> = rows
            .iter()
            .map(|r| {
                r.iter()
                    .copied()
                    .chain(std::iter::repeat(0))
                    .take(n)
                    .collect()
            })
            .collect();
        self.denoise(&ids, &lengths, opts, noise, on_step)
    }

    /// The prior's loop from token rows [b negatives; b prompts] (each padded to the prior's
    /// length, `lengths` unmasked). → [b, d]
    pub fn denoise(
        &self,
        ids: &[Vec<u32>],
        lengths: &[usize],
        opts: &PriorOptions,
        noise: &mut dyn Noise,
        on_step: &mut dyn FnMut(usize, usize),
    ) -> Result<Tensor> {
        let PromptSide { prior, text, .. } = self.prompt_side()?;
        let (states, text_embeds) = text.text_states(ids)?;
        let (states, text_embeds) = (
            states.to_dtype(self.dtype)?,
            text_embeds.to_dtype(self.dtype)?,
        );
        let guided = opts.guidance > 1.0;
        let b = ids.len() / 2;
        let (states, text_embeds, lengths) = match guided {
            true => (states, text_embeds, lengths.to_vec()),
            false => (
                states.narrow(0, b, b)?,
                text_embeds.narrow(0, b, b)?,
                lengths[b..].to_vec(),
            ),
        };
        let mut scheduler = UnClip::new(self.scheduler.clone())?;
        scheduler.set_timesteps(opts.steps)?;
        let d = prior.embedding_dim();
        let mut latents = noise
            .normal(&[b, d], states.device())?
            .to_dtype(self.dtype)?;
        let ts = scheduler.timesteps.clone();
        for (i, &t) in ts.iter().enumerate() {
            let input = match guided {
                true => Tensor::cat(&[&latents, &latents], 0)?,
                false => latents.clone(),
            };
            let mut pred = prior.forward(&input, t as f64, &text_embeds, &states, &lengths)?;
            if guided {
                let (u, c) = (pred.narrow(0, 0, b)?, pred.narrow(0, b, b)?);
                pred = (&u + ((c - &u)? * opts.guidance)?)?;
            }
            latents = scheduler.step(&pred, t, &latents, ts.get(i + 1).copied(), noise)?;
            on_step(i + 1, ts.len());
        }
        Ok(prior.unnormalise(&latents)?.to_dtype(DType::F32)?)
    }

    /// The image tower's embedding of an all-zero picture: the pipeline's negative. → [1, d]
    pub fn zero_embed(&self) -> Result<Tensor> {
        let side = self.image.image_size()?;
        let zeros = Tensor::zeros((1, 3, side, side), DType::F32, self.image.device())?;
        self.image.embed_images(&zeros)
    }

    /// The (not normalised) image embedding of the picture at `path`. → [1, d]
    pub fn embed_picture(&self, path: &Path) -> Result<Tensor> {
        let side = self.image.image_size()?;
        let pixels = preprocess(&decode::open(path)?, side as u32);
        let x = Tensor::from_vec(pixels, (1, 3, side, side), self.image.device())?;
        self.image
            .embed_images(&x)
            .map_err(|e| Error::invalid("--image", format!("{}: {e}", path.display())))
    }
}
