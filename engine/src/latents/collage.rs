//! Collages: a grid of a latent's top images, each with its activation written under it.

use std::path::{Path, PathBuf};

use font8x8::UnicodeFonts;
use image::{imageops, DynamicImage, Rgb, RgbImage};

use super::index::LatentStats;
use crate::dataset::{self, Example, Split};
use crate::demo;
use crate::error::{Error, Result};
use crate::fsutil;
use crate::set::{EmbeddingSet, Item};

/// Side of one tile, in pixels.
pub const TILE: u32 = 128;
/// Height of the caption strip under each tile.
const CAPTION: u32 = 14;
/// Gap between tiles.
const GAP: u32 = 4;
pub const COLUMNS: u32 = 4;
const BACKGROUND: [u8; 3] = [24, 24, 28];
const INK: [u8; 3] = [235, 235, 235];
/// Glyph size of font8x8.
const GLYPH: u32 = 8;

/// Where pictures of a set's rows come from.
pub enum Pictures {
    /// The demo world draws them: scene `first + row` of `seed`.
    Demo { seed: u64, first: usize },
    /// Image files named by the items' `path` (relative paths are read from `root`).
    Files { items: Vec<Item>, root: PathBuf },
    /// Pictures inside the source dataset (CIFAR records, parquet rows), read again from it.
    Dataset {
        items: Vec<Item>,
        examples: Vec<Example>,
    },
}

impl Pictures {
    pub fn for_set(set: &EmbeddingSet) -> Result<Self> {
        if demo::is_demo(set) {
            let (seed, first) = demo::scene_numbering(set);
            return Ok(Pictures::Demo { seed, first });
        }
        let items = set.items()?;
        if items.iter().all(|i| i.path.is_none()) {
            return Self::from_source(set, items);
        }
        let root = set
            .meta
            .source
            .split_once(':')
            .map(|(_, p)| PathBuf::from(p))
            .unwrap_or_default();
        Ok(Pictures::Files { items, root })
    }

    fn from_source(set: &EmbeddingSet, items: Vec<Item>) -> Result<Self> {
        let no_pictures = |why: String| {
            Error::invalid(
                "set",
                format!(
                    "set '{}' keeps no pictures ({why}), so its collages cannot be drawn",
                    set.name()
                ),
            )
        };
        let (kind, path) = dataset::parse_spec(&set.meta.source).map_err(|_| {
            no_pictures(format!("its source '{}' is not a dataset", set.meta.source))
        })?;
        let split = match set.meta.split.as_deref() {
            Some(s) => Split::parse(s)?,
            None => Split::Test,
        };
        let examples = dataset::load(kind, &path, split)
            .map_err(|e| no_pictures(format!("its dataset could not be read again: {e}")))?;
        Ok(Pictures::Dataset { items, examples })
    }

    /// Row `row`'s picture as it was embedded, if it can be read.
    pub fn picture(&self, row: usize) -> Option<RgbImage> {
        self.decoded(row).map(|img| img.to_rgb8())
    }

    /// Row `row`'s picture as decoded, alpha and all, if it can be read.
    pub fn decoded(&self, row: usize) -> Option<DynamicImage> {
        match self {
            Pictures::Demo { seed, first } => Some(DynamicImage::ImageRgb8(demo::render::render(
                &demo::scene_of(*seed, first + row),
            ))),
            Pictures::Files { items, root } => items
                .get(row)
                .and_then(|i| i.path.as_ref())
                .and_then(|p| image::open(root.join(p)).ok()),
            Pictures::Dataset { items, examples } => items
                .get(row)
                .and_then(|i| examples.get(i.source_index?))
                .and_then(|ex| ex.decode().ok())
                .map(|d| d.image),
        }
    }

    /// Row `row` as a TILE×TILE picture (a grey tile with a cross when it cannot be read).
    pub fn tile(&self, row: usize) -> RgbImage {
        match self.picture(row) {
            Some(p) if p.dimensions() == (TILE, TILE) => p,
            Some(p) => square_thumbnail(&p),
            None => unreadable_tile(),
        }
    }
}

/// Centre-crops to a square, then resizes to TILE.
fn square_thumbnail(img: &RgbImage) -> RgbImage {
    let side = img.width().min(img.height());
    let (x, y) = ((img.width() - side) / 2, (img.height() - side) / 2);
    let square = imageops::crop_imm(img, x, y, side, side).to_image();
    imageops::resize(&square, TILE, TILE, imageops::FilterType::Triangle)
}

fn unreadable_tile() -> RgbImage {
    RgbImage::from_fn(TILE, TILE, |x, y| {
        if x == y || x + y == TILE - 1 {
            Rgb([200, 60, 60])
        } else {
            Rgb([90, 90, 90])
        }
    })
}

/// Writes `text` at (x, y) in the 8×8 bitmap font.
fn draw_text(img: &mut RgbImage, x: u32, y: u32, text: &str) {
    for (i, ch) in text.chars().enumerate() {
        let Some(glyph) = font8x8::BASIC_FONTS.get(ch) else {
            continue;
        };
        for (gy, bits) in glyph.iter().enumerate() {
            for gx in 0..GLYPH {
                let (px, py) = (x + i as u32 * GLYPH + gx, y + gy as u32);
                if bits & (1 << gx) != 0 && px < img.width() && py < img.height() {
                    img.put_pixel(px, py, Rgb(INK));
                }
            }
        }
    }
}

/// The collage of a latent's top rows: up to `COLUMNS` a row, activation under each.
pub fn collage(stats: &LatentStats, pictures: &Pictures) -> RgbImage {
    let n = stats.top.len().max(1) as u32;
    let cols = n.min(COLUMNS);
    let rows = n.div_ceil(COLUMNS);
    let (cell_w, cell_h) = (TILE + GAP, TILE + CAPTION + GAP);
    let mut img = RgbImage::from_pixel(cols * cell_w + GAP, rows * cell_h + GAP, Rgb(BACKGROUND));
    for (i, &(activation, row)) in stats.top.iter().enumerate() {
        let (c, r) = (i as u32 % COLUMNS, i as u32 / COLUMNS);
        let (x, y) = (GAP + c * cell_w, GAP + r * cell_h);
        imageops::replace(&mut img, &pictures.tile(row as usize), x as i64, y as i64);
        draw_text(
            &mut img,
            x + 2,
            y + TILE + (CAPTION - GLYPH) / 2,
            &format!("{activation:.3}"),
        );
    }
    img
}

/// The cached collage file of latent `j` in `dir`, drawn when missing.
pub fn collage_file<'p>(
    dir: &Path,
    j: usize,
    stats: &LatentStats,
    pictures: impl FnOnce() -> Result<&'p Pictures>,
) -> Result<PathBuf> {
    let path = dir.join(format!("latent_{j}.png"));
    if !path.is_file() {
        fsutil::create_dir(dir)?;
        fsutil::write_png(&path, &collage(stats, pictures()?))?;
    }
    Ok(path)
}
