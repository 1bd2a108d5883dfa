//! Parity with diffusers and transformers on the tiny random Kandinsky folders that
//! tools/make_kandinsky_fixtures.py writes into fixtures/kandinsky-tiny.

use std::collections::VecDeque;
use std::path::PathBuf;

use candle_core::{DType, Device, Tensor};
use serde_json::Value;

use super::movq::Movq;
use super::prior::PriorTransformer;
use super::scheduler::{Ddpm, DdpmConfig, Noise, UnClip, UnClipConfig};
use super::unet::UNet;
use super::{DecodeOptions, KandinskyDecoder, KandinskyPrior, PriorOptions};
use crate::clip::model::Clip;
use crate::error::Result;
use crate::fsutil;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/kandinsky-tiny")
}

fn expected() -> Value {
    fsutil::read_json(&root().join("expected.json")).unwrap()
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn dims(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn tensor(v: &Value, shape: &[usize]) -> Tensor {
    Tensor::from_vec(floats(v), shape, &Device::Cpu).unwrap()
}

fn assert_close(got: &Tensor, want: &Value, tol: f32, what: &str) {
    let got = got.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let want = floats(want);
    assert_eq!(got.len(), want.len(), "{what}: length");
    let worst = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst <= tol,
        "{what}: differs by up to {worst} (tolerance {tol})"
    );
}

/// Noise replayed from what diffusers drew.
struct Replay(VecDeque<Vec<f32>>);

impl Replay {
    fn new<'a>(draws: impl IntoIterator<Item = &'a Value>) -> Self {
        Replay(draws.into_iter().map(floats).collect())
    }
}

impl Noise for Replay {
    fn normal(&mut self, shape: &[usize], device: &Device) -> Result<Tensor> {
        let values = self.0.pop_front().expect("as many draws as diffusers made");
        Ok(Tensor::from_vec(values, shape, device)?)
    }
}

impl Replay {
    /// A recorded run's draws: its starting latents, then each step's noise.
    fn recorded(run: &Value) -> Self {
        Self::new(std::iter::once(&run["latents"]).chain(run["noise"].as_array().unwrap()))
    }
}

/// The fixture's decoder pipeline on its embeddings and diffusers' recorded noise, every
/// draw used. → (its options, the pictures)
fn run_pipeline(
    decoder: &KandinskyDecoder,
    e: &Value,
    on_step: &mut dyn FnMut(usize, usize),
) -> (DecodeOptions, Tensor) {
    let p = &e["pipeline"];
    let d = decoder.unet.config.encoder_hid_dim;
    let side = e["side"].as_u64().unwrap() as usize;
    let opts = DecodeOptions {
        steps: e["steps"].as_u64().unwrap() as usize,
        guidance: e["guidance_scale"].as_f64().unwrap(),
        height: side,
        width: side,
    };
    let mut noise = Replay::recorded(p);
    let pictures = decoder
        .generate(
            &tensor(&p["image_embeds"], &[1, d]),
            &tensor(&p["negative_image_embeds"], &[1, d]),
            &opts,
            &mut noise,
            on_step,
        )
        .unwrap();
    assert!(noise.0.is_empty(), "every recorded draw is used");
    (opts, pictures)
}

#[test]
fn unet_matches_diffusers() {
    let e = &expected()["unet"];
    let unet = UNet::load(&root().join("decoder/unet"), DType::F32, &Device::Cpu).unwrap();
    let sample = tensor(&e["sample"], &dims(&e["sample_shape"]));
    let embeds = tensor(&e["image_embeds"], &[2, unet.config.encoder_hid_dim]);
    let out = unet
        .forward(&sample, e["timestep"].as_f64().unwrap(), &embeds)
        .unwrap();
    assert_eq!(out.dims(), dims(&e["out_shape"]).as_slice());
    assert_close(&out, &e["out"], 1e-3, "UNet output");
}

#[test]
fn movq_decode_matches_diffusers() {
    let e = &expected()["movq"];
    let movq = Movq::load(&root().join("decoder/movq"), DType::F32, &Device::Cpu).unwrap();
    let image = movq
        .decode(&tensor(&e["latents"], &dims(&e["latents_shape"])))
        .unwrap();
    assert_eq!(image.dims(), dims(&e["image_shape"]).as_slice());
    assert_close(&image, &e["image"], 1e-3, "MoVQ pixels");
}

