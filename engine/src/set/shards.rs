//! Sharded sets: a set whose `set.toml` lists shard files (each at most `SHARD_BYTES`, with
//! its row count and checksum) instead of one `embeddings.safetensors`. `embed --shard I/N`
//! writes them into `slices/`, and `sets merge` lists every slice's shards in one `set.toml`
//! without copying a byte of them. Readers get the rows in shard order, as one set.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::EMBEDDINGS_TENSOR;
use crate::error::{Error, Result};
use crate::tensorfile::{self, Named, TensorFile};

/// The most bytes of embeddings one shard file holds.
pub const SHARD_BYTES: usize = 1 << 30;

/// One shard of a sharded set, as `set.toml` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardEntry {
    /// The file, relative to the folder of the `.toml` that lists it.
    pub file: String,
    pub rows: usize,
    /// The checksum of its embeddings, as the file itself records it.
    pub checksum: String,
}

impl ShardEntry {
    /// This entry seen from `prefix`, a folder above the one that lists it.
    pub fn under(&self, prefix: &str) -> ShardEntry {
        ShardEntry {
            file: format!("{prefix}/{}", self.file),
            ..self.clone()
        }
    }
}

/// Writes rows [n, dim] into `dir` as shard files of at most `max_bytes` each
/// (`shard-00000.safetensors`, ...); their entries are relative to `dir`.
pub fn write_shards(
    dir: &Path,
    data: &[f32],
    dim: usize,
    max_bytes: usize,
) -> Result<Vec<ShardEntry>> {
    let per_shard = (max_bytes / (dim * std::mem::size_of::<f32>())).max(1);
    let mut entries = Vec::new();
    for (i, rows) in data.chunks(per_shard * dim).enumerate() {
        let file = format!("shard-{i:05}.safetensors");
        let count = rows.len() / dim;
        tensorfile::write(
            &dir.join(&file),
            &[Named::new(EMBEDDINGS_TENSOR, vec![count, dim], rows)],
            HashMap::new(),
        )?;
        entries.push(ShardEntry {
            file,
            rows: count,
            checksum: super::checksum_of(rows),
        });
    }
    Ok(entries)
}

/// One shard's rows [rows, dim], refused by name when missing, damaged (its checksum), of
/// another shape, or not the file the listing recorded.
pub fn read_shard(dir: &Path, entry: &ShardEntry, dim: usize) -> Result<Vec<f32>> {
    let path = dir.join(&entry.file);
    if !path.is_file() {
        return Err(Error::bad_file(
            &path,
            "is missing: this shard of the set is gone; re-embed its slice (`saelab embed ... --shard I/N`) and merge again",
        ));
    }
    let rows = TensorFile::read(&path)?.f32(EMBEDDINGS_TENSOR, &[entry.rows, dim])?;
    if super::checksum_of(&rows) != entry.checksum {
        return Err(Error::bad_file(
            &path,
            "is not the shard the set listed (its checksum differs): was it replaced? Merge the slices again",
        ));
    }
    Ok(rows)
}

/// A sharded set's checksum: of its shards' checksums, in order.
pub fn combined_checksum(entries: &[ShardEntry]) -> String {
    let parts: Vec<&[u8]> = entries.iter().map(|e| e.checksum.as_bytes()).collect();
    crate::checksum::of(&parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shard's rows, in order.
    fn read_all(dir: &Path, entries: &[ShardEntry], dim: usize) -> Result<Vec<f32>> {
        let mut data = Vec::new();
        for entry in entries {
            data.extend(read_shard(dir, entry, dim)?);
        }
        Ok(data)
    }

    #[test]
    fn shards_split_at_the_bound_and_read_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let (rows, dim) = (10, 3);
        let data: Vec<f32> = (0..rows * dim).map(|i| i as f32 * 0.5).collect();
        // Four rows of 12 bytes a shard.
        let entries = write_shards(dir.path(), &data, dim, 4 * dim * 4).unwrap();
        let counts: Vec<usize> = entries.iter().map(|e| e.rows).collect();
        assert_eq!(counts, [4, 4, 2]);
        assert_eq!(read_all(dir.path(), &entries, dim).unwrap(), data);

        // A damaged shard, a missing one, and a listing of another file are named.
        let second = dir.path().join(&entries[1].file);
        let mut bytes = std::fs::read(&second).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        std::fs::write(&second, bytes).unwrap();
        let err = read_all(dir.path(), &entries, dim).unwrap_err().to_string();
        assert!(
            err.contains("shard-00001") && err.contains("checksum"),
            "{err}"
        );
        std::fs::remove_file(&second).unwrap();
        let err = read_all(dir.path(), &entries, dim).unwrap_err().to_string();
        assert!(
            err.contains("shard-00001") && err.contains("missing"),
            "{err}"
        );
        let swapped = ShardEntry {
            file: entries[2].file.clone(),
            ..entries[0].clone()
        };
        assert!(read_shard(dir.path(), &swapped, dim).is_err());
    }
}
