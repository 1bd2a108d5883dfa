//! Runs: one trained SAE each, in `runs/NAME/`:
//!
//! - `run.toml`: the full configuration
//! - `metrics.jsonl`: one line per logged step, growing while it trains
//! - `checkpoint.safetensors`: weights, Adam state, step and data-order state
//! - `state.json` + `train.lock`: status and the training process
//! - `sae.safetensors` and `results.json` once done

pub mod log;
pub mod state;
pub mod summary;
pub mod sweep;
pub mod train;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use super::fsutil;
use super::sae::{Arch, TrainConfig};
use super::workspace::Workspace;

pub use log::MetricsRow;
pub use state::{RunState, Status};
pub use summary::{list_runs, read_all_runs, sort_for_tables, RunSummary};
pub use sweep::{sweep, SweepPlan};
pub use train::{train, Observer, RunOutcome, TrainRequest};

pub const CONFIG_FILE: &str = "run.toml";
pub const METRICS_FILE: &str = "metrics.jsonl";
pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";
/// The checkpoint before the last, kept to fall back on when the last is damaged.
pub const PREVIOUS_CHECKPOINT_FILE: &str = "checkpoint.prev.safetensors";
/// A request that the run's training stop at its next step, with a checkpoint.
pub const STOP_FILE: &str = "stop";

/// Asks whoever trains `run` (this process or another) to save a checkpoint and stop it, and
/// only it, at its next step.
pub fn request_stop(run: &RunDir) -> Result<()> {
    fsutil::write_atomic(&run.path(STOP_FILE), b"stop\n")
}
pub const WEIGHTS_FILE: &str = "sae.safetensors";
pub const RESULTS_FILE: &str = "results.json";
pub const STATE_FILE: &str = "state.json";

/// `run.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    pub name: String,
    /// The embedding set trained on.
    pub data: String,
    /// Rows and width of the set when the run began (a changed set cannot be resumed).
    pub rows: usize,
    pub dim: usize,
    pub created: u64,
    pub train: TrainConfig,
    /// Where an imported run's SAE came from; it has no training state and cannot resume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported: Option<crate::interop::Imported>,
}

/// The files of one run.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub name: String,
    pub dir: PathBuf,
}

impl RunDir {
    pub fn new(ws: &Workspace, name: &str) -> Self {
        RunDir {
            name: name.into(),
            dir: ws.run_dir(name),
        }
    }

    /// An existing run, or an error naming it.
    pub fn existing(ws: &Workspace, name: &str) -> Result<Self> {
        // A name, never a path: `..` must not reach outside the workspace.
        crate::workspace::validate_name("run", name)?;
        let run = Self::new(ws, name);
        if run.path(CONFIG_FILE).is_file() {
            Ok(run)
        } else {
            Err(Error::NoSuchRun {
                name: name.into(),
                dir: ws.runs_dir(),
            })
        }
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    pub fn config(&self) -> Result<RunConfig> {
        fsutil::read_toml(&self.path(CONFIG_FILE))
    }

    pub fn state(&self) -> Result<Option<RunState>> {
        let path = self.path(STATE_FILE);
        if path.is_file() {
            fsutil::read_json(&path).map(Some)
        } else {
            Ok(None)
        }
    }

    pub fn write_state(&self, state: &RunState) -> Result<()> {
        fsutil::write_json(&self.path(STATE_FILE), state)
    }

    pub fn metrics(&self) -> Result<Vec<MetricsRow>> {
        log::read(&self.path(METRICS_FILE))
    }

    pub fn results(&self) -> Result<Option<train::RunResults>> {
        let path = self.path(RESULTS_FILE);
        if path.is_file() {
            fsutil::read_json(&path).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// A finished run and its summary, or an error that says how to finish it: what reading a
/// run's SAE (latents, export, the card) starts with.
pub fn finished(ws: &Workspace, name: &str) -> Result<(RunDir, RunSummary)> {
    let run = RunDir::existing(ws, name)?;
    let summary = list_runs(ws, &[name.to_string()])?.remove(0);
    if summary.status != Status::Done {
        return Err(Error::invalid(
            "run",
            format!("run '{name}' has not finished; `saelab resume {name}` finishes it"),
        ));
    }
    Ok((run, summary))
}

/// A default run name from the set and the SAE: `demo-lam1e-3` (the study's ReLU),
/// `demo-topk-k32`, `demo-jumprelu-lam1e-3`; made unique in the workspace.
pub fn default_name(ws: &Workspace, data: &str, config: &TrainConfig) -> String {
    unique_name(ws, &format!("{data}-{}", run_label(config)))
}

/// What tells a run of a sweep from its siblings: its family and its k or λ.
pub fn run_label(config: &TrainConfig) -> String {
    let arch = config.arch;
    match (config.shown_k(), arch) {
        (Some(k), _) => format!("{}-k{k}", arch.name()),
        (None, Arch::Relu) => format!("lam{}", format_lambda(config.lambda)),
        (None, _) => format!("{}-lam{}", arch.name(), format_lambda(config.lambda)),
    }
}

/// `base`, or `base-2`, `base-3`, ... whichever does not exist yet.
pub fn unique_name(ws: &Workspace, base: &str) -> String {
    (1..)
        .map(|i| {
            if i == 1 {
                base.to_string()
            } else {
                format!("{base}-{i}")
            }
        })
        .find(|n| !ws.run_dir(n).exists())
        .expect("some suffix is free")
}

/// How a run sets its sparsity, for tables: `1e-3` (the study's λ), `topk k32`,
/// `jumprelu λ 1e-3`.
pub fn sparsity_label(config: &TrainConfig) -> String {
    match (config.shown_k(), config.arch) {
        (Some(k), a) => format!("{} k{k}", a.name()),
        (None, Arch::Relu) => format_lambda(config.lambda),
        (None, a) => format!("{} λ {}", a.name(), format_lambda(config.lambda)),
    }
}

/// λ in the short scientific form users type: 0.001 → `1e-3`, 0.03 → `3e-2`.
pub fn format_lambda(lambda: f64) -> String {
    format!("{lambda:e}")
}

#[cfg(test)]
mod name_tests {
    use super::*;

    #[test]
    fn lambda_names_are_short() {
        assert_eq!(format_lambda(1e-3), "1e-3");
        assert_eq!(format_lambda(0.03), "3e-2");
        assert_eq!(format_lambda(0.0), "0e0");
    }
}
