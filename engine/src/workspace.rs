//! The workspace folder: where embedding sets and runs live.
//!
//! ```text
//! WORKSPACE/
//!   sets/NAME/   set.toml, embeddings.safetensors, items.jsonl, (demo) ground_truth.safetensors
//!   runs/NAME/   run.toml, metrics.jsonl, checkpoint.safetensors, sae.safetensors, results.json
//! ```

use std::path::{Path, PathBuf};

use super::error::{Error, Result};
use super::fsutil;

/// Environment variable that overrides the default workspace location.
pub const WORKSPACE_ENV: &str = "SAELAB_WORKSPACE";

#[derive(Debug, Clone)]
pub struct Workspace {
    root: PathBuf,
}

impl Workspace {
    /// Opens (creating if needed) the workspace at `root`, checking that it is writable.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let ws = Workspace { root: root.into() };
        fsutil::create_dir(&ws.sets_dir())?;
        fsutil::create_dir(&ws.runs_dir())?;
        let probe = ws.root.join(".write-probe");
        std::fs::write(&probe, b"").map_err(|e| {
            Error::io(
                "the workspace is not writable; pass --workspace DIR or set SAELAB_WORKSPACE:",
                &ws.root,
                e,
            )
        })?;
        let _ = std::fs::remove_file(probe);
        ws.clean_stale();
        Ok(ws)
    }

    /// The workspace at `root` for a command that only reads it: nothing is created, probed or
    /// cleaned, so a read-only workspace serves it. One not made yet is made as [`open`] does.
    ///
    /// [`open`]: Workspace::open
    pub fn for_reading(root: impl Into<PathBuf>) -> Result<Self> {
        let ws = Workspace { root: root.into() };
        if ws.sets_dir().is_dir() && ws.runs_dir().is_dir() {
            return Ok(ws);
        }
        Workspace::open(ws.root)
    }

    /// Removes what killed processes left half-written in the sets and runs folders.
    fn clean_stale(&self) {
        for top in [self.sets_dir(), self.runs_dir()] {
            fsutil::clean_stale(&top);
            if let Ok(entries) = std::fs::read_dir(&top) {
                entries
                    .flatten()
                    .filter(|e| e.path().is_dir())
                    .for_each(|e| fsutil::clean_stale(&e.path()));
            }
        }
    }

    /// The default location: `$SAELAB_WORKSPACE`, else the platform's data folder.
    pub fn default_root() -> PathBuf {
        if let Some(dir) = std::env::var_os(WORKSPACE_ENV).filter(|d| !d.is_empty()) {
            return PathBuf::from(dir);
        }
        directories::ProjectDirs::from("org", "clip-sae-lab", "saelab")
            .map(|d| d.data_dir().join("workspace"))
            .unwrap_or_else(|| PathBuf::from("saelab-workspace"))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn sets_dir(&self) -> PathBuf {
        self.root.join("sets")
    }

    pub fn runs_dir(&self) -> PathBuf {
        self.root.join("runs")
    }

    pub fn set_dir(&self, name: &str) -> PathBuf {
        self.sets_dir().join(name)
    }

    pub fn run_dir(&self, name: &str) -> PathBuf {
        self.runs_dir().join(name)
    }

    /// Names of the sub-folders of `dir`, sorted.
    pub fn list_names(dir: &Path) -> Result<Vec<String>> {
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io("could not list", dir, e))?;
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        Ok(names)
    }
}

/// Checks that `name` can be a folder name for a set or a run.
pub fn validate_name(what: &'static str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            what,
            format!(
                "'{name}' must be letters, digits, '-', '_', '.' or '+', not starting with '.'"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_creates_layout() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::open(dir.path().join("ws")).unwrap();
        assert!(ws.sets_dir().is_dir() && ws.runs_dir().is_dir());
    }

    #[test]
    fn unwritable_workspace_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain-file");
        std::fs::write(&file, b"x").unwrap();
        let err = Workspace::open(file.join("ws")).unwrap_err().to_string();
        assert!(err.contains("plain-file"), "{err}");
    }

    #[test]
    fn names_are_checked() {
        assert!(validate_name("run name", "demo-lam1e-3").is_ok());
        assert!(validate_name("run name", "../x").is_err());
        assert!(validate_name("run name", "").is_err());
    }
}
