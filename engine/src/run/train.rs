//! The training loop of one run: starts or resumes from the last checkpoint, logs metrics as it
//! goes, checkpoints every N steps and at each epoch's end, stops cleanly when cancelled, stops
//! with its last good checkpoint kept when the loss diverges, and evaluates the final SAE.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::log::{self, MetricsRow};
use super::state::{self, RunState, Status};
use super::{
    RunConfig, RunDir, CHECKPOINT_FILE, METRICS_FILE, PREVIOUS_CHECKPOINT_FILE, RESULTS_FILE,
    STOP_FILE, WEIGHTS_FILE,
};
use crate::clock::{now_unix, unix_seconds};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::sae::checkpoint::{self, Position};
use crate::sae::config::L1Convention;
use crate::sae::evaluate::{evaluate, EvalMetrics, Truth};
use crate::sae::gt_match::presence;
use crate::sae::init::MEDIAN_SAMPLE;
use crate::sae::linalg::Threads;
use crate::sae::loss::StepStats;
use crate::sae::trainer::{Batch, Reading};
use crate::sae::{BiasInit, Init, SaeParams, Snapshot, TrainConfig, Trainer};
use crate::set::{BatchPlan, EmbeddingSet, ShuffleStream};
use candle_core::Device;

/// `results.json`: the final SAE's metrics over the whole set, and how fast it trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResults {
    #[serde(flatten)]
    pub metrics: EvalMetrics,
    pub examples_per_sec: f64,
    pub steps: u64,
    pub train_seconds: f64,
}

/// Hears about a run's progress (progress bars, the lab). Called from the training thread.
pub trait Observer: Sync {
    fn started(&self, _run: &str, _step: u64, _total: u64) {}
    fn logged(&self, _run: &str, _row: &MetricsRow, _total: u64) {}
    /// Something the user should know that does not stop the run.
    fn warned(&self, _run: &str, _message: &str) {}
}

/// An observer that ignores everything.
pub struct Silent;
impl Observer for Silent {}

pub struct TrainRequest<'a> {
    pub run: RunDir,
    pub set: &'a EmbeddingSet,
    pub device: &'a Device,
    /// CPU threads for the products (one when several runs share the cores).
    pub threads: Threads,
    pub cancel: &'a AtomicBool,
    pub observer: &'a dyn Observer,
}

#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub run: String,
    pub results: RunResults,
}

/// Writes a new run's `run.toml`. Fails if a run of that name exists: nothing is overwritten.
pub fn create_run(run: &RunDir, config: &RunConfig) -> Result<()> {
    config.train.validate()?;
    // A folder a killed creation left without its run.toml (and now empty) holds no run.
    if !run.path(super::CONFIG_FILE).exists() {
        let _ = std::fs::remove_dir(&run.dir);
    }
    if run.dir.exists() {
        return Err(Error::invalid(
            "--name",
            format!(
                "run '{}' already exists; `saelab resume {}` continues it, or choose another --name",
                run.name, run.name
            ),
        ));
    }
    config.train.check_fits(config.rows, config.dim)?;
    fsutil::create_dir(&run.dir)?;
    fsutil::write_toml(&run.path(super::CONFIG_FILE), config)
}

/// Trains (or continues) the run to the end of its configured epochs.
pub fn train(req: TrainRequest) -> Result<RunOutcome> {
    let run = &req.run;
    let cfg = run.config()?;
    if let Some(imported) = &cfg.imported {
        return Err(Error::invalid(
            "run",
            format!(
                "run '{}' was imported from {}: it has no training state to resume; train a new run on its set instead",
                run.name, imported.source
            ),
        ));
    }
    cfg.train.validate()?;
    cfg.train.check_fits(cfg.rows, cfg.dim)?;
    check_set_matches(&cfg, req.set)?;
    check_same_rows(run, req.set)?;
    // Held however the loop ends.
    let _lock = state::acquire(&run.dir, &run.name)?;
    // A request to stop that came while no process trained the run is spent.
    let _ = std::fs::remove_file(run.path(STOP_FILE));
    Loop::start(&req, cfg)?.run(&req)
}

fn check_set_matches(cfg: &RunConfig, set: &EmbeddingSet) -> Result<()> {
    if cfg.data != set.name() || cfg.rows != set.rows() || cfg.dim != set.dim() {
        return Err(Error::invalid(
            "embedding set",
            format!(
                "run '{}' was made for set '{}' with {} rows of {} dimensions, but set '{}' has {} rows of {}; re-create the set as it was, or start a new run",
                cfg.name, cfg.data, cfg.rows, cfg.dim, set.name(), set.rows(), set.dim()
            ),
        ));
    }
    Ok(())
}

