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

/// Whether a process with this pid exists (Linux and macOS: /proc or kill 0 are not portable
/// without libc, so we ask /proc where it exists and otherwise trust the lock).
fn pid_alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    if proc.is_dir() {
        proc.join(pid.to_string()).exists()
    } else {
        true
    }
}

/// The pid holding the run's training lock, if that process is still alive.
pub fn lock_holder(run_dir: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(run_dir.join(LOCK_FILE)).ok()?;
    let pid: u32 = text.trim().parse().ok()?;
    pid_alive(pid).then_some(pid)
}

/// Takes the run's training lock for this process.
pub fn acquire(run_dir: &Path, run: &str) -> Result<()> {
    if let Some(pid) = lock_holder(run_dir).filter(|&p| p != std::process::id()) {
        return Err(Error::Busy {
            run: run.into(),
            pid,
        });
    }
    fsutil::write_atomic(
        &run_dir.join(LOCK_FILE),
        std::process::id().to_string().as_bytes(),
    )
}

pub fn release(run_dir: &Path) {
    let _ = std::fs::remove_file(run_dir.join(LOCK_FILE));
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
        acquire(dir.path(), "r").unwrap();
        assert_eq!(effective_status(dir.path(), &state), Status::Running);
        release(dir.path());
        assert_eq!(effective_status(dir.path(), &state), Status::Interrupted);
        // A pid that cannot exist on Linux (above pid_max) counts as gone.
        std::fs::write(dir.path().join(LOCK_FILE), "4294967295").unwrap();
        assert_eq!(lock_holder(dir.path()), None);
    }
}
