//! Writing a whole embedding set: built in a hidden folder, then renamed into place, so a set is
//! either complete or absent.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::meta::{Item, SetMeta};
use super::{
    EMBEDDINGS_FILE, EMBEDDINGS_TENSOR, GROUND_TRUTH_FILE, ITEMS_FILE, META_FILE, REPORT_FILE,
};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::tensorfile::{self, Named};

/// Known concept directions (unit rows), stored with generated sets. directions: [k, d]
#[derive(Debug, Clone, PartialEq)]
pub struct GroundTruth {
    pub names: Vec<String>,
    pub directions: Vec<f32>,
}

/// Everything that makes up a set.
pub struct SetFiles<'a> {
    pub meta: SetMeta,
    /// shape: [meta.count, meta.dim]
    pub embeddings: &'a [f32],
    pub items: &'a [Item],
    pub ground_truth: Option<&'a GroundTruth>,
    /// How the set was made (the embed job's skipped images), kept as `report.json`.
    pub report: Option<&'a serde_json::Value>,
}

/// Writes the set into `sets_dir/NAME`, replacing any set of that name only once the new one
/// is complete.
pub fn write_set(sets_dir: &Path, files: &SetFiles) -> Result<PathBuf> {
    let meta = &files.meta;
    if files.embeddings.len() != meta.count * meta.dim || files.items.len() != meta.count {
        return Err(Error::invalid(
            "embedding set",
            format!(
                "{} values and {} items do not make {} rows of {}",
                files.embeddings.len(),
                files.items.len(),
                meta.count,
                meta.dim
            ),
        ));
    }
    let target = sets_dir.join(&meta.name);
    let staging = sets_dir.join(format!(".{}.partial-{}", meta.name, fsutil::temp_tag()));
    let _ = std::fs::remove_dir_all(&staging);
    fsutil::create_dir(&staging)?;
    let written = write_files(&staging, files);
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    fsutil::replace_dir(&staging, &target)?;
    Ok(target)
}

/// Writes `items.jsonl`, one item a line, atomically.
pub fn write_items(path: &Path, items: &[Item]) -> Result<()> {
    fsutil::write_atomic_with(path, |f| {
        let mut w = std::io::BufWriter::new(f);
        for item in items {
            serde_json::to_writer(&mut w, item)?;
            w.write_all(b"\n")?;
        }
        w.flush()
    })
}

fn write_files(dir: &Path, files: &SetFiles) -> Result<()> {
    let meta = &files.meta;
    tensorfile::write(
        &dir.join(EMBEDDINGS_FILE),
        &[Named::new(
            EMBEDDINGS_TENSOR,
            vec![meta.count, meta.dim],
            files.embeddings,
        )],
        HashMap::new(),
    )?;
    fsutil::write_atomic(
        &dir.join(super::CHECKSUM_FILE),
        super::checksum_of(files.embeddings).as_bytes(),
    )?;
    write_items(&dir.join(ITEMS_FILE), files.items)?;
    if let Some(gt) = files.ground_truth {
        let names = serde_json::to_string(&gt.names).expect("strings serialise");
        tensorfile::write(
            &dir.join(GROUND_TRUTH_FILE),
            &[Named::new(
                "directions",
                vec![gt.names.len(), meta.dim],
                &gt.directions,
            )],
            HashMap::from([("concepts".to_string(), names)]),
        )?;
    }
    if let Some(report) = files.report {
        fsutil::write_json(&dir.join(REPORT_FILE), report)?;
    }
    fsutil::write_toml(&dir.join(META_FILE), meta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::set::EmbeddingSet;

    fn meta(count: usize, dim: usize) -> SetMeta {
        SetMeta {
            name: "tiny".into(),
            source: "test".into(),
            model: "none".into(),
            dim,
            count,
            preprocessing: "none".into(),
            created: 0,
            ..Default::default()
        }
    }

    fn items(n: usize) -> Vec<Item> {
        (0..n)
            .map(|id| Item {
                id,
                ..Default::default()
            })
            .collect()
    }

    #[test]
    fn round_trip_stats_and_gather() {
        let dir = tempfile::tempdir().unwrap();
        let data = [1.0f32, 2.0, 3.0, 6.0, 5.0, 10.0];
        let gt = GroundTruth {
            names: vec!["a".into()],
            directions: vec![1.0, 0.0],
        };
        let files = SetFiles {
            meta: meta(3, 2),
            embeddings: &data,
            items: &items(3),
            ground_truth: Some(&gt),
            report: None,
        };
        write_set(dir.path(), &files).unwrap();
        let set = EmbeddingSet::open_dir(&dir.path().join("tiny")).unwrap();
        assert_eq!(set.data().unwrap(), &data);
        let stats = set.stats().unwrap();
        assert_eq!(stats.mean, vec![3.0, 6.0]);
        // Σ (x − x̄)² = (4 + 0 + 4) + (16 + 0 + 16)
        assert!((stats.sst - 40.0).abs() < 1e-12);
        assert_eq!(set.row(2).unwrap(), [5.0, 10.0]);
        assert_eq!(set.items().unwrap().len(), 3);
        assert_eq!(set.ground_truth().unwrap().unwrap(), gt);
        // Only the finished set is left behind: no staging folders.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn nan_rows_and_wrong_shapes_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let data = [1.0f32, 2.0, f32::NAN, 0.0];
        let files = SetFiles {
            meta: meta(2, 2),
            embeddings: &data,
            items: &items(2),
            ground_truth: None,
            report: None,
        };
        write_set(dir.path(), &files).unwrap();
        let set_dir = dir.path().join("tiny");
        let err = EmbeddingSet::open_dir(&set_dir).err().unwrap().to_string();
        assert!(err.contains("row 1") && err.contains("NaN"), "{err}");

        let mut m = meta(2, 2);
        m.dim = 4;
        m.count = 1;
        fsutil::write_toml(&set_dir.join(META_FILE), &m).unwrap();
        let err = EmbeddingSet::open_dir(&set_dir).err().unwrap().to_string();
        assert!(err.contains("shape [2, 2], expected [1, 4]"), "{err}");
    }
}
