//! Kandinsky 2.2's decoder pipeline, as diffusers' `KandinskyV22Pipeline` runs it: noise
//! latents, denoise them with the UNet under classifier-free guidance against the negative
//! image embedding (the learned variance taken from the conditioned half), then decode with
//! MoVQ to pixels in [0, 1].

use std::path::Path;

use candle_core::{DType, Device, Tensor};

use super::movq::Movq;
use super::scheduler::{Ddpm, DdpmConfig, Noise};
use super::unet::UNet;
use crate::error::{Error, Result};
use crate::fsutil;

/// How a picture is made; the defaults are diffusers'.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodeOptions {
    pub steps: usize,
    pub guidance: f64,
    pub height: usize,
    pub width: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            steps: 100,
            guidance: 4.0,
            height: 512,
            width: 512,
        }
    }
}

pub struct KandinskyDecoder {
    pub unet: UNet,
    pub movq: Movq,
    scheduler: DdpmConfig,
    dtype: DType,
}

impl KandinskyDecoder {
    /// Loads a `kandinsky-2-2-decoder` folder: `unet/`, `movq/`, `scheduler/`.
    pub fn load(dir: &Path, dtype: DType, device: &Device) -> Result<Self> {
        let scheduler: DdpmConfig =
            fsutil::read_json(&dir.join("scheduler").join("scheduler_config.json"))?;
        Ddpm::new(scheduler.clone())?;
        Ok(KandinskyDecoder {
            unet: UNet::load(&dir.join("unet"), dtype, device)?,
            movq: Movq::load(&dir.join("movq"), dtype, device)?,
            scheduler,
            dtype,
        })
    }

    /// Kandinsky 2.2's decoder at its real sizes with random weights (`random.rs`).
    pub fn random(dtype: DType, device: &Device) -> Result<Self> {
        let (unet, movq) = super::random::decoder_parts(
            super::unet::UNetConfig::kandinsky22(),
            super::movq::MovqConfig::kandinsky22(),
            dtype,
            device,
        )?;
        Ok(KandinskyDecoder {
            unet,
            movq,
            scheduler: super::random::decoder_scheduler(),
            dtype,
        })
    }

    /// The latents' side for a picture side: rounded up so the picture side is a multiple of
    /// MoVQ's scale squared, as diffusers' `downscale_height_and_width`.
    pub fn latent_side(&self, side: usize) -> usize {
        let f = self.movq.scale_factor();
        side.div_ceil(f * f) * f
    }

    /// The picture sides this would actually make for the asked ones.
    pub fn picture_size(&self, opts: &DecodeOptions) -> (usize, usize) {
        let f = self.movq.scale_factor();
        (
            self.latent_side(opts.height) * f,
            self.latent_side(opts.width) * f,
        )
    }

    /// Pictures of image embeddings. embeds, negative: [b, d] → [b, 3, H, W] in [0, 1].
    /// `on_step(done, total)` is called after each denoising step.
    pub fn generate(
        &self,
        embeds: &Tensor,
        negative: &Tensor,
        opts: &DecodeOptions,
        noise: &mut dyn Noise,
        on_step: &mut dyn FnMut(usize, usize),
    ) -> Result<Tensor> {
        let d = self.unet.config.encoder_hid_dim;
        if embeds.dim(1)? != d || negative.dims() != embeds.dims() {
            return Err(Error::invalid(
                "image embeddings",
                format!("the decoder takes {d}-d image embeddings and a negative of the same shape; got {:?} and {:?}", embeds.dims(), negative.dims()),
            ));
        }
        let mut scheduler = Ddpm::new(self.scheduler.clone())?;
        scheduler.set_timesteps(opts.steps)?;
        let guided = opts.guidance > 1.0;
        let cond = match guided {
            true => Tensor::cat(&[negative, embeds], 0)?,
            false => embeds.clone(),
        }
        .to_dtype(self.dtype)?;
        let (b, c) = (embeds.dim(0)?, self.unet.config.in_channels);
        let shape = [
            b,
            c,
            self.latent_side(opts.height),
            self.latent_side(opts.width),
        ];
        let mut latents = noise
            .normal(&shape, embeds.device())?
            .to_dtype(self.dtype)?;
        let total = scheduler.timesteps.len();
        for (i, &t) in scheduler.timesteps.iter().enumerate() {
            let input = match guided {
                true => Tensor::cat(&[&latents, &latents], 0)?,
                false => latents.clone(),
            };
            let mut out = self.unet.forward(&input, t as f64, &cond)?;
            if guided {
                out = guide(&out, b, c, opts.guidance)?;
            }
            latents = scheduler.step(&out, t, &latents, noise)?;
            on_step(i + 1, total);
        }
        let pixels = self.movq.decode(&latents)?.to_dtype(DType::F32)?;
        Ok(((pixels * 0.5)? + 0.5)?.clamp(0.0, 1.0)?)
    }
}

/// Classifier-free guidance over a [negative; conditioned] batch: ε_u + g·(ε_c − ε_u), with
/// the conditioned half's variance. out: [2b, 2c, h, w] → [b, 2c, h, w]
fn guide(out: &Tensor, b: usize, c: usize, scale: f64) -> Result<Tensor> {
    let (uncond, cond) = (out.narrow(0, 0, b)?, out.narrow(0, b, b)?);
    let (eu, ec) = (uncond.narrow(1, 0, c)?, cond.narrow(1, 0, c)?);
    let eps = (&eu + ((ec - &eu)? * scale)?)?;
    let parts = out.dim(1)? / c;
    if parts < 2 {
        return Ok(eps);
    }
    Ok(Tensor::cat(
        &[&eps, &cond.narrow(1, c, out.dim(1)? - c)?],
        1,
    )?)
}

/// Pictures as RGB images. [b, 3, H, W] in [0, 1] → b images
pub fn to_images(pictures: &Tensor) -> Result<Vec<image::RgbImage>> {
    let (b, _, h, w) = pictures.dims4()?;
    let hwc = (pictures.permute((0, 2, 3, 1))? * 255.0)?
        .round()?
        .clamp(0.0, 255.0)?
        .to_dtype(DType::U8)?
        .to_device(&Device::Cpu)?;
    (0..b)
        .map(|i| {
            let bytes = hwc.get(i)?.flatten_all()?.to_vec1::<u8>()?;
            image::RgbImage::from_raw(w as u32, h as u32, bytes)
                .ok_or_else(|| Error::invalid("picture", "has the wrong number of pixels"))
        })
        .collect()
}
