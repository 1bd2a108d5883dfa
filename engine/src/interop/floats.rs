//! Float tensors of other tools' safetensors files, in whatever precision they were saved
//! (f32, f16, bf16, f64), as f32.

use std::collections::HashMap;
use std::path::Path;

use safetensors::{Dtype, SafeTensors};

use crate::error::{Error, Result};

/// A tensor's shape and values.
#[derive(Debug, Clone, PartialEq)]
pub struct Floats {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// Every floating-point tensor of the file, by name.
pub fn read_all(path: &Path) -> Result<HashMap<String, Floats>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io("could not read", path, e))?;
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| Error::bad_file(path, format!("is not a safetensors file ({e})")))?;
    let mut out = HashMap::new();
    for (name, view) in st.tensors() {
        let values = match view.dtype() {
            Dtype::F32 => view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Dtype::F16 => view
                .data()
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Dtype::BF16 => view
                .data()
                .chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Dtype::F64 => view
                .data()
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])) as f32)
                .collect(),
            _ => continue,
        };
        out.insert(
            name,
            Floats {
                shape: view.shape().to_vec(),
                values,
            },
        );
    }
    Ok(out)
}

/// Takes tensor `name` of shape `shape`, or says which is missing or misshapen.
pub fn take(
    tensors: &mut HashMap<String, Floats>,
    path: &Path,
    name: &str,
    shape: &[usize],
) -> Result<Vec<f32>> {
    let Some(t) = tensors.remove(name) else {
        let mut found: Vec<&String> = tensors.keys().collect();
        found.sort();
        return Err(Error::bad_file(
            path,
            format!("has no tensor '{name}' (it holds {found:?})"),
        ));
    };
    if t.shape != shape {
        return Err(Error::bad_file(
            path,
            format!(
                "holds '{name}' of shape {:?}, where {shape:?} was expected",
                t.shape
            ),
        ));
    }
    Ok(t.values)
}
