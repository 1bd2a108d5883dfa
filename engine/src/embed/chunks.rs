//! An embed job's saved progress: `sets/.NAME.embedding/`, holding `job.json` (what is being
//! embedded) and one `chunk-NNNNN.safetensors` per finished chunk (its embeddings, the rows they
//! belong to, and the rows skipped with why). A job whose `job.json` differs starts afresh.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fsutil;
use crate::tensorfile::{self, Named, TensorFile};
use crate::workspace::Workspace;

const JOB_FILE: &str = "job.json";
const SKIPPED_KEY: &str = "skipped";

/// What makes two embed jobs the same job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobKey {
    pub model: String,
    pub source: String,
    pub split: String,
    pub count: usize,
    pub dim: usize,
    pub image_size: usize,
    pub chunk: usize,
}

/// One chunk's results. embeddings: [rows.len(), dim]
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Chunk {
    pub index: usize,
    pub embeddings: Vec<f32>,
    /// Example positions embedded, in order.
    pub rows: Vec<u32>,
    /// Each embedding's length before normalisation; empty in chunks saved before lengths
    /// were kept.
    pub norms: Vec<f32>,
    /// Example positions skipped, and why.
    pub skipped: Vec<(usize, String)>,
}

pub struct Partial {
    dir: PathBuf,
}

impl Partial {
    /// Opens the job's folder, clearing it when it holds another job's chunks.
    pub fn open(ws: &Workspace, name: &str, key: &JobKey) -> Result<Self> {
        let dir = ws.sets_dir().join(format!(".{name}.embedding"));
        let job = dir.join(JOB_FILE);
        let same = fsutil::read_json::<JobKey>(&job).is_ok_and(|k| &k == key);
        if !same && dir.exists() {
            std::fs::remove_dir_all(&dir)
                .map_err(|e| Error::io("could not clear the old embed job in", &dir, e))?;
        }
        fsutil::create_dir(&dir)?;
        if !same {
            fsutil::write_json(&job, key)?;
        }
        Ok(Partial { dir })
    }

    fn path(&self, c: usize) -> PathBuf {
        self.dir.join(format!("chunk-{c:05}.safetensors"))
    }

    pub fn has(&self, c: usize) -> bool {
        self.path(c).is_file()
    }

    pub fn save(&self, chunk: &Chunk) -> Result<()> {
        let skipped = serde_json::to_string(&chunk.skipped).expect("pairs serialise");
        let n = chunk.rows.len();
        let dim = chunk.embeddings.len().checked_div(n).unwrap_or(0);
        tensorfile::write(
            &self.path(chunk.index),
            &[
                Named::new("embeddings", vec![n, dim], &chunk.embeddings),
                Named::u32("rows", vec![n], &chunk.rows),
                Named::new("norms", vec![chunk.norms.len()], &chunk.norms),
            ],
            HashMap::from([(SKIPPED_KEY.to_string(), skipped)]),
        )
    }

    pub fn load(&self, c: usize, dim: usize) -> Result<Chunk> {
        let path = self.path(c);
        let file = TensorFile::read(&path)?;
        let n = file.shape("rows").map(|s| s[0]).unwrap_or(0);
        let skipped = file
            .metadata()
            .get(SKIPPED_KEY)
            .and_then(|s| serde_json::from_str(s).ok())
            .ok_or_else(|| {
                Error::bad_file(
                    &path,
                    "lacks its list of skipped rows; delete it to embed the chunk again",
                )
            })?;
        Ok(Chunk {
            index: c,
            embeddings: if n == 0 {
                Vec::new()
            } else {
                file.f32("embeddings", &[n, dim])?
            },
            rows: if n == 0 {
                Vec::new()
            } else {
                file.u32("rows", &[n])?
            },
            norms: match file.shape("norms") {
                Some(s) if s == [n] && n > 0 => file.f32("norms", &[n])?,
                _ => Vec::new(),
            },
            skipped,
        })
    }

    /// Deletes the job's folder once its set is published.
    pub fn remove(self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
