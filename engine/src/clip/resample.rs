//! Pillow's bicubic resize, pixel for pixel: two passes (horizontal, then vertical) with
//! fixed-point coefficients of 22 fractional bits in 32-bit sums, rounding to 8 bits between
//! the passes, and its premultiplied path for alpha and nearest-neighbour path for palettes.
//! A caller that crops names the window it keeps, and only that window is resampled.

use std::ops::Range;

use image::{RgbImage, RgbaImage};

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

/// Per output position: the first input index and the number of taps; the taps'
/// fixed-point weights lie `stride` apart in `weights`.
struct Coefficients {
    bounds: Vec<(usize, usize)>,
    weights: Vec<i32>,
    stride: usize,
}

impl Coefficients {
    fn taps(&self, at: usize) -> (usize, &[i32]) {
        let (min, len) = self.bounds[at];
        (min, &self.weights[at * self.stride..at * self.stride + len])
    }
}

fn coefficients(in_size: usize, out_size: usize) -> Coefficients {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = BICUBIC_SUPPORT * filterscale;
    let (mut bounds, mut rows) = (Vec::with_capacity(out_size), Vec::with_capacity(out_size));
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
        let fixed: Vec<i32> = raw
            .iter()
            .map(|&k| {
                let k = if total != 0.0 { k / total } else { k };
                let scaled = k * (1u64 << PRECISION_BITS) as f64;
                (if k < 0.0 { scaled - 0.5 } else { scaled + 0.5 }) as i32
            })
            .collect();
        bounds.push((xmin, xmax));
        rows.push(fixed);
    }
    let stride = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut weights = vec![0; out_size * stride];
    for (at, row) in rows.iter().enumerate() {
        weights[at * stride..at * stride + row.len()].copy_from_slice(row);
    }
    Coefficients {
        bounds,
        weights,
        stride,
    }
}

/// Pillow's rounding and clamping back to 8 bits.
fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Pillow's rounding offset, the accumulators' start: ½ in fixed point.
const HALF: i32 = 1 << (PRECISION_BITS - 1);

/// The part of a resized picture that is kept: output columns and rows.
#[derive(Debug, Clone)]
pub(crate) struct Window {
    pub cols: Range<usize>,
    pub rows: Range<usize>,
}

/// Resamples along rows: rows × cols.len() pixels of `C` channels. src is packed rows of
/// `in_w` pixels.
fn horizontal<const C: usize>(
    src: &[u8],
    in_w: usize,
    rows: Range<usize>,
    cols: Range<usize>,
    c: &Coefficients,
) -> Vec<u8> {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        return unsafe { horizontal_avx2::<C>(src, in_w, rows, cols, c) };
    }
    horizontal_body::<C>(src, in_w, rows, cols, c)
}

