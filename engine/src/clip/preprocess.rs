//! Image preprocessing identical to open_clip's eval transform: shortest side to 224 with
//! Pillow's bicubic filter (antialiased: its support widens by the downscale factor), centre
//! crop, then CLIP's per-channel mean and std.
//!
//! Pillow resamples 8-bit images in two passes (horizontal, then vertical) with fixed-point
//! coefficients of 22 fractional bits, rounding to 8 bits between the passes; this file does
//! the same, so its pixels equal open_clip's exactly (see `fixtures/preprocess`).

use image::{RgbImage, RgbaImage};

use super::decode::Decoded;

/// CLIP's usual input side (models say theirs in `vision_config.image_size`).
pub const SIZE: u32 = 224;
/// CLIP's normalisation, quoted digit for digit from open_clip (more than f32 holds).
#[allow(clippy::excessive_precision)]
pub const MEAN: [f32; 3] = [0.48145466, 0.4578275, 0.40821073];
#[allow(clippy::excessive_precision)]
pub const STD: [f32; 3] = [0.26862954, 0.26130258, 0.27577711];
/// Fractional bits of Pillow's 8-bit resampling coefficients (32 − 8 − 2).
const PRECISION_BITS: u32 = 22;
/// The bicubic filter's support and its `a` (Pillow uses a = −0.5).
const BICUBIC_SUPPORT: f64 = 2.0;
const BICUBIC_A: f64 = -0.5;

fn bicubic(x: f64) -> f64 {
    let x = x.abs();
    let a = BICUBIC_A;
    if x < 1.0 {
        ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * a
    } else {
        0.0
    }
}

/// Per output position: the first input index and the fixed-point weights.
struct Coefficients {
    bounds: Vec<(usize, usize)>,
    weights: Vec<Vec<i64>>,
}

fn coefficients(in_size: usize, out_size: usize) -> Coefficients {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = BICUBIC_SUPPORT * filterscale;
    let (mut bounds, mut weights) = (Vec::with_capacity(out_size), Vec::with_capacity(out_size));
    for xx in 0..out_size {
        let center = (xx as f64 + 0.5) * scale;
        // C's (int) cast truncates toward zero, as `as` does.
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax =
            (((center + support + 0.5) as i64).min(in_size as i64) as usize).saturating_sub(xmin);
        let raw: Vec<f64> = (0..xmax)
            .map(|x| bicubic((x as f64 + xmin as f64 - center + 0.5) / filterscale))
            .collect();
        let total: f64 = raw.iter().sum();
        let fixed = raw
            .iter()
            .map(|&k| {
                let k = if total != 0.0 { k / total } else { k };
                let scaled = k * (1u64 << PRECISION_BITS) as f64;
                (if k < 0.0 { scaled - 0.5 } else { scaled + 0.5 }) as i64
            })
            .collect();
        bounds.push((xmin, xmax));
        weights.push(fixed);
    }
    Coefficients { bounds, weights }
}

/// Pillow's rounding and clamping back to 8 bits.
fn clip8(acc: i64) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Resamples along rows: out_w × height. src is packed `C`-channel rows of width `in_w`.
fn pass_horizontal<const C: usize>(
    src: &[u8],
    in_w: usize,
    height: usize,
    out_w: usize,
    c: &Coefficients,
) -> Vec<u8> {
    let half = 1i64 << (PRECISION_BITS - 1);
    let mut out = vec![0u8; out_w * height * C];
    for (src_row, out_row) in src
        .chunks_exact(in_w * C)
        .zip(out.chunks_exact_mut(out_w * C))
    {
        for (x, px) in out_row.chunks_exact_mut(C).enumerate() {
            let (min, len) = c.bounds[x];
            let mut acc = [half; C];
            for (k, &w) in c.weights[x][..len].iter().enumerate() {
                let p = &src_row[(min + k) * C..(min + k + 1) * C];
                for ch in 0..C {
                    acc[ch] += p[ch] as i64 * w;
                }
            }
            px.copy_from_slice(&acc.map(clip8));
        }
    }
    out
}

/// Resamples along columns: width × out_h. src is packed rows of `stride` bytes.
fn pass_vertical(src: &[u8], stride: usize, out_h: usize, c: &Coefficients) -> Vec<u8> {
    let half = 1i64 << (PRECISION_BITS - 1);
    let mut out = vec![0u8; stride * out_h];
    let mut acc = vec![0i64; stride];
    for (y, out_row) in out.chunks_exact_mut(stride).enumerate() {
        let (min, len) = c.bounds[y];
        acc.fill(half);
        for (k, &w) in c.weights[y][..len].iter().enumerate() {
            let src_row = &src[(min + k) * stride..(min + k + 1) * stride];
            acc.iter_mut()
                .zip(src_row)
                .for_each(|(a, &v)| *a += v as i64 * w);
        }
        out_row
            .iter_mut()
            .zip(&acc)
            .for_each(|(o, &a)| *o = clip8(a));
    }
    out
}

