//! BLIP captioning at `blip-image-captioning-base`'s size with random weights: seconds to
//! encode a picture (ViT-B/16 at 384 px) and to decode a 20-token caption greedily.
//!
//!     RAYON_NUM_THREADS=2 cargo bench --bench caption

use std::time::Instant;

use candle_core::Device;
use image::{DynamicImage, Rgb, RgbImage};
use saelab::engine::caption::config::BlipConfig;
use saelab::engine::caption::generate::MAX_LEN;
use saelab::engine::caption::preprocess::pixels;
use saelab::engine::caption::Captioner;

const PICTURES: usize = 2;

fn main() {
    let c = Captioner::random(BlipConfig::base(), &Device::Cpu).expect("builds");
    let img = DynamicImage::ImageRgb8(RgbImage::from_fn(500, 375, |x, y| {
        Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    }));
    let inputs: Vec<Vec<f32>> = (0..PICTURES).map(|_| pixels(&img, c.side())).collect();
    let start = Instant::now();
    let hidden = c.encode(&inputs).expect("encodes");
    let encode = start.elapsed().as_secs_f64() / PICTURES as f64;
    let start = Instant::now();
    // Random weights rarely say [SEP]: every caption runs to the length limit, the worst case.
    let ids = c
        .caption_ids(&hidden.narrow(0, 0, 1).expect("one"), MAX_LEN)
        .expect("decodes");
    let decode = start.elapsed().as_secs_f64();
    let report = serde_json::json!({
        "encode_s_per_picture": encode,
        "decode_s_per_caption": decode,
        "tokens": ids.len(),
        "s_per_picture": encode + decode,
    });
    println!("{report}");
}
