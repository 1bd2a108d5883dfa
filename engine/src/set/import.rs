//! Sets from embeddings made elsewhere: a `.npy` array (f32 or f16, rows × d, as numpy saves
//! it), a 2-D tensor of a `.safetensors` file, or a `.parquet` column of float lists; with
//! items (labels, captions, picture paths) from a `.jsonl` or `.csv` file, row by row.

use std::fs::File;
use std::path::Path;

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::{Field, Row};

use super::write::{write_set, SetFiles};
use super::{EmbeddingSet, Item, SetMeta};
use crate::clock::now_unix;
use crate::error::{Error, Result};
use crate::interop::floats;
use crate::unit::normalise;
use crate::workspace::{validate_name, Workspace};

/// What `saelab import-set` is asked.
pub struct ImportSetRequest<'a> {
    pub file: &'a Path,
    pub name: &'a str,
    /// The tensor of a safetensors file, the column of a parquet file.
    pub key: Option<&'a str>,
    pub items: Option<&'a Path>,
    pub normalize: bool,
    /// The model that made the embeddings, as `set.toml` records it.
    pub model: Option<&'a str>,
}

/// Rows named in an error about bad values, at most.
const NAMED_ROWS: usize = 10;

/// Row-major embeddings: (rows, d, values).
type Matrix = (usize, usize, Vec<f32>);

/// Makes the set; refuses a name already taken, rows with NaN or infinite values, and items
/// that are not one a row.
pub fn import_set(ws: &Workspace, req: &ImportSetRequest) -> Result<EmbeddingSet> {
    validate_name("--name", req.name)?;
    if ws.set_dir(req.name).exists() {
        return Err(Error::invalid(
            "--name",
            format!("set '{}' already exists; choose another --name", req.name),
        ));
    }
    let (rows, d, mut x) = read_matrix(req.file, req.key)?;
    if rows == 0 || d == 0 {
        return Err(Error::bad_file(
            req.file,
            format!("holds {rows} rows of {d} values; a set needs at least one of each"),
        ));
    }
    refuse_non_finite(req.file, &x, d)?;
    if req.normalize {
        x.chunks_mut(d).for_each(normalise);
    }
    let items = match req.items {
        Some(path) => read_items(path, rows)?,
        None => (0..rows)
            .map(|id| Item {
                id,
                ..Item::default()
            })
            .collect(),
    };
    let meta = SetMeta {
        name: req.name.to_string(),
        source: format!("import:{}", req.file.display()),
        model: req.model.unwrap_or("unknown").to_string(),
        dim: d,
        count: rows,
        preprocessing: if req.normalize {
            "imported, L2-normalised".into()
        } else {
            "imported".into()
        },
        created: now_unix(),
        ..Default::default()
    };
    write_set(
        &ws.sets_dir(),
        &SetFiles {
            meta,
            embeddings: &x,
            items: &items,
            ground_truth: None,
            report: None,
        },
    )?;
    EmbeddingSet::open(ws, req.name)
}

fn refuse_non_finite(path: &Path, x: &[f32], d: usize) -> Result<()> {
    let bad: Vec<usize> = x
        .chunks(d)
        .enumerate()
        .filter(|(_, row)| row.iter().any(|v| !v.is_finite()))
        .map(|(i, _)| i)
        .collect();
    if bad.is_empty() {
        return Ok(());
    }
    let shown: Vec<String> = bad.iter().take(NAMED_ROWS).map(|i| i.to_string()).collect();
    Err(Error::bad_file(
        path,
        format!(
            "has NaN or infinite values in {} rows ({}{}); fix or drop them first",
            bad.len(),
            shown.join(", "),
            if bad.len() > NAMED_ROWS { ", …" } else { "" }
        ),
    ))
}

fn read_matrix(path: &Path, key: Option<&str>) -> Result<Matrix> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("npy") => read_npy(path),
        Some("safetensors") => read_safetensors(path, key),
        Some("parquet") => read_parquet(path, key),
        _ => Err(Error::bad_file(
            path,
            "is not .npy, .safetensors or .parquet; save the embeddings as one of those",
        )),
    }
}

fn read_npy(path: &Path) -> Result<Matrix> {
    let bad = |why: String| Error::bad_file(path, why);
    let file = File::open(path).map_err(|e| Error::io("could not open", path, e))?;
    let npy = npyz::NpyFile::new(std::io::BufReader::new(file))
        .map_err(|e| bad(format!("is not a .npy file ({e})")))?;
    let shape: Vec<usize> = npy.shape().iter().map(|&s| s as usize).collect();
    let &[rows, d] = shape.as_slice() else {
        return Err(bad(format!(
            "holds an array of shape {shape:?}; a set is rows × d"
        )));
    };
    let fortran = npy.order() == npyz::Order::Fortran;
    let values: Vec<f32> = match npy.dtype() {
        npyz::DType::Plain(t) if t.type_char() == npyz::TypeChar::Float && t.size_field() == 4 => {
            npy.into_vec::<f32>()
        }
        npyz::DType::Plain(t) if t.type_char() == npyz::TypeChar::Float && t.size_field() == 2 => {
            npy.into_vec::<half::f16>()
                .map(|v| v.into_iter().map(half::f16::to_f32).collect())
        }
        other => {
            return Err(bad(format!(
                "holds {}; save it as float32 or float16",
                other.descr()
            )))
        }
    }
    .map_err(|e| bad(format!("could not be read ({e})")))?;
    let values = match fortran {
        false => values,
        true => (0..rows * d)
            .map(|i| values[(i % d) * rows + i / d])
            .collect(),
    };
    Ok((rows, d, values))
}