/// The set's checksum, kept in the run when it first trains.
pub const SET_CHECKSUM_FILE: &str = "set.checksum";

/// Refuses a set whose rows changed since the run first trained on it (same name and shape,
/// other data); records the checksum on the first training.
fn check_same_rows(run: &RunDir, set: &EmbeddingSet) -> Result<()> {
    let path = run.path(SET_CHECKSUM_FILE);
    let now = set.checksum();
    match std::fs::read_to_string(&path) {
        Ok(kept) if kept.trim() == now => Ok(()),
        Ok(_) => Err(Error::invalid(
            "embedding set",
            format!(
                "set '{}' was re-created since run '{}' began: its rows differ from those the run trained on; re-create the set as it was, or start a new run",
                set.name(),
                run.name
            ),
        )),
        Err(_) => fsutil::write_atomic(&path, now.as_bytes()),
    }
}

/// The last checkpoint, or the one before it when the last is damaged (said through the
/// observer) or missing (a process killed between keeping the one and writing the other).
fn last_good_checkpoint(req: &TrainRequest, t: &TrainConfig) -> Result<Option<Snapshot>> {
    let (last, previous) = (
        req.run.path(CHECKPOINT_FILE),
        req.run.path(PREVIOUS_CHECKPOINT_FILE),
    );
    if !last.is_file() {
        return match previous.is_file() {
            true => checked_checkpoint(&previous, req.set, t).map(Some),
            false => Ok(None),
        };
    }
    match checked_checkpoint(&last, req.set, t) {
        Ok(snapshot) => Ok(Some(snapshot)),
        Err(damaged) if previous.is_file() => match checked_checkpoint(&previous, req.set, t) {
            Ok(snapshot) => {
                req.observer.warned(
                    &req.run.name,
                    &format!(
                        "{damaged}; resuming from the previous checkpoint (step {})",
                        snapshot.adam.t
                    ),
                );
                Ok(Some(snapshot))
            }
            Err(_) => Err(damaged),
        },
        Err(damaged) => Err(damaged),
    }
}

/// A checkpoint that reads whole and fits this run's data order and length.
fn checked_checkpoint(path: &Path, set: &EmbeddingSet, t: &TrainConfig) -> Result<Snapshot> {
    let (snapshot, pos) = checkpoint::load_checkpoint(path, set.dim(), t.dict)?;
    if pos.rows != set.rows() || pos.seed != t.seed {
        return Err(Error::bad_file(
            path,
            "was made with another data order (rows or seed differ from run.toml)",
        ));
    }
    let total = t.total_steps(set.rows());
    if pos.step > total || snapshot.adam.t != pos.step {
        return Err(Error::bad_file(
            path,
            format!(
                "says step {} of a run of {total} steps (Adam at {}): the checkpoint is damaged; delete it to train the run again from the start",
                pos.step, snapshot.adam.t
            ),
        ));
    }
    Ok(snapshot)
}

/// A run's source of batches.
enum Batches<'s> {
    Planned(BatchPlan, &'s [f32]),
    Streamed(ShuffleStream),
}

struct Loop {
    cfg: RunConfig,
    trainer: Trainer,
    total: u64,
    last_checkpoint: u64,
    started: Instant,
    start_step: u64,
    /// The set's variance per element, Σ‖x − x̄‖² / (rows · d), for the logged R².
    variance: f64,
}

impl Loop {
    fn start(req: &TrainRequest, cfg: RunConfig) -> Result<Self> {
        let set = req.set;
        let t = &cfg.train;
        let data = set.stats()?;
        let trainer = if let Some(snapshot) = last_good_checkpoint(req, t)? {
            Trainer::resume(t.clone(), snapshot, data.mean_norm, req.device, req.threads)?
        } else {
            // Only the median needs rows: an even sample, which a sharded set reads in pieces.
            let sample = match t.b_dec_init {
                BiasInit::Median => set.strided_sample(MEDIAN_SAMPLE)?,
                BiasInit::Mean | BiasInit::Zero => Vec::new(),
            };
            let init = Init::of(t, &sample, set.dim(), &data);
            Trainer::new(t.clone(), set.dim(), &init, req.device, req.threads)?
        };
        let start_step = trainer.step_count();
        log::truncate_after(&req.run.path(METRICS_FILE), start_step)?;
        let total = t.total_steps(set.rows());
        let this = Loop {
            cfg,
            trainer,
            variance: data.sst / (set.rows() * set.dim()).max(1) as f64,
            total,
            last_checkpoint: start_step,
            started: Instant::now(),
            start_step,
        };
        this.set_state(&req.run, Status::Running, None)?;
        req.observer.started(&req.run.name, start_step, total);
        Ok(this)
    }

