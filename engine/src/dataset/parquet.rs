//! Hugging Face parquet datasets, in the `uoft-cs/cifar10` and `uoft-cs/cifar100` layout: an
//! image column of structs `{bytes, path}` and an integer label column whose class names the
//! file's `huggingface` metadata lists (`info.features.COLUMN.names`). PATH is one `.parquet`
//! file, or a folder whose `train-*`/`test-*` files (searched recursively) make the splits.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::{Field, Row};

use super::{Example, Picture, Split};
use crate::error::{Error, Result};

/// Image columns, in order of preference.
const IMAGE_COLUMNS: [&str; 3] = ["img", "image", "images"];
/// Label columns, in order of preference (CIFAR-100's fine label before its coarse one).
const LABEL_COLUMNS: [&str; 4] = ["label", "fine_label", "labels", "coarse_label"];
/// The key under which `datasets` stores its features in the parquet metadata.
const HF_METADATA_KEY: &str = "huggingface";

/// Reads the split's rows: `train-*` or `test-*` files under a folder, or the one file given.
pub fn parquet(path: &Path, split: Split) -> Result<Vec<Example>> {
    let mut out = Vec::new();
    for file in split_files(path, split)? {
        read_file(&file, &mut out)?;
    }
    if out.is_empty() {
        return Err(Error::bad_file(path, "holds no rows"));
    }
    Ok(out)
}

fn split_files(path: &Path, split: Split) -> Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    if !path.is_dir() {
        return Err(Error::bad_file(
            path,
            "is neither a .parquet file nor a folder of them",
        ));
    }
    let all: Vec<PathBuf> = walkdir::WalkDir::new(path)
        .sort_by_file_name()
        .into_iter()
        .filter_map(|e| e.ok())
        .map(|e| e.into_path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    let prefix = match split {
        Split::Train => "train",
        Split::Test => "test",
    };
    let wanted: Vec<PathBuf> = all
        .iter()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .cloned()
        .collect();
    match (wanted.is_empty(), all.is_empty()) {
        (_, true) => Err(Error::bad_file(path, "holds no .parquet files")),
        (true, false) => Ok(all),
        (false, false) => Ok(wanted),
    }
}

/// The chosen columns of one file, and the label names its metadata gives.
struct Layout {
    image: String,
    label: Option<String>,
    names: Vec<String>,
}

fn layout(path: &Path, reader: &SerializedFileReader<File>) -> Result<Layout> {
    let meta = reader.metadata().file_metadata();
    let columns: Vec<String> = meta
        .schema_descr()
        .root_schema()
        .get_fields()
        .iter()
        .map(|f| f.name().to_string())
        .collect();
    let pick = |choices: &[&str]| {
        choices
            .iter()
            .find(|c| columns.iter().any(|col| col == *c))
            .map(|c| c.to_string())
    };
    let image = pick(&IMAGE_COLUMNS).ok_or_else(|| {
        Error::bad_file(
            path,
            format!(
                "has no image column ({}); its columns are {}",
                IMAGE_COLUMNS.join(", "),
                columns.join(", ")
            ),
        )
    })?;
    let label = pick(&LABEL_COLUMNS);
    let features: Option<serde_json::Value> = meta
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|k| k.key == HF_METADATA_KEY))
        .and_then(|kv| kv.value.as_deref())
        .and_then(|v| serde_json::from_str(v).ok());
    let names = label
        .as_ref()
        .and_then(|l| {
            features?
                .pointer(&format!("/info/features/{l}/names"))?
                .as_array()
                .cloned()
        })
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Ok(Layout {
        image,
        label,
        names,
    })
}

fn read_file(path: &Path, out: &mut Vec<Example>) -> Result<()> {
    let bad = |e: parquet::errors::ParquetError| {
        Error::bad_file(path, format!("is not a readable parquet file ({e})"))
    };
    let file = File::open(path).map_err(|e| Error::io("could not open", path, e))?;
    let reader = SerializedFileReader::new(file).map_err(bad)?;
    let layout = layout(path, &reader)?;
    for row in reader.get_row_iter(None).map_err(bad)? {
        let row = row.map_err(bad)?;
        out.push(example(&row, &layout, out.len()));
    }
    Ok(())
}

/// One row as an example; a row without image bytes keeps an empty picture, which decoding
/// reports and the embed job skips.
fn example(row: &Row, layout: &Layout, source_index: usize) -> Example {
    let field = |name: &str| {
        row.get_column_iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, f)| f)
    };
    let bytes: Arc<[u8]> = match field(&layout.image) {
        Some(Field::Group(g)) => g
            .get_column_iter()
            .find_map(|(n, f)| match (n.as_str(), f) {
                ("bytes", Field::Bytes(b)) => Some(b.data().into()),
                _ => None,
            })
            .unwrap_or_else(|| Arc::from(&[][..])),
        Some(Field::Bytes(b)) => b.data().into(),
        _ => Arc::from(&[][..]),
    };
    let label = layout
        .label
        .as_deref()
        .and_then(field)
        .and_then(|f| match f {
            Field::Str(s) => Some(s.clone()),
            Field::Long(i) => Some(class_name(&layout.names, *i)),
            Field::Int(i) => Some(class_name(&layout.names, *i as i64)),
            Field::Short(i) => Some(class_name(&layout.names, *i as i64)),
            Field::Byte(i) => Some(class_name(&layout.names, *i as i64)),
            _ => None,
        });
    Example {
        picture: Picture::Encoded(bytes),
        label,
        caption: None,
        source_index,
    }
}

/// The metadata's name for label `i`, with underscores read as spaces (as the CIFAR task files
/// spell them), or the number itself when there are no names.
fn class_name(names: &[String], i: i64) -> String {
    usize::try_from(i)
        .ok()
        .and_then(|i| names.get(i))
        .map(|n| n.replace('_', " "))
        .unwrap_or_else(|| i.to_string())
}
