//! Reading and writing f32 tensors in safetensors files, with errors that name the file, the
//! tensor and what was expected.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::{tensor::TensorView, Dtype, SafeTensors};

use super::error::{Error, Result};
use super::fsutil;

/// One named tensor to write (f32, or u32 for indices).
pub struct Named<'a> {
    pub name: String,
    pub shape: Vec<usize>,
    dtype: Dtype,
    bytes: &'a [u8],
}

impl<'a> Named<'a> {
    pub fn new(name: impl Into<String>, shape: Vec<usize>, data: &'a [f32]) -> Self {
        Named {
            name: name.into(),
            shape,
            dtype: Dtype::F32,
            bytes: bytemuck::cast_slice(data),
        }
    }

    pub fn u32(name: impl Into<String>, shape: Vec<usize>, data: &'a [u32]) -> Self {
        Named {
            name: name.into(),
            shape,
            dtype: Dtype::U32,
            bytes: bytemuck::cast_slice(data),
        }
    }
}

/// Writes the tensors and string metadata to `path` atomically.
/// The metadata key of the checksum of a file's tensors.
const CHECKSUM_KEY: &str = "checksum";

/// The checksum of named tensors, in name order.
fn tensors_checksum<'a>(tensors: impl Iterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut all: Vec<(&str, &[u8])> = tensors.collect();
    all.sort_by(|a, b| a.0.cmp(b.0));
    let parts: Vec<&[u8]> = all.iter().flat_map(|(n, b)| [n.as_bytes(), *b]).collect();
    crate::checksum::of(&parts)
}

/// Writes the tensors with `metadata` and a checksum of the tensors, which `read` verifies.
pub fn write(path: &Path, tensors: &[Named], mut metadata: HashMap<String, String>) -> Result<()> {
    metadata.insert(
        CHECKSUM_KEY.into(),
        tensors_checksum(tensors.iter().map(|t| (t.name.as_str(), t.bytes))),
    );
    let views = tensors
        .iter()
        .map(|t| {
            let view = TensorView::new(t.dtype, t.shape.clone(), t.bytes)
                .map_err(|e| Error::bad_file(path, format!("tensor {}: {e}", t.name)))?;
            Ok((t.name.clone(), view))
        })
        .collect::<Result<Vec<_>>>()?;
    let bytes = safetensors::serialize(views, Some(metadata))
        .map_err(|e| Error::bad_file(path, format!("could not be serialised: {e}")))?;
    fsutil::write_atomic(path, &bytes)
}

/// A safetensors file read into memory.
pub struct TensorFile {
    path: PathBuf,
    bytes: Vec<u8>,
}

impl TensorFile {
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io("could not read", path, e))?;
        let tensors = SafeTensors::deserialize(&bytes).map_err(|e| not_safetensors(path, e))?;
        let file = TensorFile {
            path: path.to_owned(),
            bytes: Vec::new(),
        };
        if let Some(kept) = file_metadata(&bytes).remove(CHECKSUM_KEY) {
            let views = tensors.tensors();
            let now = tensors_checksum(views.iter().map(|(n, v)| (n.as_str(), v.data())));
            if now != kept {
                return Err(Error::bad_file(
                    path,
                    "does not match its checksum: it was changed or damaged after it was written",
                ));
            }
        }
        Ok(TensorFile { bytes, ..file })
    }

    fn tensors(&self) -> SafeTensors<'_> {
        SafeTensors::deserialize(&self.bytes).expect("checked when read")
    }

    /// The file's string metadata (empty when it has none).
    pub fn metadata(&self) -> HashMap<String, String> {
        file_metadata(&self.bytes)
    }

    /// A metadata value parsed as `T`, with an error naming the key when missing or malformed.
    pub fn meta<T: std::str::FromStr>(&self, key: &str) -> Result<T> {
        self.metadata()
            .get(key)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| Error::bad_file(&self.path, format!("metadata '{key}' is missing or malformed; the file was not written by saelab or is damaged")))
    }

    /// The shape of tensor `name`, if the file has it.
    pub fn shape(&self, name: &str) -> Option<Vec<usize>> {
        self.tensors().tensor(name).ok().map(|v| v.shape().to_vec())
    }

    /// The f32 tensor `name`, which must have shape `shape`.
    pub fn f32(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        Ok(self
            .raw(name, Dtype::F32, shape)?
            .map(f32::from_le_bytes)
            .collect())
    }

    /// The u32 tensor `name`, which must have shape `shape`.
    pub fn u32(&self, name: &str, shape: &[usize]) -> Result<Vec<u32>> {
        Ok(self
            .raw(name, Dtype::U32, shape)?
            .map(u32::from_le_bytes)
            .collect())
    }

    /// The 4-byte little-endian words of tensor `name`, checked for dtype and shape.
    fn raw(
        &self,
        name: &str,
        dtype: Dtype,
        shape: &[usize],
    ) -> Result<impl Iterator<Item = [u8; 4]> + '_> {
        let st = self.tensors();
        let view = st.tensor(name).map_err(|_| {
            Error::bad_file(
                &self.path,
                format!("has no tensor '{name}'; is it a file of this kind?"),
            )
        })?;
        check_dtype_shape(&self.path, name, &view, dtype, shape)?;
        let start = view.data().as_ptr() as usize - self.bytes.as_ptr() as usize;
        let data = &self.bytes[start..start + view.data().len()];
        Ok(data.chunks_exact(4).map(|b| [b[0], b[1], b[2], b[3]]))
    }
}

/// Checks an f32 tensor's shape against what the caller needs.
pub fn check_view(path: &Path, name: &str, view: &TensorView, shape: &[usize]) -> Result<()> {
    check_dtype_shape(path, name, view, Dtype::F32, shape)
}

fn check_dtype_shape(
    path: &Path,
    name: &str,
    view: &TensorView,
    dtype: Dtype,
    shape: &[usize],
) -> Result<()> {
    if view.dtype() != dtype {
        return Err(Error::bad_file(
            path,
            format!("tensor '{name}' is {:?}, expected {dtype:?}", view.dtype()),
        ));
    }
    if view.shape() != shape {
        return Err(Error::bad_file(
            path,
            format!(
                "tensor '{name}' has shape {:?}, expected {shape:?}",
                view.shape()
            ),
        ));
    }
    Ok(())
}

pub fn not_safetensors(path: &Path, e: safetensors::SafeTensorError) -> Error {
    Error::bad_file(
        path,
        format!(
            "is not a readable safetensors file ({e}); it may be truncated or foreign: recreate it"
        ),
    )
}

/// A safetensors file's string metadata (empty when it has none).
fn file_metadata(bytes: &[u8]) -> HashMap<String, String> {
    SafeTensors::read_metadata(bytes)
        .ok()
        .and_then(|(_, m)| m.metadata().clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.safetensors");
        let data = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let meta = HashMap::from([("step".to_string(), "7".to_string())]);
        write(&path, &[Named::new("w", vec![2, 3], &data)], meta).unwrap();
        let f = TensorFile::read(&path).unwrap();
        assert_eq!(f.f32("w", &[2, 3]).unwrap(), data);
        assert_eq!(f.meta::<u64>("step").unwrap(), 7);
        assert!(f
            .f32("w", &[3, 2])
            .unwrap_err()
            .to_string()
            .contains("shape [2, 3]"));
        assert!(f
            .f32("nope", &[1])
            .unwrap_err()
            .to_string()
            .contains("no tensor 'nope'"));

        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
        let err = TensorFile::read(&path).err().unwrap().to_string();
        assert!(err.contains("truncated"), "{err}");
    }
}
