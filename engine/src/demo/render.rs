//! Draws a demo scene as a picture, so that collages and steering previews show what each
//! concept looks like: shape, colour, size, texture, count, background, position, frame, style.

use image::{Rgb, RgbImage};

use super::concepts::Scene;

/// Side of a rendered picture, in pixels.
pub const SIDE: u32 = 128;
const FRAME_WIDTH: u32 = 7;
const PIXEL_BLOCK: u32 = 4;
const BLUR_RADIUS: i32 = 3;

fn colour_rgb(name: &str) -> [u8; 3] {
    match name {
        "red" => [220, 30, 30],
        "orange" => [245, 140, 20],
        "yellow" => [240, 220, 30],
        "green" => [40, 170, 60],
        "blue" => [40, 80, 220],
        "purple" => [140, 50, 180],
        "pink" => [245, 130, 190],
        "white" => [245, 245, 245],
        "black" => [20, 20, 20],
        _ => [130, 80, 40], // brown
    }
}

/// Cheap deterministic per-pixel hash for speckle patterns.
fn hash(x: u32, y: u32) -> u32 {
    let mut h = x.wrapping_mul(0x9E37_79B9) ^ y.wrapping_mul(0x85EB_CA6B);
    h ^= h >> 13;
    h = h.wrapping_mul(0xC2B2_AE35);
    h ^ (h >> 16)
}

fn mix(a: [u8; 3], b: [u8; 3], t: f32) -> [u8; 3] {
    let t = t.clamp(0.0, 1.0);
    [0, 1, 2].map(|i| (a[i] as f32 * (1.0 - t) + b[i] as f32 * t) as u8)
}

fn background(name: &str, x: u32, y: u32) -> [u8; 3] {
    let (fx, fy) = (x as f32, y as f32);
    let t = fy / SIDE as f32;
    match name {
        "sky" => mix([110, 170, 240], [190, 220, 250], t),
        "grass" if (x + y / 3).is_multiple_of(6) => [30, 110, 30],
        "grass" => [70, 160, 55],
        "water" if ((fy * 0.4 + (fx * 0.2).sin() * 2.0).sin()).abs() < 0.15 => [120, 180, 230],
        "water" => [30, 100, 180],
        "night" if hash(x, y).is_multiple_of(97) => [250, 250, 220],
        "night" => [15, 20, 50],
        "sand" if hash(x, y).is_multiple_of(13) => [190, 160, 100],
        "sand" => [225, 200, 140],
        "snow" if hash(x, y).is_multiple_of(41) => [170, 185, 210],
        "snow" => [235, 240, 250],
        "forest" if (y % 32) as f32 > ((x % 24) as f32 - 12.0).abs() * 2.5 => [10, 55, 20],
        "forest" => [30, 95, 40],
        "sunset" => mix([250, 120, 40], [120, 40, 120], t),
        "brick" if y.is_multiple_of(12) || (x + (y / 12 % 2) * 12).is_multiple_of(24) => {
            [205, 200, 190]
        }
        "brick" => [170, 70, 50],
        "wood" if x.is_multiple_of(20) => [90, 55, 30],
        "wood" => mix(
            [150, 100, 60],
            [175, 120, 75],
            ((fx * 0.5 + fy * 0.05).sin() + 1.0) / 2.0,
        ),
        "clouds" if (fx * 0.08).sin() + (fy * 0.11 + fx * 0.03).sin() > 1.1 => [250, 250, 250],
        "clouds" => [120, 180, 240],
        "fog" => mix([175, 175, 180], [215, 215, 220], t),
        "space" if hash(x, y).is_multiple_of(61) => {
            colour_rgb(["white", "yellow", "pink"][(hash(y, x) % 3) as usize])
        }
        "space" => [5, 5, 15],
        "tiles" if x.is_multiple_of(16) || y.is_multiple_of(16) => [120, 120, 120],
        "tiles" => [205, 205, 205],
        "lava" if ((fx * 0.15 + (fy * 0.1).sin() * 3.0).sin()).abs() < 0.2 => [250, 130, 20],
        _ => [120, 20, 10], // lava
    }
}

