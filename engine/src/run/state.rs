//! A run's status: `state.json` says what the trainer last did, and a lock file holds the pid of
//! the process training it, so a crashed or killed run shows as interrupted, not running.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fsutil;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Running,
    Done,
    Interrupted,
    Diverged,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Done => "done",
            Status::Interrupted => "interrupted",
            Status::Diverged => "diverged",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    pub status: Status,
    /// Steps covered by the last checkpoint (or the finished run).
    pub checkpoint_step: u64,
    pub total_steps: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub updated: u64,
}

pub const LOCK_FILE: &str = "train.lock";

/// The run's training lock: an OS lock on `train.lock`, which dies with its holder, so a crash
/// never leaves a run locked and two processes never train one run. The file also names the
/// holder (`PID HOST`) for whoever asks.
pub struct TrainLock {
    path: std::path::PathBuf,
    _file: std::fs::File,
}

impl Drop for TrainLock {
    fn drop(&mut self) {
        // Removed while still held; the lock itself goes when the file closes.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The pid holding the run's training lock, if a process holds it.
pub fn lock_holder(run_dir: &Path) -> Option<u32> {
    let path = run_dir.join(LOCK_FILE);
    let file = std::fs::File::open(&path).ok()?;
    if file.try_lock_shared().is_ok() {
        return None;
    }
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    Some(
        text.split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0),
    )
}

/// Takes the run's training lock for this process, or says who holds it.
pub fn acquire(run_dir: &Path, run: &str) -> Result<TrainLock> {
    let path = run_dir.join(LOCK_FILE);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io("could not open", &path, e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(Error::Busy {
                run: run.into(),
                pid: lock_holder(run_dir).unwrap_or(0),
            })
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(Error::io("could not lock", &path, e)),
    }
    let who = format!("{} {}", std::process::id(), fsutil::host_name());
    file.set_len(0)
        .and_then(|()| std::io::Write::write_all(&mut file, who.as_bytes()))
        .map_err(|e| Error::io("could not write", &path, e))?;
    Ok(TrainLock { path, _file: file })
}

/// The status as others should see it: "running" only while the training process lives.
pub fn effective_status(run_dir: &Path, state: &RunState) -> Status {
    match state.status {
        Status::Running if lock_holder(run_dir).is_none() => Status::Interrupted,
        s => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_lock_holder_reads_as_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let state = RunState {
            status: Status::Running,
            checkpoint_step: 0,
            total_steps: 10,
            message: None,
            updated: 0,
        };
        let lock = acquire(dir.path(), "r").unwrap();
        assert_eq!(effective_status(dir.path(), &state), Status::Running);
        assert_eq!(lock_holder(dir.path()), Some(std::process::id()));
        assert!(matches!(acquire(dir.path(), "r"), Err(Error::Busy { .. })));
        drop(lock);
        assert_eq!(effective_status(dir.path(), &state), Status::Interrupted);
        // A lock file that names a process but is not held holds nothing.
        std::fs::write(dir.path().join(LOCK_FILE), std::process::id().to_string()).unwrap();
        assert_eq!(lock_holder(dir.path()), None);
    }
}
