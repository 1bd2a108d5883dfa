//! Jobs the lab starts: `saelab` child processes (sweep, resume, zeroshot, generation) in their own process
//! group, logging to the workspace, so they keep running when the lab quits or the SSH session
//! drops; the lab attaches to them again through the runs' files. Stop sends SIGINT, on which
//! training saves a checkpoint and exits.

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::engine::error::{Error, Result};
use crate::engine::fsutil;
use crate::engine::run::state::lock_holder;
use crate::engine::run::{request_stop, RunDir};
use crate::engine::set::now_unix;
use crate::engine::workspace::Workspace;
use crate::protocol::{JobKind, StepLine, EXIT_INTERRUPTED, EXIT_OK};

use tokio::sync::mpsc::UnboundedSender;

const LOG_DIR: &str = "logs";

/// Bytes read from the end of a job's log for its last line.
const TAIL_BYTES: u64 = 4096;
/// Characters of that line shown in the status bar.
const SHOWN: usize = 48;

/// A job this lab started, still running.
pub struct Job {
    /// Its process id, which its [`Ended`] carries.
    pub pid: u32,
    pub label: String,
    /// A Kandinsky triptych, whose progress the Steer tab shows.
    pub generation: bool,
    log: PathBuf,
}

/// A job's process exited: its id, and its status code (none when a signal ended it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended {
    pub pid: u32,
    pub code: Option<i32>,
}

/// How a job ended: done, or failed with its last words.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Done,
    Failed(String),
}

impl Job {
    /// What its exit status means: stopped from the lab is Ctrl-C's status after a checkpoint
    /// was saved, which is done too.
    pub fn outcome(&self, code: Option<i32>) -> Outcome {
        match code {
            Some(c) if c == i32::from(EXIT_OK) || c == i32::from(EXIT_INTERRUPTED) => Outcome::Done,
            _ => Outcome::Failed(self.last_line()),
        }
    }

    /// The label and the last line the job logged ("zeroshot demo100: scoring … through …").
    pub fn status(&self) -> String {
        let line: String = self.last_line().chars().take(SHOWN).collect();
        if line.is_empty() {
            self.label.clone()
        } else {
            format!("{}: {line}", self.label)
        }
    }

    /// A generation job's progress from its last line.
    pub fn step(&self) -> Option<StepLine> {
        StepLine::parse(&self.last_line())
    }

    fn last_line(&self) -> String {
        let Ok(mut f) = std::fs::File::open(&self.log) else {
            return String::new();
        };
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = f.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)));
        let mut tail = Vec::new();
        let _ = f.read_to_end(&mut tail);
        String::from_utf8_lossy(&tail)
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or_default()
            .to_string()
    }
}

/// Starts `kind` as a `saelab` child process on this workspace, logging to `logs/`; when it
/// exits, `ended` hears of it.
pub fn start(ws: &Workspace, kind: &JobKind, ended: UnboundedSender<Ended>) -> Result<Job> {
    let label = kind.label();
    let exe =
        std::env::current_exe().map_err(|e| Error::io("could not find", "the saelab binary", e))?;
    let logs = ws.root().join(LOG_DIR);
    fsutil::create_dir(&logs)?;
    let log_path = logs.join(format!(
        "{}-{}.log",
        label.replace([' ', '/'], "-"),
        now_unix()
    ));
    let log = std::fs::File::create(&log_path)
        .map_err(|e| Error::io("could not create", &log_path, e))?;
    let err = log
        .try_clone()
        .map_err(|e| Error::io("could not open", &log_path, e))?;
    let child = Command::new(exe)
        .arg("--workspace")
        .arg(ws.root())
        .args(kind.argv())
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| Error::io("could not start", Path::new("saelab"), e))?;
    let pid = child.id();
    watch(child, ended);
    Ok(Job {
        pid,
        label,
        generation: kind.is_generation(),
        log: log_path,
    })
}

/// Waits for `child` on a thread of its own and reports its exit.
fn watch(mut child: Child, ended: UnboundedSender<Ended>) {
    let pid = child.id();
    std::thread::spawn(move || {
        let code = child.wait().ok().and_then(|s| s.code());
        let _ = ended.send(Ended { pid, code });
    });
}

/// Asks the process training `run` (this lab's or another shell's) to save and stop that
/// run alone: the other runs of its sweep go on.
pub fn stop(ws: &Workspace, run: &str) -> Result<()> {
    let dir = RunDir::existing(ws, run)?;
    if lock_holder(&dir.dir).is_none() {
        return Err(Error::invalid(
            "run",
            format!("no process is training '{run}'"),
        ));
    }
    request_stop(&dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(log: &str) -> (tempfile::TempDir, Job) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("job.log");
        std::fs::write(&path, log).unwrap();
        let job = Job {
            pid: 1,
            label: "zeroshot demo100".into(),
            generation: false,
            log: path,
        };
        (dir, job)
    }

    #[test]
    fn generation_progress_is_read_from_step_lines() {
        let (_d, j) = job("step 1/9 (prior)\nstep 2/9 (prior)\n");
        let step = j.step().expect("a step line");
        assert_eq!(
            (step.done, step.total, step.panel.as_str()),
            (2, 9, "prior")
        );
        let (_d, j) = job("step 2/9 (prior)\non the CPU: 2.0 s a step\n");
        assert_eq!(j.step(), None);
    }

    #[test]
    fn a_job_shows_its_last_line_and_a_failure_says_why() {
        let (_d, j) = job("scoring demo100 through r1…\nerror: no run named 'r2'\n\n");
        assert_eq!(j.status(), "zeroshot demo100: error: no run named 'r2'");
        assert_eq!(
            j.outcome(Some(1)),
            Outcome::Failed("error: no run named 'r2'".into())
        );
        assert_eq!(
            j.outcome(None),
            Outcome::Failed("error: no run named 'r2'".into())
        );
        let (_d, stopped) = job("interrupted: saving checkpoints\n");
        assert_eq!(
            stopped.outcome(Some(i32::from(EXIT_INTERRUPTED))),
            Outcome::Done
        );
        assert_eq!(stopped.outcome(Some(0)), Outcome::Done);
        let (_d, quiet) = job("");
        assert_eq!(quiet.status(), "zeroshot demo100");
    }

    #[test]
    fn a_process_exit_arrives_on_the_channel() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let child = Command::new("sh").args(["-c", "exit 3"]).spawn().unwrap();
        let pid = child.id();
        watch(child, tx);
        assert_eq!(rx.blocking_recv(), Some(Ended { pid, code: Some(3) }));
    }
}