#[test]
fn scheduler_steps_match_diffusers() {
    let decoder: DdpmConfig =
        fsutil::read_json(&root().join("decoder/scheduler/scheduler_config.json")).unwrap();
    let prior: UnClipConfig =
        fsutil::read_json(&root().join("prior/scheduler/scheduler_config.json")).unwrap();
    for case in expected()["schedulers"].as_array().unwrap() {
        let kind = case["kind"].as_str().unwrap();
        let variance = case["variance_type"].as_str().unwrap();
        let shape = dims(&case["shape"]);
        let output = tensor(&case["model_output"], &shape);
        let mut sample_shape = shape.clone();
        if variance == "learned_range" {
            sample_shape[1] /= 2;
        }
        let sample = tensor(&case["sample"], &sample_shape);
        let timesteps = dims(&case["timesteps"]);
        let steps = case["steps"].as_array().unwrap();
        let what = format!("{kind} {variance}");
        if kind == "ddpm" {
            let mut s = Ddpm::new(DdpmConfig {
                variance_type: variance.into(),
                ..decoder.clone()
            })
            .unwrap();
            s.set_timesteps(steps.len()).unwrap();
            assert_eq!(s.timesteps, timesteps, "{what} timesteps");
            for step in steps {
                let t = step["t"].as_u64().unwrap() as usize;
                let mut noise = Replay::new(
                    [&step["noise"]]
                        .into_iter()
                        .filter(|n| !n.as_array().unwrap().is_empty()),
                );
                let prev = s.step(&output, t, &sample, &mut noise).unwrap();
                assert_close(&prev, &step["prev"], 1e-4, &format!("{what} t={t}"));
            }
        } else {
            let mut s = UnClip::new(prior.clone()).unwrap();
            s.set_timesteps(steps.len()).unwrap();
            assert_eq!(s.timesteps, timesteps, "{what} timesteps");
            for (i, step) in steps.iter().enumerate() {
                let t = step["t"].as_u64().unwrap() as usize;
                let mut noise = Replay::new(
                    [&step["noise"]]
                        .into_iter()
                        .filter(|n| !n.as_array().unwrap().is_empty()),
                );
                let prev = s
                    .step(
                        &output,
                        t,
                        &sample,
                        timesteps.get(i + 1).copied(),
                        &mut noise,
                    )
                    .unwrap();
                assert_close(&prev, &step["prev"], 1e-4, &format!("{what} t={t}"));
            }
        }
    }
}

#[test]
fn decoder_pipeline_matches_diffusers() {
    let e = expected();
    let p = &e["pipeline"];
    let decoder =
        KandinskyDecoder::load(&root().join("decoder"), DType::F32, &Device::Cpu).unwrap();
    let mut seen = vec![];
    let (opts, pictures) = run_pipeline(&decoder, &e, &mut |done, total| seen.push((done, total)));
    let side = opts.height;
    assert_eq!(seen.last(), Some(&(opts.steps, opts.steps)));
    // diffusers returns [b, H, W, 3].
    assert_close(
        &pictures.permute((0, 2, 3, 1)).unwrap(),
        &p["image"],
        1e-3,
        "pipeline pixels",
    );
    assert_eq!(decoder.picture_size(&opts), (side, side));
}