/// [`horizontal_body`] two rows at a time: each tap is one 8-lane multiply-add of a pixel's
/// bytes in both rows (the taps and weights of a column are the same in every row), and the
/// 8-bit rounding is done for both pixels at once.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn horizontal_avx2<const C: usize>(
    src: &[u8],
    in_w: usize,
    rows: Range<usize>,
    cols: Range<usize>,
    c: &Coefficients,
) -> Vec<u8> {
    use std::arch::x86_64::*;
    // The kept columns' weights, each repeated in both rows' four lanes, so a tap multiplies
    // straight from memory.
    let wide: Vec<[i32; 2 * PIXEL_LANES]> = c.weights[cols.start * c.stride..cols.end * c.stride]
        .iter()
        .map(|&w| [w; 2 * PIXEL_LANES])
        .collect();
    let (width, row_bytes) = (cols.len(), in_w * C);
    let out_bytes = width * C;
    let mut out = vec![0u8; rows.len() * out_bytes];
    for (pair, y) in out.chunks_mut(2 * out_bytes).zip(rows.step_by(2)) {
        // A last row without a partner is summed as both rows, its copy dropped.
        let (top, bottom) = pair.split_at_mut(out_bytes);
        let upper = &src[y * row_bytes..];
        let lower = if bottom.is_empty() {
            upper
        } else {
            &src[(y + 1) * row_bytes..]
        };
        for (x, px) in cols.clone().zip(0..) {
            let (min, taps) = c.taps(x);
            let at = px * C;
            if (min + taps.len()) * C + PIXEL_LANES - C > lower.len() {
                // The picture's last pixel: its fourth byte would lie past the buffer.
                top[at..at + C].copy_from_slice(&one_pixel::<C>(upper, min, taps)[..C]);
                if !bottom.is_empty() {
                    bottom[at..at + C].copy_from_slice(&one_pixel::<C>(lower, min, taps)[..C]);
                }
                continue;
            }
            let wide = &wide[px * c.stride..px * c.stride + taps.len()];
            let mut acc = _mm256_set1_epi32(HALF);
            for (k, w) in wide.iter().enumerate() {
                let at = (min + k) * C;
                // SAFETY: the check above keeps at..at + 4 inside both rows (upper is no
                // shorter than lower); `w` is 32 bytes.
                let (lanes, w) = unsafe {
                    let one = |row: &[u8]| row.as_ptr().add(at).cast::<u32>().read_unaligned();
                    let both = u64::from(one(upper)) | (u64::from(one(lower)) << 32);
                    (
                        _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(both as i64)),
                        _mm256_loadu_si256(w.as_ptr().cast()),
                    )
                };
                acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(lanes, w));
            }
            let shifted = _mm256_srai_epi32::<{ PRECISION_BITS as i32 }>(acc);
            // Packing works within each 128-bit half: the low half ends as the upper row's
            // bytes, the high half as the lower row's.
            let bytes =
                _mm256_packus_epi16(_mm256_packs_epi32(shifted, shifted), _mm256_setzero_si256());
            let pixel = |half: __m128i| _mm_cvtsi128_si32(half).to_le_bytes();
            top[at..at + C].copy_from_slice(&pixel(_mm256_castsi256_si128(bytes))[..C]);
            if !bottom.is_empty() {
                let high = _mm256_extracti128_si256::<1>(bytes);
                bottom[at..at + C].copy_from_slice(&pixel(high)[..C]);
            }
        }
    }
    out
}

/// One output pixel of the horizontal pass, summed channel by channel.
fn one_pixel<const C: usize>(row: &[u8], min: usize, taps: &[i32]) -> [u8; PIXEL_LANES] {
    let mut acc = [HALF; PIXEL_LANES];
    for (k, &w) in taps.iter().enumerate() {
        let p = &row[(min + k) * C..(min + k + 1) * C];
        for (a, &v) in acc.iter_mut().zip(p) {
            *a += i32::from(v) * w;
        }
    }
    acc.map(clip8)
}

/// Lanes of a pixel's accumulator: RGB is summed as four bytes at a time (the fourth, the next
/// pixel's red, is summed and dropped), one vector multiply per tap.
const PIXEL_LANES: usize = 4;

fn horizontal_body<const C: usize>(
    src: &[u8],
    in_w: usize,
    rows: Range<usize>,
    cols: Range<usize>,
    c: &Coefficients,
) -> Vec<u8> {
    let width = cols.len();
    let mut out = vec![0u8; rows.len() * width * C];
    for (y, out_row) in rows.zip(out.chunks_exact_mut(width * C)) {
        let row = &src[y * in_w * C..];
        for (x, px) in cols.clone().zip(out_row.chunks_exact_mut(C)) {
            let (min, taps) = c.taps(x);
            px.copy_from_slice(&one_pixel::<C>(row, min, taps)[..C]);
        }
    }
    out
}

/// Resamples along columns: output rows `rows` of `stride` bytes each. src holds packed rows
/// of `stride` bytes, its first being input row `first`.
fn vertical(
    src: &[u8],
    stride: usize,
    first: usize,
    rows: Range<usize>,
    c: &Coefficients,
) -> Vec<u8> {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        return unsafe { vertical_avx2(src, stride, first, rows, c) };
    }
    vertical_body(src, stride, first, rows, c)
}

