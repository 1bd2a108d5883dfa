//! BLIP's input, as transformers' `BlipImageProcessor` makes it with Pillow: any transparency
//! composited onto white, a bicubic resize straight to the model's square side (no crop), then
//! CLIP's mean and std.

use image::{DynamicImage, RgbImage};

use crate::clip::preprocess::{resize_bicubic, standardise};

/// The picture as RGB, transparent parts shown over white as `convert_to_rgb` does.
fn on_white(img: &DynamicImage) -> RgbImage {
    if !img.color().has_alpha() {
        return img.to_rgb8();
    }
    let rgba = img.to_rgba8();
    let (w, h) = rgba.dimensions();
    RgbImage::from_fn(w, h, |x, y| {
        let p = rgba.get_pixel(x, y).0;
        let alpha = p[3] as f32 / 255.0;
        let blend = |c: u8| (alpha * c as f32 + (1.0 - alpha) * 255.0).round_ties_even() as u8;
        image::Rgb([blend(p[0]), blend(p[1]), blend(p[2])])
    })
}

/// The model input: CHW, (x / 255 − mean) / std. shape: [3, side, side]
pub fn pixels(img: &DynamicImage, side: u32) -> Vec<f32> {
    standardise(&resize_bicubic(&on_white(img), side, side))
}
