//! Kandinsky 2.2 with random weights, for timing where the real ones cannot be downloaded (the
//! GPU smoke run): `--decoder random:kandinsky-2-2` is the real decoder's UNet and MoVQ at
//! their real sizes, `--prior random:kandinsky-2-2` a prior whose image encoder is
//! `--model random:kandinsky-2-2`'s small CLIP into the real 1280 dimensions, and no prompt
//! side (steer a set's row or a picture with it).

use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{Init, VarBuilder};

use super::movq::{Movq, MovqConfig};
use super::scheduler::{DdpmConfig, UnClipConfig};
use super::unet::{UNet, UNetConfig};
use crate::error::Result;

/// The name after `random:` of Kandinsky 2.2's random prior, decoder and image encoder.
pub const RANDOM_KANDINSKY: &str = "kandinsky-2-2";

/// Whether `--prior` or `--decoder` names the random Kandinsky.
pub fn is_random(source: &crate::hub::ModelSource) -> bool {
    source.spec.strip_prefix(crate::hub::RANDOM_PREFIX) == Some(RANDOM_KANDINSKY)
}

/// Weights drawn by each layer's own initialiser (zeros where a layer names none), in f32
/// and cast: CUDA draws no f16.
struct Drawn;

impl SimpleBackend for Drawn {
    fn get(
        &self,
        shape: Shape,
        _name: &str,
        init: Init,
        dtype: DType,
        device: &Device,
    ) -> candle_core::Result<Tensor> {
        init.var(shape, DType::F32, device)?
            .as_tensor()
            .to_dtype(dtype)
    }

    fn get_unchecked(&self, name: &str, _: DType, _: &Device) -> candle_core::Result<Tensor> {
        candle_core::bail!("random weights have no shape for '{name}'")
    }

    fn contains_tensor(&self, _name: &str) -> bool {
        true
    }
}

/// A builder whose every weight is freshly drawn.
pub fn drawn(dtype: DType, device: &Device) -> VarBuilder<'static> {
    VarBuilder::from_backend(Box::new(Drawn), dtype, device.clone())
}

/// The decoder's UNet and MoVQ of these configs with drawn weights.
pub fn decoder_parts(
    unet: UNetConfig,
    movq: MovqConfig,
    dtype: DType,
    device: &Device,
) -> Result<(UNet, Movq)> {
    let vb = drawn(dtype, device);
    Ok((
        UNet::new(vb.pp("unet"), unet)?,
        Movq::new(vb.pp("movq"), movq)?,
    ))
}

/// `kandinsky-2-2-decoder`'s scheduler config.
pub fn decoder_scheduler() -> DdpmConfig {
    serde_json::from_value(serde_json::json!({
        "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "linear",
        "num_train_timesteps": 1000, "prediction_type": "epsilon", "steps_offset": 1,
        "timestep_spacing": "leading", "variance_type": "fixed_small", "clip_sample": false
    }))
    .expect("a valid config")
}

/// `kandinsky-2-2-prior`'s scheduler config.
pub fn prior_scheduler() -> UnClipConfig {
    serde_json::from_value(serde_json::json!({
        "beta_schedule": "squaredcos_cap_v2", "clip_sample": true, "clip_sample_range": 10.0,
        "num_train_timesteps": 1000, "prediction_type": "sample",
        "variance_type": "fixed_small_log"
    }))
    .expect("a valid config")
}