/// [`vertical_body`] built for AVX2: eight 32-bit sums per instruction along the row.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn vertical_avx2(
    src: &[u8],
    stride: usize,
    first: usize,
    rows: Range<usize>,
    c: &Coefficients,
) -> Vec<u8> {
    vertical_body(src, stride, first, rows, c)
}

#[inline(always)]
fn vertical_body(
    src: &[u8],
    stride: usize,
    first: usize,
    rows: Range<usize>,
    c: &Coefficients,
) -> Vec<u8> {
    let mut out = vec![0u8; stride * rows.len()];
    let mut acc = vec![0i32; stride];
    for (y, out_row) in rows.zip(out.chunks_exact_mut(stride)) {
        let (min, taps) = c.taps(y);
        acc.fill(HALF);
        for (k, &w) in taps.iter().enumerate() {
            let at = (min + k - first) * stride;
            acc.iter_mut()
                .zip(&src[at..at + stride])
                .for_each(|(a, &v)| *a += i32::from(v) * w);
        }
        out_row
            .iter_mut()
            .zip(&acc)
            .for_each(|(o, &a)| *o = clip8(a));
    }
    out
}

/// Pillow's `Image.resize(size, BICUBIC)` on packed 8-bit pixels of `C` channels, computing
/// only the pixels of `keep`: what a centre crop throws away is never resampled, and each kept
/// pixel is the very value Pillow computes for it.
fn resize_packed<const C: usize>(
    src: &[u8],
    (in_w, in_h): (u32, u32),
    (w, h): (u32, u32),
    keep: Window,
) -> Vec<u8> {
    let (in_w, in_h, w, h) = (in_w as usize, in_h as usize, w as usize, h as usize);
    let vert = (h != in_h).then(|| coefficients(in_h, h));
    // The input rows the vertical pass reads; each output row's taps start no earlier and end
    // no later than the next one's.
    let needed = match &vert {
        Some(c) if !keep.rows.is_empty() => {
            let (first, _) = c.bounds[keep.rows.start];
            let (last, len) = c.bounds[keep.rows.end - 1];
            first..last + len
        }
        _ => keep.rows.clone(),
    };
    let mid = if w != in_w {
        horizontal::<C>(
            src,
            in_w,
            needed.clone(),
            keep.cols.clone(),
            &coefficients(in_w, w),
        )
    } else {
        needed
            .clone()
            .flat_map(|y| &src[(y * in_w + keep.cols.start) * C..(y * in_w + keep.cols.end) * C])
            .copied()
            .collect()
    };
    match vert {
        Some(c) => vertical(&mid, keep.cols.len() * C, needed.start, keep.rows, &c),
        None => mid,
    }
}

/// Pillow's `Image.resize(size, BICUBIC)` for 8-bit RGB.
pub fn resize_bicubic(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    let whole = Window {
        cols: 0..w as usize,
        rows: 0..h as usize,
    };
    let buf = resize_packed::<3>(img.as_raw(), img.dimensions(), (w, h), whole);
    RgbImage::from_raw(w, h, buf).expect("passes produce w × h pixels")
}

/// The `keep` window of an RGB picture resized to (w, h).
pub(crate) fn resize_rgb_window(img: &RgbImage, (w, h): (u32, u32), keep: Window) -> RgbImage {
    let (kw, kh) = (keep.cols.len() as u32, keep.rows.len() as u32);
    let buf = resize_packed::<3>(img.as_raw(), img.dimensions(), (w, h), keep);
    RgbImage::from_raw(kw, kh, buf).expect("passes produce the window's pixels")
}