    fn set_state(&self, run: &RunDir, status: Status, message: Option<String>) -> Result<()> {
        run.write_state(&RunState {
            status,
            checkpoint_step: self.last_checkpoint,
            total_steps: self.total,
            message,
            updated: now_unix(),
        })
    }

    fn run(mut self, req: &TrainRequest) -> Result<RunOutcome> {
        let set = req.set;
        let per_epoch = self.cfg.train.steps_per_epoch(set.rows());
        let mut batches = self.batches(set)?;
        let mut scratch = Vec::new();
        let mut window = (Instant::now(), 0u64);
        while self.trainer.step_count() < self.total {
            let step = self.trainer.step_count();
            // Ctrl-C stops every run of the process; a stop request (a file, one stat a step)
            // stops this run alone.
            let stop = req.run.path(STOP_FILE);
            if req.cancel.load(Ordering::Relaxed) || stop.exists() {
                self.read(req)?;
                if !self.checkpoint(req, set.rows())? {
                    return Err(self.diverged(req, step, f64::NAN));
                }
                self.set_state(
                    &req.run,
                    Status::Interrupted,
                    Some("stopped by the user".into()),
                )?;
                let _ = std::fs::remove_file(&stop);
                return Err(Error::Interrupted);
            }
            let lr = self.cfg.train.lr_at(step, self.total);
            let rows = match &mut batches {
                Batches::Planned(plan, data) => {
                    self.trainer
                        .step_planned(plan, data, step, lr, &mut scratch)?
                }
                Batches::Streamed(stream) => {
                    let rows = stream.batch(step, &mut scratch)?;
                    self.trainer.step(Batch::Rows(&scratch, rows), lr)?;
                    rows
                }
            };
            window.1 += rows as u64;
            let done = step + 1;
            let log = done.is_multiple_of(self.cfg.train.log_every) || done == self.total;
            let save = done.is_multiple_of(self.cfg.train.checkpoint_every)
                || done.is_multiple_of(per_epoch)
                || done == self.total;
            // A GPU's stats are read where they are used; waiting for them every step would
            // idle it between steps.
            let stats = if log || save || self.trainer.wants_read() {
                self.read(req)?
            } else {
                None
            };
            if let (true, Some(stats)) = (log, stats) {
                let per_sec = window.1 as f64 / window.0.elapsed().as_secs_f64().max(1e-9);
                let row = MetricsRow {
                    step: done,
                    epoch: step / per_epoch,
                    examples: examples_after(done, per_epoch, self.cfg.train.batch, set.rows()),
                    loss: stats.loss,
                    mse: stats.mse,
                    l1: stats.l1,
                    avg_l0: stats.avg_l0,
                    r2: (self.variance > 0.0).then(|| 1.0 - stats.mse / self.variance),
                    dead_frac: stats.dead_frac,
                    arch: Some(self.cfg.train.arch),
                    k: self.cfg.train.shown_k(),
                    examples_per_sec: per_sec,
                    time: unix_seconds(),
                };
                log::append(&req.run.path(METRICS_FILE), &row)?;
                req.observer.logged(&req.run.name, &row, self.total);
                window = (Instant::now(), 0);
            }
            if save {
                if !self.checkpoint(req, set.rows())? {
                    return Err(self.diverged(req, done, f64::NAN));
                }
                self.set_state(&req.run, Status::Running, None)?;
            }
        }
        self.finish(req)
    }

