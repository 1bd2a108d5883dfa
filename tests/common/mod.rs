//! Helpers for running the real `saelab` binary on a temporary workspace.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Lab {
    pub dir: tempfile::TempDir,
}

impl Lab {
    pub fn new() -> Self {
        Lab {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn ws(&self) -> PathBuf {
        self.dir.path().join("ws")
    }

    pub fn hf_home(&self) -> PathBuf {
        self.dir.path().join("hf")
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_saelab"));
        c.arg("--workspace").arg(self.ws()).args(args);
        // Never the user's Hugging Face cache or the network.
        c.env_remove("SAELAB_WORKSPACE")
            .env("HF_HOME", self.hf_home())
            .env_remove("HF_ENDPOINT")
            .env_remove("HF_TOKEN")
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Runs and asserts success, returning stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "saelab {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs, asserts exit status `code`, returns stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(code), "saelab {args:?}: {err}");
        err
    }

    pub fn spawn(&self, args: &[&str]) -> Child {
        self.cmd(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Sixteen small distinct pictures of `side` pixels in a folder of the lab, for
    /// `folder:` data.
    pub fn pictures(&self, side: u32) -> PathBuf {
        let dir = self.dir.path().join("pictures");
        std::fs::create_dir_all(&dir).unwrap();
        let step = 240 / side;
        for i in 0..16u32 {
            let img = image::RgbImage::from_fn(side, side, |x, y| {
                image::Rgb([(x * step + i * 13) as u8, (y * step) as u8, (i * 16) as u8])
            });
            img.save(dir.join(format!("p{i:02}.png"))).unwrap();
        }
        dir
    }

    /// The steps a run's metrics log holds, in order.
    pub fn logged_steps(&self, run: &str) -> Vec<u64> {
        let log = std::fs::read_to_string(self.run_dir(run).join("metrics.jsonl")).unwrap();
        log.lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["step"]
                    .as_u64()
                    .unwrap()
            })
            .collect()
    }

    pub fn run_dir(&self, name: &str) -> PathBuf {
        self.ws().join("runs").join(name)
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all)).unwrap()
    }
}

/// Waits until `path` exists (or panics after a while).
pub fn wait_for(path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .arg(sig)
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}
