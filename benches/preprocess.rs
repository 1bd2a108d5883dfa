//! JPEG decode + open_clip preprocessing of 500×375 pictures, images per second on one
//! thread and on all. Compare with `tools/bench/ref_clip_embed.py` (about 152 images/s
//! here for open_clip's transform).
//!
//!     cargo bench --bench preprocess

use std::io::Cursor;
use std::time::Instant;

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use rayon::prelude::*;
use saelab::engine::clip::decode::decode_bytes;
use saelab::engine::clip::preprocess::{preprocess, SIZE};

const IMAGES: usize = 200;

fn jpeg() -> Vec<u8> {
    let img = RgbImage::from_fn(500, 375, |x, y| {
        Rgb([
            (x * 255 / 499) as u8,
            (y * 255 / 374) as u8,
            (((x / 25 + y / 25) % 2) * 255) as u8,
        ])
    });
    let mut bytes = Vec::new();
    DynamicImage::ImageRgb8(img)
        .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Jpeg)
        .expect("encodes");
    bytes
}

fn one(bytes: &[u8]) -> f32 {
    let img = decode_bytes(bytes).expect("decodes");
    preprocess(&img, SIZE)[0]
}

fn main() {
    let bytes = jpeg();
    let start = Instant::now();
    let serial: Vec<f32> = (0..IMAGES).map(|_| one(&bytes)).collect();
    let one_thread = IMAGES as f64 / start.elapsed().as_secs_f64();
    let start = Instant::now();
    let parallel: Vec<f32> = (0..IMAGES).into_par_iter().map(|_| one(&bytes)).collect();
    let all_threads = IMAGES as f64 / start.elapsed().as_secs_f64();
    assert_eq!(serial, parallel);
    println!(
        "{{\"images\": {IMAGES}, \"size\": [500, 375], \"one_thread_per_sec\": {one_thread:.1}, \"all_threads_per_sec\": {all_threads:.1}, \"threads\": {}}}",
        rayon::current_num_threads()
    );
}
