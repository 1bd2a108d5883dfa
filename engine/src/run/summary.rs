//! What `saelab runs` and `saelab metrics` show: one summary per run, read from its files.

use serde::Serialize;

use super::state::{effective_status, Status};
use super::train::RunResults;
use super::{RunConfig, RunDir};
use crate::error::Result;
use crate::workspace::Workspace;

#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub run: String,
    pub data: String,
    pub lambda: f64,
    pub arch: crate::sae::Arch,
    pub k: Option<usize>,
    pub status: Status,
    pub step: u64,
    pub total_steps: u64,
    #[serde(skip)]
    pub config: RunConfig,
    #[serde(skip)]
    pub results: Option<RunResults>,
}

impl RunSummary {
    pub fn read(run: &RunDir) -> Result<Self> {
        let config = run.config()?;
        let state = run.state()?;
        let last_logged = run.metrics()?.last().map(|r| r.step).unwrap_or(0);
        let (status, total_steps) = match &state {
            Some(s) => (effective_status(&run.dir, s), s.total_steps),
            None => (Status::Interrupted, config.train.total_steps(config.rows)),
        };
        let checkpointed = state.map(|s| s.checkpoint_step).unwrap_or(0);
        Ok(RunSummary {
            run: run.name.clone(),
            data: config.data.clone(),
            lambda: config.train.lambda,
            arch: config.train.arch,
            k: config.train.shown_k(),
            status,
            step: last_logged.max(checkpointed),
            total_steps,
            results: run.results()?,
            config,
        })
    }
}

/// Summaries of the named runs, or of every run when `names` is empty, sorted by name.
pub fn list_runs(ws: &Workspace, names: &[String]) -> Result<Vec<RunSummary>> {
    let names = if names.is_empty() {
        Workspace::list_names(&ws.runs_dir())?
            .into_iter()
            .filter(|n| ws.run_dir(n).join(super::CONFIG_FILE).is_file())
            .collect()
    } else {
        names.to_vec()
    };
    names
        .iter()
        .map(|n| RunSummary::read(&RunDir::existing(ws, n)?))
        .collect()
}

/// The order tables list runs in: runs of one sweep (same set and settings) together, by λ.
pub fn sort_for_tables(runs: &mut [RunSummary]) {
    runs.sort_by_key(|r| {
        let t = &r.config.train;
        (
            r.data.clone(),
            t.arch.name(),
            t.l1.name(),
            t.epochs,
            t.dict,
            t.shown_k(),
            t.lambda.to_bits(),
            r.run.clone(),
        )
    });
}
