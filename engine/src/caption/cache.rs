//! Captions already made, per set and captioner, under `WORKSPACE/cache/captions/`: every run
//! trained on a set shares them, and an interrupted labelling resumes where it stopped.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::demo::encoder::stable_hash;
use crate::error::Result;
use crate::fsutil;
use crate::workspace::Workspace;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Stored {
    captioner: String,
    set: String,
    /// Caption of each row captioned so far.
    captions: BTreeMap<usize, String>,
}

pub struct CaptionCache {
    path: PathBuf,
    stored: Stored,
}

impl CaptionCache {
    /// The cache of `set`'s captions by `captioner` (empty when there is none yet, or when the
    /// file cannot be read: captions can always be made again).
    pub fn open(ws: &Workspace, set: &str, captioner: &str) -> Self {
        let key = stable_hash(&format!("{set}\n{captioner}"));
        let path = ws
            .root()
            .join("cache")
            .join("captions")
            .join(format!("{set}-{key:016x}.json"));
        let stored = fsutil::read_json(&path).unwrap_or_else(|_| Stored {
            captioner: captioner.into(),
            set: set.into(),
            captions: BTreeMap::new(),
        });
        CaptionCache { path, stored }
    }

    pub fn get(&self, row: usize) -> Option<&String> {
        self.stored.captions.get(&row)
    }

    pub fn insert(&mut self, row: usize, caption: String) {
        self.stored.captions.insert(row, caption);
    }

    pub fn save(&self) -> Result<()> {
        if let Some(dir) = self.path.parent() {
            fsutil::create_dir(dir)?;
        }
        fsutil::write_json(&self.path, &self.stored)
    }
}
