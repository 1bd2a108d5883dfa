//! webdataset tar files, as img2dataset writes them: each tar holds samples whose members
//! share a key (the member's path up to the first dot of its name): `KEY.jpg` (or png, webp)
//! the picture, `KEY.txt` its caption, `KEY.json` its metadata. `webdataset:DIR` reads every
//! `.tar` in DIR in name order; `webdataset:/data/{00000..00127}.tar` a brace pattern.
//! Pictures stay in the tar and are read from their offset when embedded.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Example, Picture};
use crate::embed::slices::{Place, Slice};
use crate::error::{Error, Result};

const PICTURE_EXTENSIONS: [&str; 4] = ["jpg", "jpeg", "png", "webp"];
/// A tar block: headers and data are padded to it.
const BLOCK: u64 = 512;
/// The most bytes read from a text member (caption, class, metadata).
const MAX_TEXT_BYTES: u64 = 1 << 16;

/// Where a picture is inside a tar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarMember {
    pub tar: Arc<PathBuf>,
    pub member: String,
    /// The member's data: its first byte in the tar, and its length.
    pub offset: u64,
    pub len: u64,
}

impl TarMember {
    pub fn read(&self) -> std::io::Result<Vec<u8>> {
        use std::io::{Seek, SeekFrom};
        let mut file = std::fs::File::open(self.tar.as_ref())?;
        file.seek(SeekFrom::Start(self.offset))?;
        let mut bytes = Vec::with_capacity(self.len as usize);
        file.take(self.len).read_to_end(&mut bytes)?;
        if (bytes.len() as u64) < self.len {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the tar ends inside this member",
            ));
        }
        Ok(bytes)
    }
}

/// Every sample with a picture, in tar order then member order.
pub fn webdataset(spec: &Path) -> Result<Vec<Example>> {
    let examples = samples(tar_files(spec)?)?;
    if examples.is_empty() {
        return Err(Error::bad_file(
            spec,
            format!(
                "holds no samples with a picture ({})",
                PICTURE_EXTENSIONS.join(", ")
            ),
        ));
    }
    Ok(examples)
}

/// The samples of whole tars `tars[slice.range(tars.len())]` only, so that each slice reads
/// its own tars (their source indices count from 0 within the slice), with where they lie.
pub fn slice_of(spec: &Path, slice: Slice) -> Result<(Vec<Example>, Place)> {
    let tars = tar_files(spec)?;
    let range = slice.range(tars.len());
    let examples = samples(tars[range.clone()].to_vec())?;
    Ok((examples, Place::tars(range, tars.len())))
}

fn samples(tars: Vec<PathBuf>) -> Result<Vec<Example>> {
    let mut examples = Vec::new();
    for tar in tars {
        read_tar(&Arc::new(tar), &mut examples)?;
    }
    Ok(examples)
}

/// The tars of a folder (sorted) or of a brace pattern (in the pattern's order).
fn tar_files(spec: &Path) -> Result<Vec<PathBuf>> {
    let text = spec.to_string_lossy();
    if text.contains('{') {
        let tars: Vec<PathBuf> = expand_braces(&text)?
            .into_iter()
            .map(PathBuf::from)
            .collect();
        if let Some(missing) = tars.iter().find(|t| !t.is_file()) {
            return Err(Error::bad_file(
                missing,
                "is in the pattern but is not a file",
            ));
        }
        return Ok(tars);
    }
    if spec.is_file() {
        return Ok(vec![spec.to_path_buf()]);
    }
    let entries = std::fs::read_dir(spec).map_err(|e| Error::io("could not list", spec, e))?;
    let mut tars: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "tar"))
        .collect();
    tars.sort();
    if tars.is_empty() {
        return Err(Error::bad_file(spec, "holds no .tar files"));
    }
    Ok(tars)
}