fn read_safetensors(path: &Path, key: Option<&str>) -> Result<Matrix> {
    let mut tensors = floats::read_all(path)?;
    let name = match key {
        Some(k) => k.to_string(),
        None => {
            let mut two_d: Vec<&String> = tensors
                .iter()
                .filter(|(_, t)| t.shape.len() == 2)
                .map(|(n, _)| n)
                .collect();
            two_d.sort();
            match two_d.as_slice() {
                [one] => one.to_string(),
                [] => return Err(Error::bad_file(path, "holds no 2-D float tensor")),
                many => {
                    return Err(Error::bad_file(
                        path,
                        format!("holds several 2-D tensors ({many:?}); name one with --key"),
                    ))
                }
            }
        }
    };
    let Some(t) = tensors.remove(&name) else {
        return Err(Error::bad_file(
            path,
            format!("has no float tensor '{name}'"),
        ));
    };
    match t.shape.as_slice() {
        &[rows, d] => Ok((rows, d, t.values)),
        s => Err(Error::bad_file(
            path,
            format!("holds '{name}' of shape {s:?}; a set is rows × d"),
        )),
    }
}

/// The floats of a list field, or None when it is not a list of numbers.
fn float_list(field: &Field) -> Option<Vec<f32>> {
    let Field::ListInternal(list) = field else {
        return None;
    };
    list.elements()
        .iter()
        .map(|e| match e {
            Field::Float(v) => Some(*v),
            Field::Double(v) => Some(*v as f32),
            Field::Float16(v) => Some(v.to_f32()),
            _ => None,
        })
        .collect()
}

fn list_column(path: &Path, first: &Row, column: Option<&str>) -> Result<String> {
    let lists: Vec<String> = first
        .get_column_iter()
        .filter(|(_, f)| float_list(f).is_some())
        .map(|(n, _)| n.clone())
        .collect();
    match (column, lists.as_slice()) {
        (Some(c), _) if lists.iter().any(|n| n == c) => Ok(c.to_string()),
        (Some(c), _) => Err(Error::bad_file(
            path,
            format!("has no column '{c}' of float lists (those are {lists:?})"),
        )),
        (None, [one]) => Ok(one.clone()),
        (None, []) => Err(Error::bad_file(path, "has no column of float lists")),
        (None, many) => Err(Error::bad_file(
            path,
            format!("has several columns of float lists ({many:?}); name one with --column"),
        )),
    }
}

fn read_parquet(path: &Path, column: Option<&str>) -> Result<Matrix> {
    let bad = |e: parquet::errors::ParquetError| {
        Error::bad_file(path, format!("is not a readable parquet file ({e})"))
    };
    let file = File::open(path).map_err(|e| Error::io("could not open", path, e))?;
    let reader = SerializedFileReader::new(file).map_err(bad)?;
    let (mut values, mut d, mut rows, mut name) = (Vec::new(), 0, 0, None);
    for row in reader.get_row_iter(None).map_err(bad)? {
        let row = row.map_err(bad)?;
        let col = match &name {
            Some(n) => n,
            None => name.insert(list_column(path, &row, column)?),
        };
        let list = row
            .get_column_iter()
            .find(|(n, _)| *n == col)
            .and_then(|(_, f)| float_list(f))
            .ok_or_else(|| {
                Error::bad_file(path, format!("row {rows} has no float list in '{col}'"))
            })?;
        if rows == 0 {
            d = list.len();
        } else if list.len() != d {
            return Err(Error::bad_file(
                path,
                format!(
                    "row {rows} of '{col}' holds {} values where row 0 holds {d}",
                    list.len()
                ),
            ));
        }
        values.extend(list);
        rows += 1;
    }
    Ok((rows, d, values))
}

/// One item as another tool writes it; every key may be missing.
#[derive(Debug, serde::Deserialize)]
struct ItemRow {
    label: Option<String>,
    caption: Option<String>,
    path: Option<String>,
}

/// Items from a `.jsonl` (one object a line) or a `.csv` (a header naming the columns), with
/// the keys `label`, `caption` and `path`; there must be one a row.
fn read_items(path: &Path, rows: usize) -> Result<Vec<Item>> {
    let text = crate::fsutil::read_text(path)?;
    let read: Vec<ItemRow> = match path.extension().and_then(|e| e.to_str()) {
        Some("jsonl") => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, l)| {
                serde_json::from_str(l)
                    .map_err(|e| Error::bad_file(path, format!("line {}: {e}", i + 1)))
            })
            .collect::<Result<_>>()?,
        Some("csv") => csv::Reader::from_reader(text.as_bytes())
            .deserialize()
            .enumerate()
            .map(|(i, r)| r.map_err(|e| Error::bad_file(path, format!("row {}: {e}", i + 1))))
            .collect::<Result<_>>()?,
        _ => return Err(Error::bad_file(path, "is not .jsonl or .csv")),
    };
    if read.len() != rows {
        return Err(Error::bad_file(
            path,
            format!(
                "holds {} items for {rows} rows; give one item a row",
                read.len()
            ),
        ));
    }
    Ok(read
        .into_iter()
        .enumerate()
        .map(|(id, r)| Item {
            id,
            label: r.label.filter(|s| !s.is_empty()),
            caption: r.caption.filter(|s| !s.is_empty()),
            path: r.path.filter(|s| !s.is_empty()),
            ..Item::default()
        })
        .collect())
}
