//! The study's steering triptych: one starting image embedding (a prompt through the prior, a
//! picture through the image encoder, or a row of the run's set), steered along an SAE latent
//! by +strength and −strength, and all three decoded with the same seed, so only the latent
//! differs between the pictures.
//!
//! Sets hold unit embeddings, so steering happens on the unit sphere and each result is taken
//! back to the starting embedding's length before decoding.

use candle_core::{DType, Device, Tensor};

use super::decoder::{to_images, DecodeOptions, KandinskyDecoder};
use super::prior_pipeline::{KandinskyPrior, PriorOptions};
use super::scheduler::SeededNoise;
use crate::error::{Error, Result};
use crate::hub::ModelSource;

/// Kandinsky 2.2's two halves on one device.
pub struct Kandinsky {
    pub prior: KandinskyPrior,
    pub decoder: KandinskyDecoder,
    pub device: Device,
}

impl Kandinsky {
    /// Loads both repos; the diffusion models run in f16 on a GPU, f32 on the CPU.
    pub fn load(prior: &ModelSource, decoder: &ModelSource, device: &Device) -> Result<Self> {
        let dtype = if device.is_cpu() {
            DType::F32
        } else {
            DType::F16
        };
        let prior = if super::random::is_random(prior) {
            KandinskyPrior::random(dtype, device)?
        } else {
            KandinskyPrior::load(&prior.resolve()?, dtype, device)?
        };
        let decoder = if super::random::is_random(decoder) {
            KandinskyDecoder::random(dtype, device)?
        } else {
            KandinskyDecoder::load(&decoder.resolve()?, dtype, device)?
        };
        if prior.dim() != decoder.unet.config.encoder_hid_dim {
            return Err(Error::invalid(
                "--decoder",
                format!(
                    "the prior makes {}-d image embeddings but the decoder takes {}-d ones; pass a matching pair",
                    prior.dim(),
                    decoder.unet.config.encoder_hid_dim
                ),
            ));
        }
        Ok(Kandinsky {
            prior,
            decoder,
            device: device.clone(),
        })
    }

    pub fn dim(&self) -> usize {
        self.prior.dim()
    }
}

/// What the three pictures are made with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TriptychOptions {
    pub seed: u64,
    pub strength: f32,
    pub decode: DecodeOptions,
    pub prior: PriorOptions,
}

/// Which picture of the three a progress report is about.
pub const PANELS: [&str; 3] = ["orig", "plus", "minus"];

pub struct Triptych {
    /// The image embeddings decoded, in `PANELS` order, at the starting embedding's length.
    pub embeddings: [Vec<f32>; 3],
    pub pictures: Vec<image::RgbImage>,
}

/// A prompt's image embedding through the prior, with the seed's noise. → d values
pub fn prompt_embedding(
    k: &Kandinsky,
    prompt: &str,
    opts: &TriptychOptions,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<Vec<f32>> {
    let mut noise = SeededNoise::new(opts.seed);
    let embeds = k
        .prior
        .embed_prompts(&[prompt], &opts.prior, &mut noise, &mut |d, t| {
            progress("prior", d, t)
        })?;
    Ok(embeds.flatten_all()?.to_vec1::<f32>()?)
}

/// Steers a unit embedding by a signed strength, returning a unit embedding.
pub type SteerFn<'a> = dyn FnMut(&[f32], f32) -> Result<Vec<f32>> + 'a;

/// Steers `start` (d values, any length) with `steer` (unit embedding, signed strength →
/// unit embedding) and decodes the three embeddings with the same seed.
pub fn triptych(
    k: &Kandinsky,
    start: &[f32],
    steer: &mut SteerFn,
    opts: &TriptychOptions,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<Triptych> {
    let length = start.iter().map(|v| v * v).sum::<f32>().sqrt();
    if !length.is_finite() || length == 0.0 {
        return Err(Error::invalid(
            "image embedding",
            "is zero or not finite; nothing to steer",
        ));
    }
    let unit: Vec<f32> = start.iter().map(|v| v / length).collect();
    let scaled = |u: Vec<f32>| -> Vec<f32> { u.into_iter().map(|v| v * length).collect() };
    let embeddings = [
        start.to_vec(),
        scaled(steer(&unit, opts.strength)?),
        scaled(steer(&unit, -opts.strength)?),
    ];
    let negative = k.prior.zero_embed()?.to_dtype(DType::F32)?;
    let mut pictures = Vec::new();
    for (panel, e) in PANELS.iter().zip(&embeddings) {
        let x = Tensor::from_vec(e.clone(), (1, e.len()), &k.device)?;
        let mut noise = SeededNoise::new(opts.seed);
        let out = k
            .decoder
            .generate(&x, &negative, &opts.decode, &mut noise, &mut |d, t| {
                progress(panel, d, t)
            })?;
        pictures.extend(to_images(&out)?);
    }
    Ok(Triptych {
        embeddings,
        pictures,
    })
}

/// The three pictures side by side, as the study's table shows them.
pub fn side_by_side(pictures: &[image::RgbImage]) -> image::RgbImage {
    let (w, h) = pictures.first().map_or((0, 0), |p| (p.width(), p.height()));
    let mut out = image::RgbImage::new(w * pictures.len() as u32, h);
    for (i, p) in pictures.iter().enumerate() {
        image::imageops::replace(&mut out, p, (i as u32 * w) as i64, 0);
    }
    out
}
