//! Jobs the lab starts: `saelab` child processes (sweep, resume, zeroshot) in their own process
//! group, logging to the workspace, so they keep running when the lab quits or the SSH session
//! drops; the lab attaches to them again through the runs' files. Stop sends SIGINT, on which
//! training saves a checkpoint and exits.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::app::SweepForm;
use crate::engine::error::{Error, Result};
use crate::engine::fsutil;
use crate::engine::run::state::lock_holder;
use crate::engine::run::RunDir;
use crate::engine::set::now_unix;
use crate::engine::workspace::Workspace;

const LOG_DIR: &str = "logs";

/// A job this lab started, still running.
pub struct Job {
    pub label: String,
    child: Child,
}

impl Job {
    /// True once the process has exited.
    pub fn finished(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }
}

fn spawn(ws: &Workspace, label: &str, args: &[String]) -> Result<Job> {
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
        .args(args)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| Error::io("could not start", Path::new("saelab"), e))?;
    Ok(Job {
        label: label.to_string(),
        child,
    })
}

pub fn sweep(ws: &Workspace, form: &SweepForm) -> Result<Job> {
    let args = [
        "sweep",
        "--data",
        &form.set,
        "--lambdas",
        &form.lambdas,
        "--epochs",
        &form.epochs,
        "--dict",
        &form.dict,
        "--batch",
        &form.batch,
        "--lr",
        &form.lr,
    ];
    spawn(ws, "sweep", &args.map(String::from))
}

pub fn resume(ws: &Workspace, run: &str) -> Result<Job> {
    spawn(ws, &format!("resume {run}"), &["resume".into(), run.into()])
}

pub fn zeroshot(ws: &Workspace, task: &str) -> Result<Job> {
    spawn(
        ws,
        &format!("zeroshot {task}"),
        &["zeroshot".into(), "--task".into(), task.into()],
    )
}

/// Asks the process training `run` (this lab's or another shell's) to save and stop.
pub fn stop(ws: &Workspace, run: &str) -> Result<()> {
    let dir = RunDir::new(ws, run);
    let pid = lock_holder(&dir.dir)
        .ok_or_else(|| Error::invalid("run", format!("no process is training '{run}'")))?;
    let status = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .map_err(|e| Error::io("could not run", "kill", e))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::invalid(
            "run",
            format!("process {pid} training '{run}' could not be signalled"),
        ))
    }
}