/// Whether local coordinates (u, v) in [-1, 1]² (v down) fall inside the shape.
fn inside(shape: &str, u: f32, v: f32) -> bool {
    let r = (u * u + v * v).sqrt();
    match shape {
        "circle" => r <= 1.0,
        "square" => u.abs() <= 0.85 && v.abs() <= 0.85,
        "triangle" => (-0.9..=0.85).contains(&v) && u.abs() <= (v + 0.9) * 0.55,
        "star" => {
            let theta = v.atan2(u) + std::f32::consts::FRAC_PI_2;
            let spike = ((5.0 * theta).cos() + 1.0) / 2.0;
            r <= 0.42 + 0.58 * spike.powi(3)
        }
        "hexagon" => {
            let (au, av) = (u.abs(), v.abs());
            av <= 0.82 && 3f32.sqrt() * au + av <= 3f32.sqrt() * 0.95
        }
        "heart" => {
            let (x, y) = (u * 1.25, -v * 1.25 + 0.25);
            (x * x + y * y - 1.0).powi(3) - x * x * y.powi(3) <= 0.0
        }
        "cross" => (u.abs() <= 0.3 && v.abs() <= 0.9) || (v.abs() <= 0.3 && u.abs() <= 0.9),
        "diamond" => u.abs() + v.abs() <= 0.95,
        "crescent" => r <= 0.9 && ((u - 0.35).powi(2) + (v + 0.1).powi(2)).sqrt() > 0.72,
        _ => (0.55..=0.95).contains(&r), // ring
    }
}

/// The colour of a shape pixel at local (u, v) under a texture (None: see-through).
fn textured(texture: Option<&str>, shape: &str, base: [u8; 3], u: f32, v: f32) -> Option<[u8; 3]> {
    let dark = mix(base, [0, 0, 0], 0.45);
    let light = mix(base, [255, 255, 255], 0.55);
    Some(match texture {
        Some("striped") if ((u + v) * 5.0).rem_euclid(2.0) < 1.0 => dark,
        Some("dotted")
            if ((u * 4.0).rem_euclid(1.0) - 0.5).hypot((v * 4.0).rem_euclid(1.0) - 0.5) < 0.25 =>
        {
            light
        }
        Some("checkered") if (((u + 1.0) * 3.0) as i32 + ((v + 1.0) * 3.0) as i32) % 2 == 0 => dark,
        Some("gradient") => mix(light, dark, (v + 1.0) / 2.0),
        Some("outlined") => {
            let shrink = 1.3;
            if inside(shape, u * shrink, v * shrink) {
                return None;
            }
            base
        }
        Some("wavy") if ((v * 6.0 + (u * 6.0).sin()).sin()) > 0.3 => dark,
        _ => base,
    })
}

/// The picture region the shapes are laid out in: (x0, y0, width, height).
fn region(position: Option<&str>) -> (f32, f32, f32, f32) {
    let (s, h) = (SIDE as f32, SIDE as f32 / 2.0);
    match position {
        Some("left") => (0.0, 0.0, h, s),
        Some("right") => (h, 0.0, h, s),
        Some("top") => (0.0, 0.0, s, h),
        Some("bottom") => (0.0, h, s, h),
        _ => (0.0, 0.0, s, s),
    }
}

fn size_factor(size: Option<&str>) -> f32 {
    match size {
        Some("tiny") => 0.4,
        Some("small") => 0.55,
        Some("large") => 0.85,
        Some("huge") => 1.0,
        _ => 0.7,
    }
}

fn count_of(count: Option<&str>) -> usize {
    match count {
        Some("two") => 2,
        Some("three") => 3,
        Some("four") => 4,
        Some("five") => 5,
        _ => 1,
    }
}

/// Centres and radius of the shapes: a near-square grid of cells in the region.
fn layout(scene: &Scene) -> (Vec<(f32, f32)>, f32) {
    let n = count_of(scene.value("count"));
    let (x0, y0, w, h) = region(scene.value("position"));
    let cols = (n as f32).sqrt().ceil() as usize;
    let rows = n.div_ceil(cols);
    let (cw, ch) = (w / cols as f32, h / rows as f32);
    let radius = cw.min(ch) / 2.0 * size_factor(scene.value("size"));
    let centres = (0..n)
        .map(|i| {
            let (c, r) = (i % cols, i / cols);
            // Centre a short last row.
            let in_row = if r == rows - 1 { n - r * cols } else { cols };
            let offset = (cols - in_row) as f32 * cw / 2.0;
            (
                x0 + offset + (c as f32 + 0.5) * cw,
                y0 + (r as f32 + 0.5) * ch,
            )
        })
        .collect();
    (centres, radius)
}