/// Pillow's resize of a picture with alpha: premultiplied ("RGBa") while resampling, so
/// transparent pixels do not bleed their colour, then un-premultiplied; alpha is then dropped
/// as `convert("RGB")` drops it. Only the `keep` window is made.
pub(crate) fn resize_with_alpha(img: &RgbaImage, (w, h): (u32, u32), keep: Window) -> RgbImage {
    let mut buf = img.as_raw().clone();
    for px in buf.chunks_exact_mut(4) {
        let a = px[3] as u32;
        for v in &mut px[..3] {
            *v = mul_div_255(*v as u32, a);
        }
    }
    let (kw, kh) = (keep.cols.len() as u32, keep.rows.len() as u32);
    let buf = resize_packed::<4>(&buf, img.dimensions(), (w, h), keep);
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
    RgbImage::from_raw(kw, kh, rgb).expect("passes produce the window's pixels")
}

/// Pillow's MULDIV255: a·b/255, rounded.
fn mul_div_255(a: u32, b: u32) -> u8 {
    let t = a * b + 128;
    (((t >> 8) + t) >> 8) as u8
}

/// Pillow's nearest-neighbour resize, which it uses for palette pictures whatever filter is
/// asked for: source pixel ⌊(x + ½)·scale⌋.
pub(crate) fn resize_nearest(img: &RgbImage, w: u32, h: u32) -> RgbImage {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn picture(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([
                (x * 7 + y * 3) as u8,
                (x * x + y) as u8,
                ((x ^ y) * 5) as u8,
            ])
        })
    }

    /// A window equals the same pixels of the whole resize, cropped after: shrinking either
    /// side, enlarging, and a side left as it is (no pass along it), up to the last pixel.
    #[test]
    fn a_window_equals_the_whole_resize_cropped() {
        for (src, dims, keep) in [
            ((50, 37), (30, 22), (3..25, 0..22)),
            ((37, 50), (22, 30), (0..22, 5..27)),
            ((20, 15), (30, 22), (4..26, 0..22)),
            ((40, 22), (30, 22), (0..30, 1..21)),
            ((22, 40), (22, 30), (21..22, 29..30)),
        ] {
            let img = picture(src.0, src.1);
            let whole = resize_bicubic(&img, dims.0, dims.1);
            let window = Window {
                cols: keep.0.clone(),
                rows: keep.1.clone(),
            };
            let got = resize_rgb_window(&img, dims, window);
            let (left, top) = (keep.0.start as u32, keep.1.start as u32);
            let (w, h) = (keep.0.len() as u32, keep.1.len() as u32);
            let want = image::imageops::crop_imm(&whole, left, top, w, h).to_image();
            assert_eq!(got, want, "{src:?} → {dims:?}, window {keep:?}");
        }
    }

    /// The vector pass (two rows at a time) equals the scalar one: odd and even row counts,
    /// three and four channels, windows that end at the last column.
    #[test]
    fn the_vector_horizontal_pass_equals_the_scalar_one() {
        for (in_w, rows, out_w, cols) in [
            (50, 0..7, 30, 0..30),
            (50, 3..11, 31, 5..31),
            (17, 0..1, 40, 12..40),
            (64, 2..5, 13, 0..13),
            (50, 4..11, 31, 5..31),
        ] {
            let img = picture(in_w as u32, 11);
            let c = coefficients(in_w, out_w);
            let three = horizontal::<3>(img.as_raw(), in_w, rows.clone(), cols.clone(), &c);
            let want = horizontal_body::<3>(img.as_raw(), in_w, rows.clone(), cols.clone(), &c);
            assert_eq!(
                three, want,
                "RGB {in_w}→{out_w}, rows {rows:?}, cols {cols:?}"
            );
            let rgba = image::DynamicImage::ImageRgb8(img).to_rgba8();
            let four = horizontal::<4>(rgba.as_raw(), in_w, rows.clone(), cols.clone(), &c);
            let want = horizontal_body::<4>(rgba.as_raw(), in_w, rows.clone(), cols.clone(), &c);
            assert_eq!(
                four, want,
                "RGBA {in_w}→{out_w}, rows {rows:?}, cols {cols:?}"
            );
        }
    }
}