    /// Where the batches come from: a set in memory by the plan's permutation (held on the
    /// device where it fits), a sharded one through the shuffle buffer.
    fn batches<'s>(&mut self, set: &'s EmbeddingSet) -> Result<Batches<'s>> {
        let t = &self.cfg.train;
        if let Some(shards) = set.shards() {
            let stream = ShuffleStream::new(
                shards.clone(),
                t.batch,
                t.seed,
                t.epochs as u64,
                t.shuffle_window,
            );
            return Ok(Batches::Streamed(stream));
        }
        let data = set.data()?;
        self.trainer.hold(data, set.rows())?;
        Ok(Batches::Planned(
            BatchPlan::new(set.rows(), t.batch, t.seed),
            data,
        ))
    }

    /// The last step's stats (None when no step was taken since the last read), or the
    /// run's end when a step's loss was not finite.
    fn read(&mut self, req: &TrainRequest) -> Result<Option<StepStats>> {
        match self.trainer.read()? {
            Reading::Nothing => Ok(None),
            Reading::Stats(stats) => Ok(Some(stats)),
            Reading::Diverged { step, loss } => Err(self.diverged(req, step, loss)),
        }
    }

    /// Saves a checkpoint unless the weights hold a NaN or infinity (then returns false and
    /// keeps the previous one).
    fn checkpoint(&mut self, req: &TrainRequest, rows: usize) -> Result<bool> {
        let pos = Position {
            step: self.trainer.step_count(),
            rows,
            seed: self.cfg.train.seed,
        };
        let snapshot = self.trainer.state()?;
        if !snapshot.params.all_finite() {
            return Ok(false);
        }
        let last = req.run.path(CHECKPOINT_FILE);
        if last.is_file() {
            let previous = req.run.path(PREVIOUS_CHECKPOINT_FILE);
            std::fs::rename(&last, &previous)
                .map_err(|e| Error::io("could not keep the checkpoint as", &previous, e))?;
        }
        checkpoint::save_checkpoint(&last, &snapshot, pos)?;
        self.last_checkpoint = pos.step;
        Ok(true)
    }

    fn diverged(&self, req: &TrainRequest, step: u64, loss: f64) -> Error {
        let err = Error::Diverged {
            run: req.run.name.clone(),
            step,
            loss,
            kept_step: self.last_checkpoint,
        };
        if let Err(e) = self.set_state(&req.run, Status::Diverged, Some(err.to_string())) {
            return e;
        }
        err
    }

    fn finish(self, req: &TrainRequest) -> Result<RunOutcome> {
        let seconds = self.started.elapsed().as_secs_f64();
        let set = req.set;
        let t = &self.cfg.train;
        let mut extra = HashMap::from([
            ("lambda".to_string(), t.lambda.to_string()),
            ("l1".to_string(), t.l1.name().to_string()),
            ("data".to_string(), self.cfg.data.clone()),
            ("arch".to_string(), t.arch.name().to_string()),
        ]);
        if let Some(k) = t.shown_k() {
            extra.insert("train_k".to_string(), k.to_string());
        }
        let snapshot = self.trainer.state()?;
        let params = &snapshot.params;
        checkpoint::save_weights(&req.run.path(WEIGHTS_FILE), params, extra)?;
        let metrics = evaluate_on_set(params, set, t.l1, req.threads)?;
        let steps = self.trainer.step_count() - self.start_step;
        let trained = steps as f64 * t.batch.min(set.rows()) as f64;
        let results = RunResults {
            metrics,
            examples_per_sec: if seconds > 0.0 {
                trained / seconds
            } else {
                0.0
            },
            steps: self.trainer.step_count(),
            train_seconds: seconds,
        };
        fsutil::write_json(&req.run.path(RESULTS_FILE), &results)?;
        self.set_state(&req.run, Status::Done, None)?;
        Ok(RunOutcome {
            run: req.run.name.clone(),
            results,
        })
    }
}

/// The SAE's metrics on the whole set, with the demo world's ground-truth scores where the
/// set has them.
pub fn evaluate_on_set(
    params: &SaeParams,
    set: &EmbeddingSet,
    l1: L1Convention,
    threads: Threads,
) -> Result<EvalMetrics> {
    let gt = set.ground_truth()?;
    // Items that name their concepts (the demo world's) let detection F1 be scored.
    let present = match &gt {
        Some(gt) if set.rows() > 0 => set
            .items()
            .ok()
            .filter(|items| items.len() == set.rows())
            .map(|items| presence(&items, gt)),
        _ => None,
    };
    let truth = gt.as_ref().map(|gt| Truth {
        gt,
        present: present.as_deref(),
    });
    Ok(evaluate(params, set, &set.stats()?, l1, truth, threads)?.0)
}

/// Examples seen after `done` steps, counting each epoch's short last batch.
fn examples_after(done: u64, per_epoch: u64, batch: usize, rows: usize) -> u64 {
    let (epochs, within) = (done / per_epoch, done % per_epoch);
    epochs * rows as u64 + within * batch as u64
}
