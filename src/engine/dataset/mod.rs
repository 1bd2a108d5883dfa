//! Image datasets as the study used them, each read by the loader its format needs:
//! an image folder (class = sub-folder), Flickr30k (images, captions optional), and CIFAR-10 /
//! CIFAR-100 in their binary distribution. A dataset is a list of [`Example`]s; pictures are
//! decoded one at a time, so an unreadable file is reported, not fatal.

pub mod cifar;
pub mod folder;

use std::path::{Path, PathBuf};

use image::RgbImage;

use super::error::{Error, Result};

/// Where an example's picture is.
#[derive(Debug, Clone, PartialEq)]
pub enum Picture {
    /// An image file.
    File(PathBuf),
    /// Pixels already in memory (CIFAR's 32×32 records).
    Pixels(RgbImage),
}

/// One image of a dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub picture: Picture,
    /// Class name, where the dataset has classes.
    pub label: Option<String>,
    pub caption: Option<String>,
    /// Position in the source (record number, or file order), for items.jsonl.
    pub source_index: usize,
}

impl Example {
    /// The picture as RGB, or an error naming the file and why it could not be read.
    pub fn decode(&self) -> Result<RgbImage> {
        match &self.picture {
            Picture::Pixels(img) => Ok(img.clone()),
            Picture::File(path) => image::open(path).map(|img| img.to_rgb8()).map_err(|e| {
                Error::bad_file(
                    path,
                    format!("is not a readable image ({e}); it will be skipped"),
                )
            }),
        }
    }
}

/// The kinds `saelab embed --dataset KIND:PATH` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Folder,
    Flickr30k,
    Cifar10,
    Cifar100,
}

/// Which half of a dataset with a train/test split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Train,
    Test,
}

/// Parses `KIND:PATH`.
pub fn parse_spec(spec: &str) -> Result<(Kind, PathBuf)> {
    let (kind, path) = spec.split_once(':').ok_or_else(|| {
        Error::invalid(
            "--dataset",
            format!("'{spec}' must be KIND:PATH, e.g. cifar10:~/data/cifar-10-batches-bin"),
        )
    })?;
    let kind = match kind {
        "folder" => Kind::Folder,
        "flickr30k" => Kind::Flickr30k,
        "cifar10" => Kind::Cifar10,
        "cifar100" => Kind::Cifar100,
        other => {
            return Err(Error::invalid(
                "--dataset",
                format!(
                    "'{other}' is not a dataset kind: use folder, flickr30k, cifar10 or cifar100"
                ),
            ));
        }
    };
    Ok((kind, PathBuf::from(path)))
}

/// Reads a dataset's examples (the test split for CIFAR unless asked otherwise).
pub fn load(kind: Kind, path: &Path, split: Split) -> Result<Vec<Example>> {
    match kind {
        Kind::Folder => folder::image_folder(path),
        Kind::Flickr30k => folder::flickr30k(path),
        Kind::Cifar10 => cifar::cifar10(path, split),
        Kind::Cifar100 => cifar::cifar100(path, split),
    }
}

#[cfg(test)]
mod tests;
