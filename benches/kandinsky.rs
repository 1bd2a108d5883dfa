//! Kandinsky 2.2's decoder at its real sizes (weights zero: time does not depend on them):
//! seconds for one guided UNet call (a batch of 2, as classifier-free guidance runs it) and
//! one MoVQ decode, at a picture side of $KANDINSKY_BENCH_SIDE pixels (default 256). Compare
//! with `tools/bench_kandinsky.py`, diffusers on the same shapes.
//!
//!     RAYON_NUM_THREADS=2 cargo bench --bench kandinsky

use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use saelab::engine::kandinsky::movq::{Movq, MovqConfig};
use saelab::engine::kandinsky::unet::{UNet, UNetConfig};

/// MoVQ's downscale of the real decoder.
const SCALE: usize = 8;

fn seconds(mut f: impl FnMut()) -> f64 {
    f();
    let start = Instant::now();
    f();
    start.elapsed().as_secs_f64()
}

fn main() {
    let side: usize = std::env::var("KANDINSKY_BENCH_SIDE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(256);
    let dev = Device::Cpu;
    let latent = side / SCALE;
    let vb = VarBuilder::zeros(DType::F32, &dev);
    let unet = UNet::new(vb.clone(), UNetConfig::kandinsky22()).expect("builds");
    let movq = Movq::new(vb, MovqConfig::kandinsky22()).expect("builds");
    let sample = Tensor::randn(0f32, 1.0, (2, 4, latent, latent), &dev).expect("noise");
    let embeds = Tensor::randn(0f32, 1.0, (2, 1280), &dev).expect("embeds");
    let unet_s = seconds(|| {
        unet.forward(&sample, 500.0, &embeds).expect("runs");
    });
    let one = sample.narrow(0, 0, 1).expect("one");
    let movq_s = seconds(|| {
        movq.decode(&one).expect("decodes");
    });
    let report = serde_json::json!({
        "side": side,
        "unet_guided_step_s": unet_s,
        "movq_decode_s": movq_s,
        "picture_50_steps_s": 50.0 * unet_s + movq_s,
    });
    println!("{report}");
}