/// Renders the scene as a `SIDE`×`SIDE` RGB picture.
pub fn render(scene: &Scene) -> RgbImage {
    let bg = scene.value("background").unwrap_or("sky");
    let (shape, base) = (scene.shape(), colour_rgb(scene.colour()));
    let texture = scene.value("texture");
    let (centres, radius) = layout(scene);
    let mut img = RgbImage::from_fn(SIDE, SIDE, |x, y| {
        let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
        for &(cx, cy) in &centres {
            let (u, v) = ((px - cx) / radius, (py - cy) / radius);
            if u.abs() <= 1.0 && v.abs() <= 1.0 && inside(shape, u, v) {
                if let Some(c) = textured(texture, shape, base, u, v) {
                    return Rgb(c);
                }
            }
        }
        Rgb(background(bg, x, y))
    });
    if let Some(frame) = scene.value("frame") {
        draw_frame(&mut img, frame);
    }
    match scene.value("style") {
        Some("blurry") => img = image::imageops::blur(&img, BLUR_RADIUS as f32 / 1.5),
        Some("pixelated") => pixelate(&mut img),
        Some("faded") => img
            .pixels_mut()
            .for_each(|p| p.0 = mix(p.0, [200, 200, 200], 0.55)),
        _ => {}
    }
    img
}

fn draw_frame(img: &mut RgbImage, frame: &str) {
    let c = match frame {
        "white frame" => [250, 250, 250],
        "black frame" => [10, 10, 10],
        _ => [212, 175, 55], // gold
    };
    for (x, y, p) in img.enumerate_pixels_mut() {
        let edge = x.min(y).min(SIDE - 1 - x).min(SIDE - 1 - y);
        if edge < FRAME_WIDTH {
            p.0 = c;
        }
    }
}

fn pixelate(img: &mut RgbImage) {
    let b = PIXEL_BLOCK;
    for by in (0..SIDE).step_by(b as usize) {
        for bx in (0..SIDE).step_by(b as usize) {
            let c = img.get_pixel(bx + b / 2, by + b / 2).0;
            for y in by..by + b {
                for x in bx..bx + b {
                    img.put_pixel(x, y, Rgb(c));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::concepts::{attribute_index, ATTRIBUTES};
    use super::*;

    fn scene(pairs: &[(&str, &str)]) -> Scene {
        let mut values = vec![None; ATTRIBUTES.len()];
        for (attr, value) in pairs {
            let a = attribute_index(attr).unwrap();
            values[a] = ATTRIBUTES[a].values.iter().position(|v| v == value);
        }
        Scene { values }
    }

    fn share_of(img: &RgbImage, rgb: [u8; 3]) -> f32 {
        img.pixels().filter(|p| p.0 == rgb).count() as f32 / (SIDE * SIDE) as f32
    }

    #[test]
    fn picture_shows_colour_size_and_background() {
        let big = render(&scene(&[
            ("shape", "square"),
            ("colour", "red"),
            ("size", "huge"),
            ("background", "night"),
        ]));
        let tiny = render(&scene(&[
            ("shape", "square"),
            ("colour", "red"),
            ("size", "tiny"),
            ("background", "night"),
        ]));
        assert!(share_of(&big, colour_rgb("red")) > 0.5);
        assert!(share_of(&tiny, colour_rgb("red")) < 0.15);
        assert!(
            share_of(&tiny, [15, 20, 50]) > 0.8,
            "night background fills the rest"
        );
    }

    #[test]
    fn count_position_and_frame_are_visible() {
        let s = scene(&[
            ("shape", "circle"),
            ("colour", "blue"),
            ("count", "two"),
            ("position", "left"),
            ("frame", "gold frame"),
            ("background", "snow"),
        ]);
        let img = render(&s);
        let blue = colour_rgb("blue");
        let right_half_blue = img
            .enumerate_pixels()
            .filter(|(x, _, p)| *x >= SIDE / 2 && p.0 == blue)
            .count();
        assert_eq!(right_half_blue, 0, "shapes stay in the left half");
        assert_eq!(img.get_pixel(0, 0).0, [212, 175, 55]);
        // Two separate blobs side by side across the middle row.
        let row: Vec<bool> = (0..SIDE)
            .map(|x| img.get_pixel(x, SIDE / 2).0 == blue)
            .collect();
        let runs = row.windows(2).filter(|w| !w[0] && w[1]).count();
        assert_eq!(runs, 2);
    }
}