/// Expands `{a..b}` (numbers, zero-padded to a's width) and `{x,y,z}` groups, left to right.
pub fn expand_braces(pattern: &str) -> Result<Vec<String>> {
    let Some(open) = pattern.find('{') else {
        return Ok(vec![pattern.to_string()]);
    };
    let bad = || {
        Error::invalid(
            "--dataset",
            format!("'{pattern}': a brace group is {{00000..00127}} or {{a,b,c}}"),
        )
    };
    let close = pattern[open..]
        .find('}')
        .map(|c| open + c)
        .ok_or_else(bad)?;
    let (head, body, tail) = (
        &pattern[..open],
        &pattern[open + 1..close],
        &pattern[close + 1..],
    );
    let choices: Vec<String> = match body.split_once("..") {
        Some((a, b)) => {
            let (from, to): (u64, u64) =
                (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
            if from > to {
                return Err(bad());
            }
            (from..=to)
                .map(|n| format!("{n:0width$}", width = a.len()))
                .collect()
        }
        None => body.split(',').map(str::to_string).collect(),
    };
    let tails = expand_braces(tail)?;
    let mut out = Vec::new();
    for c in &choices {
        for rest in &tails {
            out.push(format!("{head}{c}{rest}"));
        }
    }
    Ok(out)
}

/// A member's key and extension: `dir/000123.jpg` → (`dir/000123`, `jpg`).
fn key_and_extension(member: &str) -> (&str, &str) {
    let name_start = member.rfind('/').map_or(0, |i| i + 1);
    match member[name_start..].find('.') {
        Some(dot) => (&member[..name_start + dot], &member[name_start + dot + 1..]),
        None => (member, ""),
    }
}

/// One sample's members, as they are read.
#[derive(Default)]
struct Sample {
    key: String,
    picture: Option<TarMember>,
    caption: Option<String>,
    /// The `.json` metadata's caption, where no `.txt` gives one.
    json_caption: Option<String>,
    label: Option<String>,
}

impl Sample {
    /// The example, if the sample has a picture; its source index is `index`.
    fn example(self, index: usize) -> Option<Example> {
        Some(Example {
            picture: Picture::InTar(self.picture?),
            label: self.label,
            caption: self.caption.or(self.json_caption),
            source_index: index,
        })
    }
}

/// The samples of one tar, appended to `out` (their source indices continue `out`'s count).
fn read_tar(tar: &Arc<PathBuf>, out: &mut Vec<Example>) -> Result<()> {
    let file = std::fs::File::open(tar.as_ref())
        .map_err(|e| Error::io("could not open", tar.as_ref(), e))?;
    let mut archive = tar::Archive::new(file);
    let damaged = |e: std::io::Error| {
        Error::bad_file(
            tar.as_ref(),
            format!("is not a readable tar ({e}); re-download it or leave it out"),
        )
    };
    let mut sample = Sample::default();
    // Where the archive must still run to: past the last member's data (in whole blocks) and
    // the two zero blocks that end a tar. A tar cut short simply stops listing members, so
    // its length is what tells.
    let mut end = 2 * BLOCK;
    let mut last = String::new();
    for entry in archive.entries_with_seek().map_err(damaged)? {
        let mut entry = entry.map_err(damaged)?;
        end = entry.raw_file_position() + entry.size().div_ceil(BLOCK) * BLOCK + 2 * BLOCK;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let member = entry
            .path()
            .map_err(damaged)?
            .to_string_lossy()
            .into_owned();
        last.clone_from(&member);
        let (key, ext) = key_and_extension(&member);
        if key != sample.key {
            let done = std::mem::take(&mut sample);
            out.extend(done.example(out.len()));
            sample.key = key.to_string();
        }
        let ext = ext.to_ascii_lowercase();
        // Text that is not UTF-8 (or cut inside a character at the limit) is read lossily: a
        // caption is no reason to lose the picture.
        let mut text = || -> Result<String> {
            let mut bytes = Vec::new();
            (&mut entry)
                .take(MAX_TEXT_BYTES)
                .read_to_end(&mut bytes)
                .map_err(damaged)?;
            Ok(String::from_utf8_lossy(&bytes).trim().to_string())
        };
        match ext.as_str() {
            "txt" => sample.caption = Some(text()?).filter(|c| !c.is_empty()),
            "cls" => sample.label = Some(text()?).filter(|l| !l.is_empty()),
            "json" => {
                // Metadata that is not JSON is not a reason to drop the picture.
                let meta: serde_json::Value = serde_json::from_str(&text()?).unwrap_or_default();
                sample.json_caption = meta["caption"].as_str().map(str::to_string);
            }
            e if PICTURE_EXTENSIONS.contains(&e) => {
                sample.picture = Some(TarMember {
                    tar: tar.clone(),
                    member: member.clone(),
                    offset: entry.raw_file_position(),
                    len: entry.size(),
                });
            }
            _ => {}
        }
    }
    out.extend(sample.example(out.len()));
    let len = std::fs::metadata(tar.as_ref())
        .map_err(|e| Error::io("could not read", tar.as_ref(), e))?
        .len();
    if len < end {
        return Err(Error::bad_file(
            tar.as_ref(),
            format!(
                "is cut short ({len} bytes, where {} ends at {end}): the samples after it are lost; re-download the tar, or move it out of the dataset",
                if last.is_empty() { "its first member" } else { last.as_str() }
            ),
        ));
    }
    Ok(())
}
