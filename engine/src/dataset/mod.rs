//! Image datasets as the study used them, each read by the loader its format needs:
//! an image folder (class = sub-folder), Flickr30k (images, captions optional), and CIFAR-10 /
//! CIFAR-100 in their binary distribution, Hugging Face parquet datasets, and webdataset tars. A dataset is a list of [`Example`]s; pictures are
//! decoded one at a time, so an unreadable file is reported, not fatal.

pub mod cifar;
pub mod folder;
pub mod parquet;
pub mod webdataset;

use std::path::{Path, PathBuf};

use std::sync::Arc;

use image::{DynamicImage, RgbImage};

use super::clip::decode::{self, Decoded};
use super::error::{Error, Result};
use super::fsutil;

/// Where an example's picture is.
#[derive(Debug, Clone, PartialEq)]
pub enum Picture {
    /// An image file.
    File(PathBuf),
    /// Pixels already in memory (CIFAR's 32×32 records).
    Pixels(RgbImage),
    /// An encoded picture held in memory (a parquet row's image bytes).
    Encoded(Arc<[u8]>),
    /// An encoded picture inside a tar (webdataset), read when it is decoded.
    InTar(webdataset::TarMember),
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
    /// The picture, or an error naming where it came from and why it could not be read.
    pub fn decode(&self) -> Result<Decoded> {
        match &self.picture {
            Picture::Pixels(img) => Ok(DynamicImage::ImageRgb8(img.clone()).into()),
            Picture::File(path) => decode::open(path),
            Picture::Encoded(bytes) => decode::decode_bytes(bytes).map_err(|why| {
                Error::invalid(
                    "image",
                    format!(
                        "row {} is not a readable image ({why}); it is skipped",
                        self.source_index
                    ),
                )
            }),
            Picture::InTar(m) => {
                let bytes = m
                    .read()
                    .map_err(|e| Error::io("could not read", m.tar.as_ref(), e))?;
                decode::decode_bytes(&bytes).map_err(|why| {
                    Error::bad_file(
                        m.tar.as_ref(),
                        format!(
                            "member {} is not a readable image ({why}); it is skipped",
                            m.member
                        ),
                    )
                })
            }
        }
    }

    /// Where the picture is, for items.jsonl: its file, if it has one.
    pub fn path(&self) -> Option<&Path> {
        match &self.picture {
            Picture::File(p) => Some(p),
            _ => None,
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
    Parquet,
    Webdataset,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Folder => "folder",
            Kind::Flickr30k => "flickr30k",
            Kind::Cifar10 => "cifar10",
            Kind::Cifar100 => "cifar100",
            Kind::Parquet => "parquet",
            Kind::Webdataset => "webdataset",
        }
    }
}

/// Which half of a dataset with a train/test split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Train,
    Test,
}

impl Split {
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "train" => Ok(Split::Train),
            "test" => Ok(Split::Test),
            _ => Err(Error::invalid(
                "--split",
                format!("'{s}': use train or test"),
            )),
        }
    }
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
        "parquet" => Kind::Parquet,
        "webdataset" => Kind::Webdataset,
        other => {
            return Err(Error::invalid(
                "--dataset",
                format!(
                    "'{other}' is not a dataset kind: use folder, flickr30k, cifar10, cifar100, parquet or webdataset"
                ),
            ));
        }
    };
    Ok((kind, fsutil::expand_home(path)))
}

/// Reads a dataset's examples (the test split for CIFAR unless asked otherwise).
pub fn load(kind: Kind, path: &Path, split: Split) -> Result<Vec<Example>> {
    match kind {
        Kind::Folder => folder::image_folder(path),
        Kind::Flickr30k => folder::flickr30k(path),
        Kind::Cifar10 => cifar::cifar10(path, split),
        Kind::Cifar100 => cifar::cifar100(path, split),
        Kind::Parquet => parquet::parquet(path, split),
        Kind::Webdataset => webdataset::webdataset(path),
    }
}

#[cfg(test)]
mod tests;
