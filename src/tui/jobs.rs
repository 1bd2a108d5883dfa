//! Jobs the lab starts: `saelab` child processes (sweep, resume, zeroshot) in their own process
//! group, logging to the workspace, so they keep running when the lab quits or the SSH session
//! drops; the lab attaches to them again through the runs' files. Stop sends SIGINT, on which
//! training saves a checkpoint and exits.

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::app::{GenerateRequest, SweepForm};
use crate::engine::error::{Error, Result};
use crate::engine::fsutil;
use crate::engine::kandinsky::settings::KandinskySettings;
use crate::engine::run::state::lock_holder;
use crate::engine::run::RunDir;
use crate::engine::set::now_unix;
use crate::engine::steer::Method;
use crate::engine::workspace::Workspace;

const LOG_DIR: &str = "logs";

/// `saelab`'s exit status after an interrupt that saved its work.
const EXIT_INTERRUPTED: i32 = 130;
/// Bytes read from the end of a job's log for its last line.
const TAIL_BYTES: u64 = 4096;
/// Characters of that line shown in the status bar.
const SHOWN: usize = 48;

/// A job this lab started, still running.
pub struct Job {
    pub label: String,
    child: Child,
    log: PathBuf,
}

/// How a job stands: running, done, or failed with its last words.
#[derive(Debug, Clone, PartialEq)]
pub enum JobState {
    Running,
    Done,
    Failed(String),
}

impl Job {
    pub fn state(&mut self) -> JobState {
        match self.child.try_wait() {
            Ok(None) => JobState::Running,
            // Stopped from the lab: Ctrl-C's status after a checkpoint was saved.
            Ok(Some(s)) if s.success() || s.code() == Some(EXIT_INTERRUPTED) => JobState::Done,
            _ => JobState::Failed(self.last_line()),
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

    /// A generation job's progress from its last line, `step N/M (picture)`.
    pub fn step(&self) -> Option<(usize, usize, String)> {
        parse_step(&self.last_line())
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
        log: log_path,
    })
}

pub fn sweep(ws: &Workspace, form: &SweepForm) -> Result<Job> {
    let (list_flag, list) = if form.sweeps_k() {
        ("--k", &form.ks)
    } else {
        ("--lambdas", &form.lambdas)
    };
    let mut args = vec![
        "sweep",
        "--data",
        &form.set,
        "--arch",
        &form.arch,
        list_flag,
        list,
        "--epochs",
        &form.epochs,
        "--dict",
        &form.dict,
        "--batch",
        &form.batch,
    ];
    if form.lr != "auto" {
        args.extend(["--lr", &form.lr]);
    }
    let args: Vec<String> = args.into_iter().map(String::from).collect();
    spawn(ws, "sweep", &args)
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

/// Label of generation jobs.
pub const GENERATE: &str = "generate";

/// `saelab steer … --generate` writing the triptych into `out`.
pub fn generate(
    ws: &Workspace,
    req: &GenerateRequest,
    settings: &KandinskySettings,
    out: &Path,
) -> Result<Job> {
    let method = match req.method {
        Method::Edit => "edit",
        Method::Add => "add",
    };
    let args = [
        "steer".to_string(),
        req.run.clone(),
        "--latent".into(),
        req.latent.to_string(),
        "--strength".into(),
        req.strength.to_string(),
        "--method".into(),
        method.into(),
        "--image".into(),
        req.image.to_string(),
        "--generate".into(),
        "--decoder".into(),
        settings.decoder.clone(),
        "--prior".into(),
        settings.prior.clone(),
        "--steps".into(),
        settings.steps.to_string(),
        "--size".into(),
        settings.size.to_string(),
        "--out".into(),
        out.display().to_string(),
    ];
    spawn(ws, GENERATE, &args)
}

/// `step 12/153 (plus)` → (12, 153, "plus").
fn parse_step(line: &str) -> Option<(usize, usize, String)> {
    let rest = line.strip_prefix("step ")?;
    let (counts, panel) = rest.split_once(' ')?;
    let (done, total) = counts.split_once('/')?;
    let panel = panel.trim_start_matches('(').trim_end_matches(')');
    Some((done.parse().ok()?, total.parse().ok()?, panel.to_string()))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn job(log: &str, exit: i32) -> (tempfile::TempDir, Job) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("job.log");
        std::fs::write(&path, log).unwrap();
        let child = Command::new("sh")
            .args(["-c", &format!("exit {exit}")])
            .spawn()
            .unwrap();
        let job = Job {
            label: "zeroshot demo100".into(),
            child,
            log: path,
        };
        (dir, job)
    }

    fn settled(job: &mut Job) -> JobState {
        loop {
            match job.state() {
                JobState::Running => std::thread::sleep(std::time::Duration::from_millis(10)),
                s => return s,
            }
        }
    }

    #[test]
    fn generation_progress_is_read_from_step_lines() {
        assert_eq!(
            parse_step("step 12/153 (plus)"),
            Some((12, 153, "plus".into()))
        );
        assert_eq!(parse_step("generating on the CPU: …"), None);
        let (_d, j) = job("step 1/9 (prior)\nstep 2/9 (prior)\n", 0);
        assert_eq!(j.step(), Some((2, 9, "prior".into())));
    }

    #[test]
    fn a_job_shows_its_last_line_and_a_failure_says_why() {
        let (_d, mut j) = job(
            "scoring demo100 through r1…\nerror: no run named 'r2'\n\n",
            1,
        );
        assert_eq!(j.status(), "zeroshot demo100: error: no run named 'r2'");
        assert_eq!(
            settled(&mut j),
            JobState::Failed("error: no run named 'r2'".into())
        );
        let (_d, mut stopped) = job("interrupted: saving checkpoints\n", EXIT_INTERRUPTED);
        assert_eq!(settled(&mut stopped), JobState::Done);
        let (_d, quiet) = job("", 0);
        assert_eq!(quiet.status(), "zeroshot demo100");
    }
}
