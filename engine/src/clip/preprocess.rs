//! Image preprocessing identical to open_clip's eval transform: shortest side to 224 with
//! Pillow's bicubic filter (antialiased: its support widens by the downscale factor), centre
//! crop, then CLIP's per-channel mean and std.
//!
//! The resize is Pillow's, pixel for pixel (`resample.rs`), so the pixels equal open_clip's
//! exactly (see `fixtures/preprocess`); only the pixels the crop keeps are resampled.

use std::borrow::Cow;

use image::{DynamicImage, RgbImage};

use super::decode::Decoded;
pub use super::resample::resize_bicubic;
use super::resample::{resize_nearest, resize_rgb_window, resize_with_alpha, Window};

/// CLIP's usual input side (models say theirs in `vision_config.image_size`).
pub const SIZE: u32 = 224;
/// CLIP's normalisation, quoted digit for digit from open_clip (more than f32 holds).
#[allow(clippy::excessive_precision)]
pub const MEAN: [f32; 3] = [0.48145466, 0.4578275, 0.40821073];
#[allow(clippy::excessive_precision)]
pub const STD: [f32; 3] = [0.26862954, 0.26130258, 0.27577711];
/// torchvision's size for "shortest side to `size`": the long side scales and truncates.
fn resized_dims(w: u32, h: u32, size: u32) -> (u32, u32) {
    if w <= h {
        (size, (size as u64 * h as u64 / w as u64) as u32)
    } else {
        ((size as u64 * w as u64 / h as u64) as u32, size)
    }
}

/// Python's round(): halves go to the even neighbour.
fn round_half_even(v: f64) -> i64 {
    let r = v.round();
    if (v - v.trunc()).abs() == 0.5 && (r as i64) % 2 != 0 {
        (r - v.signum()) as i64
    } else {
        r as i64
    }
}

/// torchvision's centre crop (the image is at least `size` on both sides after the resize).
/// torchvision's CenterCrop offsets: (left, top) of a size × size square in a w × h picture.
fn crop_offsets((w, h): (u32, u32), size: u32) -> (u32, u32) {
    let left = round_half_even((w - size) as f64 / 2.0) as u32;
    let top = round_half_even((h - size) as f64 / 2.0) as u32;
    (left, top)
}

/// Shortest side to `size`, then the centre size × size: open_clip's geometry.
pub fn resize_and_crop(img: &Decoded, size: u32) -> RgbImage {
    let dims = resized_dims(img.image.width(), img.image.height(), size);
    let (left, top) = crop_offsets(dims, size);
    let keep = Window {
        cols: left as usize..(left + size) as usize,
        rows: top as usize..(top + size) as usize,
    };
    match (&img.image, img.palette) {
        (_, true) => {
            let resized = resize_nearest(&img.image.to_rgb8(), dims.0, dims.1);
            image::imageops::crop_imm(&resized, left, top, size, size).to_image()
        }
        (pic, false) if pic.color().has_alpha() => resize_with_alpha(&pic.to_rgba8(), dims, keep),
        (pic, false) => {
            let rgb = match pic {
                DynamicImage::ImageRgb8(rgb) => Cow::Borrowed(rgb),
                other => Cow::Owned(other.to_rgb8()),
            };
            resize_rgb_window(&rgb, dims, keep)
        }
    }
}

/// The model input: CHW, scaled to [0, 1], then (x − mean) / std. shape: [3, size, size]
pub fn preprocess(img: &Decoded, size: u32) -> Vec<f32> {
    standardise(&resize_and_crop(img, size))
}

/// A picture as CHW floats, scaled to [0, 1], then (x − mean) / std. shape: [3, h, w]
pub fn standardise(pic: &RgbImage) -> Vec<f32> {
    // Each channel's 256 possible values, computed by the same expression once.
    let table: [[f32; 256]; 3] =
        std::array::from_fn(|c| std::array::from_fn(|v| (v as f32 / 255.0 - MEAN[c]) / STD[c]));
    let plane = (pic.width() * pic.height()) as usize;
    let mut out = vec![0.0f32; 3 * plane];
    let (r, rest) = out.split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    for (i, p) in pic.as_raw().chunks_exact(3).enumerate() {
        r[i] = table[0][usize::from(p[0])];
        g[i] = table[1][usize::from(p[1])];
        b[i] = table[2][usize::from(p[2])];
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[derive(serde::Deserialize)]
    struct Case {
        name: String,
        file: String,
        mode: String,
        probes: Vec<(usize, usize, usize, f32)>,
    }

    #[derive(serde::Deserialize)]
    struct Cases {
        cases: Vec<Case>,
    }

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/preprocess");

    /// Largest channel difference allowed per mode. Pillow resamples CMYK before converting
    /// it to RGB; the JPEG decoder here hands over RGB, so CMYK is close but not exact.
    fn tolerance(mode: &str) -> u8 {
        if mode == "CMYK" {
            CMYK_TOLERANCE
        } else {
            0
        }
    }
    const CMYK_TOLERANCE: u8 = 1;

    #[test]
    fn pixels_equal_open_clips_transform_in_every_mode() {
        let cases: Cases =
            serde_json::from_str(&std::fs::read_to_string(format!("{DIR}/cases.json")).unwrap())
                .unwrap();
        assert!(cases.cases.len() >= 9);
        for case in &cases.cases {
            let input =
                super::super::decode::open(Path::new(&format!("{DIR}/{}", case.file))).unwrap();
            let want = image::open(format!("{DIR}/{}.expected.png", case.name))
                .unwrap()
                .to_rgb8();
            let got = resize_and_crop(&input, SIZE);
            assert_eq!(got.dimensions(), (SIZE, SIZE));
            let worst = got
                .as_raw()
                .iter()
                .zip(want.as_raw())
                .map(|(a, b)| a.abs_diff(*b))
                .max()
                .unwrap();
            let differing = got
                .pixels()
                .zip(want.pixels())
                .filter(|(a, b)| a != b)
                .count();
            assert!(
                worst <= tolerance(&case.mode),
                "{} ({}): {differing} pixels differ from open_clip's, by up to {worst}",
                case.name,
                case.mode
            );
            if tolerance(&case.mode) > 0 {
                continue;
            }
            let tensor = preprocess(&input, SIZE);
            for &(c, y, x, v) in &case.probes {
                let ours = tensor[c * (SIZE * SIZE) as usize + y * SIZE as usize + x];
                assert!(
                    (ours - v).abs() < 1e-5,
                    "{} [{c},{y},{x}]: {ours} vs {v}",
                    case.name
                );
            }
        }
    }

    #[test]
    fn python_rounding_and_torchvision_sizes() {
        assert_eq!(
            (
                round_half_even(0.5),
                round_half_even(1.5),
                round_half_even(2.5),
                round_half_even(2.6)
            ),
            (0, 2, 2, 3)
        );
        assert_eq!(resized_dims(500, 375, 224), (298, 224));
        assert_eq!(resized_dims(97, 333, 224), (224, 768));
    }
}
