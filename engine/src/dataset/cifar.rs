//! CIFAR-10 and CIFAR-100 in their binary distribution.
//!
//! CIFAR-10 (`cifar-10-batches-bin/`): `data_batch_1..5.bin` and `test_batch.bin`, records of
//! 1 label byte then 3,072 pixel bytes (1,024 red, 1,024 green, 1,024 blue, row-major 32×32);
//! class names in `batches.meta.txt`. CIFAR-100 (`cifar-100-binary/`): `train.bin` and
//! `test.bin`, records of a coarse and a fine label byte then the same pixels; fine class
//! names in `fine_label_names.txt`.

use std::path::Path;

use image::{Rgb, RgbImage};

use super::{Example, Picture, Split};
use crate::error::{Error, Result};
use crate::fsutil;

const SIDE: u32 = 32;
const PIXELS: usize = (SIDE * SIDE) as usize;
const IMAGE_BYTES: usize = 3 * PIXELS;

/// Class names, one a line (blank lines dropped), with underscores read as spaces.
fn class_names(path: &Path) -> Result<Vec<String>> {
    let names: Vec<String> = fsutil::read_text(path)?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| l.replace('_', " "))
        .collect();
    if names.is_empty() {
        return Err(Error::bad_file(path, "lists no class names"));
    }
    Ok(names)
}

/// Reads records of `label_bytes` label bytes then a 32×32 planar image; the label used is
/// the last label byte (CIFAR-100's fine label).
fn records(
    path: &Path,
    label_bytes: usize,
    names: &[String],
    first_index: usize,
) -> Result<Vec<Example>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io("could not read", path, e))?;
    let record = label_bytes + IMAGE_BYTES;
    if bytes.is_empty() || bytes.len() % record != 0 {
        return Err(Error::bad_file(
            path,
            format!("is {} bytes, not a whole number of {record}-byte CIFAR records: is it truncated, or the other CIFAR?", bytes.len()),
        ));
    }
    bytes
        .chunks(record)
        .enumerate()
        .map(|(i, r)| {
            let label = r[label_bytes - 1] as usize;
            let name = names.get(label).ok_or_else(|| {
                Error::bad_file(
                    path,
                    format!(
                        "record {i} has label {label}, but there are {} class names",
                        names.len()
                    ),
                )
            })?;
            let px = &r[label_bytes..];
            let img = RgbImage::from_fn(SIDE, SIDE, |x, y| {
                let p = (y * SIDE + x) as usize;
                Rgb([px[p], px[PIXELS + p], px[2 * PIXELS + p]])
            });
            Ok(Example {
                picture: Picture::Pixels(img),
                label: Some(name.clone()),
                caption: None,
                source_index: first_index + i,
            })
        })
        .collect()
}

fn need(dir: &Path, file: &str, what: &str) -> Result<std::path::PathBuf> {
    let path = dir.join(file);
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::bad_file(
            path,
            format!("is missing: point at the folder of the {what} binary distribution"),
        ))
    }
}

pub fn cifar10(dir: &Path, split: Split) -> Result<Vec<Example>> {
    let names = class_names(&need(dir, "batches.meta.txt", "CIFAR-10")?)?;
    let files: Vec<String> = match split {
        Split::Train => (1..=5).map(|i| format!("data_batch_{i}.bin")).collect(),
        Split::Test => vec!["test_batch.bin".into()],
    };
    let mut out = Vec::new();
    for f in files {
        let batch = records(&need(dir, &f, "CIFAR-10")?, 1, &names, out.len())?;
        out.extend(batch);
    }
    Ok(out)
}

pub fn cifar100(dir: &Path, split: Split) -> Result<Vec<Example>> {
    let names = class_names(&need(dir, "fine_label_names.txt", "CIFAR-100")?)?;
    let file = match split {
        Split::Train => "train.bin",
        Split::Test => "test.bin",
    };
    records(&need(dir, file, "CIFAR-100")?, 2, &names, 0)
}
