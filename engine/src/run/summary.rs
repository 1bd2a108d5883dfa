//! What `saelab runs` and `saelab metrics` show: one summary per run, read from its files.

use serde::Serialize;

use super::state::{effective_status, Status};
use super::train::RunResults;
use super::{RunConfig, RunDir};
use crate::error::{Error, Result};
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
    /// Where an imported run's SAE came from (null for a trained run).
    pub imported: Option<String>,
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
            imported: config.imported.as_ref().map(|i| i.source.clone()),
            config,
        })
    }
}

/// Summaries of the named runs, or of every readable run when `names` is empty, sorted by
/// name: one damaged run never hides the others ([`read_all_runs`] also says which were left
/// out).
pub fn list_runs(ws: &Workspace, names: &[String]) -> Result<Vec<RunSummary>> {
    if names.is_empty() {
        return Ok(read_all_runs(ws)?.0);
    }
    names
        .iter()
        .map(|n| RunSummary::read(&RunDir::existing(ws, n)?))
        .collect()
}

/// Runs whose files cannot be read: each name, with why.
pub type Unreadable = Vec<(String, Error)>;

/// Every run of the workspace, sorted by name: the readable ones' summaries, and those whose
/// files cannot be read.
pub fn read_all_runs(ws: &Workspace) -> Result<(Vec<RunSummary>, Unreadable)> {
    let mut runs = Vec::new();
    let mut unreadable = Vec::new();
    for name in Workspace::list_names(&ws.runs_dir())? {
        if !ws.run_dir(&name).join(super::CONFIG_FILE).is_file() {
            continue;
        }
        match RunDir::existing(ws, &name).and_then(|r| RunSummary::read(&r)) {
            Ok(summary) => runs.push(summary),
            Err(e) => unreadable.push((name, e)),
        }
    }
    Ok((runs, unreadable))
}

/// The order tables list runs in: by set, then family, then λ (or k), then the other settings.
pub fn sort_for_tables(runs: &mut [RunSummary]) {
    runs.sort_by_key(|r| {
        let t = &r.config.train;
        (
            r.data.clone(),
            t.arch.name(),
            t.shown_k(),
            t.lambda.to_bits(),
            t.epochs,
            t.dict,
            t.l1.name(),
            r.run.clone(),
        )
    });
}
