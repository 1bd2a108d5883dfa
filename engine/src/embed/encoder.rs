//! What turns an example into an embedding: CLIP's image tower on its picture, or Kandinsky
//! 2.2's prior on its caption (the study's 1280-d "prior embeddings").

use crate::clip::model::Clip;
use crate::clip::preprocess::preprocess;
use crate::dataset::Example;
use crate::error::{Error, Result};
use crate::kandinsky::scheduler::SeededNoise;
use crate::kandinsky::{KandinskyPrior, PriorOptions};
use crate::unit::unit_rows_and_norms;

/// The prior's prompts and their noise.
pub struct PriorEncoder {
    pub prior: KandinskyPrior,
    pub opts: PriorOptions,
    pub seed: u64,
}

pub enum Encoder {
    Images(Box<Clip>),
    Captions(Box<PriorEncoder>),
}

/// An example made ready for the model, off its thread.
pub enum Prepared {
    Pixels(Vec<f32>),
    Prompt(String),
}

impl Encoder {
    pub fn dim(&self) -> usize {
        match self {
            Encoder::Images(clip) => clip.config.projection_dim,
            Encoder::Captions(p) => p.prior.dim(),
        }
    }

    /// The picture side the image tower takes; 0 for captions.
    pub fn image_size(&self) -> Result<usize> {
        match self {
            Encoder::Images(clip) => clip.image_size(),
            Encoder::Captions(_) => Ok(0),
        }
    }

    /// Decodes and preprocesses the picture, or picks the prompt: the caption, else "a photo
    /// of a {label}".
    pub fn prepare(&self, ex: &Example, side: usize) -> Result<Prepared> {
        match self {
            Encoder::Images(_) => Ok(Prepared::Pixels(preprocess(&ex.decode()?, side as u32))),
            Encoder::Captions(_) => match (&ex.caption, &ex.label) {
                (Some(c), _) => Ok(Prepared::Prompt(c.clone())),
                (None, Some(l)) => Ok(Prepared::Prompt(format!("a photo of a {l}."))),
                (None, None) => Err(Error::invalid(
                    "dataset",
                    format!(
                        "example {} has no caption or label to prompt the prior with",
                        ex.source_index
                    ),
                )),
            },
        }
    }

    /// Unit embeddings of a batch and their lengths before normalising. `chunk` seeds the
    /// prior's noise, so a resumed chunk comes out the same.
    pub fn embed(
        &self,
        batch: &[&Prepared],
        chunk: usize,
        part: usize,
    ) -> Result<(Vec<f32>, Vec<f32>)> {
        match self {
            Encoder::Images(clip) => {
                let pictures: Vec<&[f32]> = batch
                    .iter()
                    .map(|p| match p {
                        Prepared::Pixels(x) => x.as_slice(),
                        Prepared::Prompt(_) => unreachable!("images are prepared as pixels"),
                    })
                    .collect();
                clip.embed_pixels_with_norms(&pictures)
            }
            Encoder::Captions(p) => {
                let prompts: Vec<&str> = batch
                    .iter()
                    .map(|x| match x {
                        Prepared::Prompt(s) => s.as_str(),
                        Prepared::Pixels(_) => unreachable!("captions are prepared as prompts"),
                    })
                    .collect();
                let seed = p.seed ^ ((chunk as u64) << 32 | part as u64);
                let mut noise = SeededNoise::new(seed);
                let x = p
                    .prior
                    .embed_prompts(&prompts, &p.opts, &mut noise, &mut |_, _| {})?;
                unit_rows_and_norms(&x)
            }
        }
    }
}
