//! Image folders and Flickr30k.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{Example, Picture};
use crate::error::{Error, Result};
use crate::fsutil;

const IMAGE_EXTENSIONS: [&str; 6] = ["jpg", "jpeg", "png", "bmp", "gif", "webp"];
/// Where the official Flickr30k archive puts its images, and its captions file.
const FLICKR_IMAGES: &str = "flickr30k-images";
const FLICKR_TOKENS: &str = "results_20130124.token";
/// The Kaggle copy's captions: CSV with `image` and `caption` columns.
const FLICKR_CSV: &str = "captions.txt";

fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Image files below `root`, recursively, in a stable order.
fn image_files(root: &Path) -> Result<Vec<PathBuf>> {
    if !root.is_dir() {
        return Err(Error::bad_file(root, "is not a folder of images"));
    }
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file() && is_image(e.path()))
        .map(|e| e.into_path())
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::bad_file(
            root,
            format!("holds no images ({})", IMAGE_EXTENSIONS.join(", ")),
        ));
    }
    Ok(files)
}

/// Every image below `root`; an image's class is the sub-folder of `root` it sits in.
pub fn image_folder(root: &Path) -> Result<Vec<Example>> {
    Ok(image_files(root)?
        .into_iter()
        .enumerate()
        .map(|(i, path)| {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            let label = (rel.components().count() > 1)
                .then(|| {
                    rel.components()
                        .next()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                })
                .flatten();
            Example {
                picture: Picture::File(path),
                label,
                caption: None,
                source_index: i,
            }
        })
        .collect())
}

/// Flickr30k: its images (in `flickr30k-images/` or the folder itself) with their first
/// caption, when a captions file is there.
pub fn flickr30k(root: &Path) -> Result<Vec<Example>> {
    let images = if root.join(FLICKR_IMAGES).is_dir() {
        root.join(FLICKR_IMAGES)
    } else {
        root.to_path_buf()
    };
    let captions = read_captions(root)?;
    Ok(image_files(&images)?
        .into_iter()
        .enumerate()
        .map(|(i, path)| {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Example {
                caption: captions.get(&name).cloned(),
                picture: Picture::File(path),
                label: None,
                source_index: i,
            }
        })
        .collect())
}

/// Image file name → its first caption, from whichever captions file the folder has.
fn read_captions(root: &Path) -> Result<HashMap<String, String>> {
    let mut out = HashMap::new();
    let tokens = root.join(FLICKR_TOKENS);
    if tokens.is_file() {
        // "1000092795.jpg#0<TAB>Two young guys with shaggy hair ..."
        for line in fsutil::read_text(&tokens)?.lines() {
            if let Some((key, caption)) = line.split_once('\t') {
                let name = key.split('#').next().unwrap_or(key);
                out.entry(name.to_string())
                    .or_insert_with(|| caption.trim().to_string());
            }
        }
        return Ok(out);
    }
    let csv_path = root.join(FLICKR_CSV);
    if csv_path.is_file() {
        let mut reader = csv::Reader::from_path(&csv_path)
            .map_err(|e| Error::bad_file(&csv_path, e.to_string()))?;
        let headers = reader
            .headers()
            .map_err(|e| Error::bad_file(&csv_path, e.to_string()))?
            .clone();
        let col = |name: &str| headers.iter().position(|h| h.trim() == name);
        let (Some(ic), Some(cc)) = (col("image"), col("caption")) else {
            return Err(Error::bad_file(
                &csv_path,
                "needs `image` and `caption` columns",
            ));
        };
        for record in reader.records() {
            let record = record.map_err(|e| Error::bad_file(&csv_path, e.to_string()))?;
            if let (Some(image), Some(caption)) = (record.get(ic), record.get(cc)) {
                out.entry(image.to_string())
                    .or_insert_with(|| caption.trim().to_string());
            }
        }
    }
    Ok(out)
}
