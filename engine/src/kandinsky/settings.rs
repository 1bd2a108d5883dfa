//! `WORKSPACE/kandinsky.toml`: where this workspace's Kandinsky 2.2 weights are and how
//! pictures are made. `saelab steer --generate` writes it after each success; the lab reads
//! it to offer generation on the Steer tab. Users may also write it by hand.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::fsutil;
use crate::workspace::Workspace;

const FILE: &str = "kandinsky.toml";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KandinskySettings {
    /// The decoder: a folder or hub repo id.
    pub decoder: String,
    /// The prior: a folder or hub repo id.
    pub prior: String,
    /// Decoder denoising steps.
    pub steps: usize,
    /// Picture side in pixels.
    pub size: usize,
}

pub fn path(ws: &Workspace) -> PathBuf {
    ws.root().join(FILE)
}

/// The workspace's settings, or None when none are written (or they do not parse).
pub fn load(ws: &Workspace) -> Option<KandinskySettings> {
    let p = path(ws);
    p.is_file().then(|| fsutil::read_toml(&p).ok()).flatten()
}

pub fn save(ws: &Workspace, s: &KandinskySettings) -> Result<()> {
    fsutil::write_toml(&path(ws), s)
}