/// Pillow's `Image.resize(size, BICUBIC)` on packed 8-bit pixels of `C` channels.
fn resize_packed<const C: usize>(
    buf: Vec<u8>,
    (in_w, in_h): (u32, u32),
    (w, h): (u32, u32),
) -> Vec<u8> {
    let (in_w, in_h, w_us, h_us) = (in_w as usize, in_h as usize, w as usize, h as usize);
    let mut buf = buf;
    let mut width = in_w;
    if w_us != in_w {
        buf = pass_horizontal::<C>(&buf, in_w, in_h, w_us, &coefficients(in_w, w_us));
        width = w_us;
    }
    if h_us != in_h {
        buf = pass_vertical(&buf, width * C, h_us, &coefficients(in_h, h_us));
    }
    buf
}

/// Pillow's `Image.resize(size, BICUBIC)` for 8-bit RGB.
pub fn resize_bicubic(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    let buf = resize_packed::<3>(img.as_raw().clone(), img.dimensions(), (w, h));
    RgbImage::from_raw(w, h, buf).expect("passes produce w × h pixels")
}

/// Pillow's resize of a picture with alpha: premultiplied ("RGBa") while resampling, so
/// transparent pixels do not bleed their colour, then un-premultiplied; alpha is then dropped
/// as `convert("RGB")` drops it.
fn resize_with_alpha(img: &RgbaImage, w: u32, h: u32) -> RgbImage {
    let mut buf = img.as_raw().clone();
    for px in buf.chunks_exact_mut(4) {
        let a = px[3] as u32;
        for v in &mut px[..3] {
            *v = mul_div_255(*v as u32, a);
        }
    }
    let buf = resize_packed::<4>(buf, img.dimensions(), (w, h));
    let rgb = buf
        .chunks_exact(4)
        .flat_map(|px| {
            let a = px[3] as u32;
            let undo = |v: u8| match a {
                0 | 255 => v,
                _ => (255 * v as u32 / a).min(255) as u8,
            };
            [undo(px[0]), undo(px[1]), undo(px[2])]
        })
        .collect();
    RgbImage::from_raw(w, h, rgb).expect("passes produce w × h pixels")
}

/// Pillow's MULDIV255: a·b/255, rounded.
fn mul_div_255(a: u32, b: u32) -> u8 {
    let t = a * b + 128;
    (((t >> 8) + t) >> 8) as u8
}

/// Pillow's nearest-neighbour resize, which it uses for palette pictures whatever filter is
/// asked for: source pixel ⌊(x + ½)·scale⌋.
fn resize_nearest(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    let (sx, sy) = (
        img.width() as f64 / w as f64,
        img.height() as f64 / h as f64,
    );
    RgbImage::from_fn(w, h, |x, y| {
        let src_x = (((x as f64 + 0.5) * sx) as u32).min(img.width() - 1);
        let src_y = (((y as f64 + 0.5) * sy) as u32).min(img.height() - 1);
        *img.get_pixel(src_x, src_y)
    })
}

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
fn center_crop(img: &RgbImage, size: u32) -> RgbImage {
    let top = round_half_even((img.height() - size) as f64 / 2.0) as u32;
    let left = round_half_even((img.width() - size) as f64 / 2.0) as u32;
    image::imageops::crop_imm(img, left, top, size, size).to_image()
}

/// The resized and cropped picture, before normalisation.
pub fn resize_and_crop(img: &Decoded, size: u32) -> RgbImage {
    let (w, h) = resized_dims(img.image.width(), img.image.height(), size);
    let resized = match (&img.image, img.palette) {
        (_, true) => resize_nearest(&img.image.to_rgb8(), w, h),
        (pic, false) if pic.color().has_alpha() => resize_with_alpha(&pic.to_rgba8(), w, h),
        (pic, false) => resize_bicubic(&pic.to_rgb8(), w, h),
    };
    center_crop(&resized, size)
}

/// The model input: CHW, scaled to [0, 1], then (x − mean) / std. shape: [3, size, size]
pub fn preprocess(img: &Decoded, size: u32) -> Vec<f32> {
    standardise(&resize_and_crop(img, size))
}

/// A picture as CHW floats, scaled to [0, 1], then (x − mean) / std. shape: [3, h, w]
pub fn standardise(pic: &RgbImage) -> Vec<f32> {
    let plane = (pic.width() * pic.height()) as usize;
    let mut out = vec![0.0f32; 3 * plane];
    for (i, p) in pic.pixels().enumerate() {
        for c in 0..3 {
            out[c * plane + i] = (p[c] as f32 / 255.0 - MEAN[c]) / STD[c];
        }
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