#[test]
fn prior_loop_matches_diffusers() {
    let e = expected();
    let p = &e["prior"];
    let text = &e["text"];
    let prior = KandinskyPrior::load(&root().join("prior"), DType::F32, &Device::Cpu).unwrap();
    assert_close(
        &prior.zero_embed().unwrap(),
        &e["zero_image_embed"],
        1e-4,
        "zero-picture embedding",
    );
    let ids: Vec<Vec<u32>> = text["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| dims(r).into_iter().map(|x| x as u32).collect())
        .collect();
    let lengths = dims(&text["lengths"]);
    // The pipeline's batch is [negative (""), prompt]: fixture rows 1 and 0.
    let rows = [ids[1].clone(), ids[0].clone()];
    let opts = PriorOptions {
        steps: e["steps"].as_u64().unwrap() as usize,
        guidance: e["guidance_scale"].as_f64().unwrap(),
    };
    // One call of the prior transformer at the first timestep, on the guided batch.
    let text_tower = Clip::load(&root().join("prior/text_encoder"), &Device::Cpu).unwrap();
    let (states, text_embeds) = text_tower.text_states(&rows).unwrap();
    let transformer =
        PriorTransformer::load(&root().join("prior/prior"), DType::F32, &Device::Cpu).unwrap();
    let start = tensor(&p["latents"], &[1, transformer.embedding_dim()]);
    let first = transformer
        .forward(
            &Tensor::cat(&[&start, &start], 0).unwrap(),
            p["first_timestep"].as_f64().unwrap(),
            &text_embeds,
            &states,
            &[lengths[1], lengths[0]],
        )
        .unwrap();
    assert_close(&first, &p["first_prediction"], 1e-3, "prior transformer");
    let mut noise = Replay::recorded(p);
    let embeds = prior
        .denoise(
            &rows,
            &[lengths[1], lengths[0]],
            &opts,
            &mut noise,
            &mut |_, _| {},
        )
        .unwrap();
    assert!(noise.0.is_empty(), "every recorded draw is used");
    assert_close(&embeds, &p["image_embeds"], 1e-3, "prior image embedding");
}

/// The half-precision path GPUs take, run on the CPU: the UNet and MoVQ agree with diffusers
/// within f16's error, and the whole pipeline runs to finite pixels of the right size. (The
/// random tiny MoVQ amplifies f16's rounding of the latents too much to compare its pictures
/// pixel by pixel.)
#[test]
fn the_decoder_runs_in_f16() {
    let e = expected();
    let (u, m) = (&e["unet"], &e["movq"]);
    let f16 = |v: &Value, shape: &[usize]| tensor(v, shape).to_dtype(DType::F16).unwrap();
    let decoder =
        KandinskyDecoder::load(&root().join("decoder"), DType::F16, &Device::Cpu).unwrap();
    let d = decoder.unet.config.encoder_hid_dim;
    let out = decoder
        .unet
        .forward(
            &f16(&u["sample"], &dims(&u["sample_shape"])),
            421.0,
            &f16(&u["image_embeds"], &[2, d]),
        )
        .unwrap();
    assert_close(
        &out.to_dtype(DType::F32).unwrap(),
        &u["out"],
        3e-2,
        "f16 UNet",
    );
    let image = decoder
        .movq
        .decode(&f16(&m["latents"], &dims(&m["latents_shape"])))
        .unwrap();
    assert_close(
        &image.to_dtype(DType::F32).unwrap(),
        &m["image"],
        3e-2,
        "f16 MoVQ",
    );
    let (opts, pictures) = run_pipeline(&decoder, &e, &mut |_, _| {});
    let side = opts.height;
    assert_eq!(
        (pictures.dtype(), pictures.dims()),
        (DType::F32, &[1, 3, side, side][..])
    );
    let values = pictures.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert!(values.iter().all(|v| (0.0..=1.0).contains(v)));
}

/// `random:kandinsky-2-2`'s pieces on the tiny configs: every weight drawn (two draws
/// differ), in f16 as on a GPU, and a prior into 1280 dimensions that refuses prompts.
#[test]
fn random_kandinsky_draws_its_weights_and_refuses_prompts() {
    use super::movq::MovqConfig;
    use super::random::decoder_parts;
    use super::unet::UNetConfig;

    let decoder = root().join("decoder");
    let unet: UNetConfig = fsutil::read_json(&decoder.join("unet/config.json")).unwrap();
    let movq: MovqConfig = fsutil::read_json(&decoder.join("movq/config.json")).unwrap();
    let d = unet.encoder_hid_dim;
    let cpu = Device::Cpu;
    let sample = Tensor::randn(0f32, 1.0, (1, unet.in_channels, 8, 8), &cpu).unwrap();
    let embeds = Tensor::randn(0f32, 1.0, (1, d), &cpu).unwrap();
    let picture = || {
        let (u, m) = decoder_parts(unet.clone(), movq.clone(), DType::F16, &cpu).unwrap();
        let f16 = |t: &Tensor| t.to_dtype(DType::F16).unwrap();
        let out = u.forward(&f16(&sample), 500.0, &f16(&embeds)).unwrap();
        let latents = out.narrow(1, 0, unet.in_channels).unwrap();
        let image = m.decode(&latents).unwrap().to_dtype(DType::F32).unwrap();
        image.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    };
    let (a, b) = (picture(), picture());
    assert!(a.iter().all(|v| v.is_finite()));
    assert!(
        a.iter().any(|v| (v - a[0]).abs() > 1e-3),
        "a constant picture"
    );
    assert_ne!(a, b, "two random decoders drew the same weights");
    // The real repos' schedulers, as the random decoder and prior run them.
    let real: DdpmConfig =
        fsutil::read_json(&decoder.join("scheduler/scheduler_config.json")).unwrap();
    let ours = super::random::decoder_scheduler();
    assert_eq!(
        (
            ours.beta_start,
            ours.beta_end,
            ours.steps_offset,
            ours.prediction_type.as_str()
        ),
        (
            real.beta_start,
            real.beta_end,
            real.steps_offset,
            real.prediction_type.as_str()
        )
    );
    UnClip::new(super::random::prior_scheduler()).unwrap();

    let prior = KandinskyPrior::random(DType::F32, &cpu).unwrap();
    assert_eq!(prior.dim(), 1280);
    let err = prior
        .embed_prompts(
            &["a cat"],
            &PriorOptions::default(),
            &mut super::SeededNoise::new(0),
            &mut |_, _| {},
        )
        .err()
        .unwrap();
    assert!(err.to_string().contains("--prompt"), "{err}");
}
