//! A sweep: one run per λ or k, trained side by side on one memory-mapped copy of the set.

use std::sync::atomic::AtomicBool;

use candle_core::Device;

use super::train::{create_run, train, Observer, RunOutcome, TrainRequest};
use super::{run_label, RunConfig, RunDir};
use crate::error::{Error, Result};
use crate::sae::linalg::Threads;
use crate::sae::TrainConfig;
use crate::set::{now_unix, EmbeddingSet};
use crate::workspace::Workspace;

pub struct SweepPlan {
    /// One config per run: the values swept (λ, k) differ, the rest is shared.
    pub configs: Vec<TrainConfig>,
    /// Name prefix; runs are called `PREFIX-LABEL`, LABEL from [`super::run_label`] (default prefix:
    /// the set's name).
    pub prefix: Option<String>,
}

/// Creates one run per config and trains them concurrently on one read of the set; returns
/// each run's outcome in the plan's order. A run that fails (diverges, say) does not stop the
/// others.
pub fn sweep(
    ws: &Workspace,
    set: &EmbeddingSet,
    plan: &SweepPlan,
    device: &Device,
    cancel: &AtomicBool,
    observer: &dyn Observer,
) -> Result<Vec<(String, Result<RunOutcome>)>> {
    // Every run is checked before any is made, so a bad one leaves nothing behind.
    for train in &plan.configs {
        train.validate()?;
        train.check_device(device)?;
    }
    for train in &plan.configs {
        train.check_fits(set.rows(), set.dim())?;
    }
    // A sweep's names are its set (or prefix) and each run's family and λ or k: repeating a
    // sweep would repeat them, which is refused rather than numbered.
    let prefix = plan.prefix.as_deref().unwrap_or(set.name());
    let names: Vec<String> = plan
        .configs
        .iter()
        .map(|t| format!("{prefix}-{}", run_label(t)))
        .collect();
    let taken: Vec<&str> = names
        .iter()
        .filter(|n| ws.run_dir(n).exists())
        .map(String::as_str)
        .collect();
    if let Some(twice) = names
        .iter()
        .enumerate()
        .find_map(|(i, n)| names[..i].contains(n).then_some(n))
    {
        return Err(Error::invalid(
            "--lambdas",
            format!("the sweep names run {twice} twice: give each λ or k once"),
        ));
    }
    if !taken.is_empty() {
        return Err(Error::invalid(
            "--prefix",
            format!(
                "runs {} already exist from an earlier sweep: `saelab resume` continues them, or give --prefix NAME for a new sweep",
                taken.join(", ")
            ),
        ));
    }
    let mut runs = Vec::new();
    for (train, name) in plan.configs.iter().zip(names) {
        let run = RunDir::new(ws, &name);
        create_run(
            &run,
            &RunConfig {
                name: name.clone(),
                data: set.name().into(),
                rows: set.rows(),
                dim: set.dim(),
                created: now_unix(),
                train: train.clone(),
                imported: None,
            },
        )?;
        runs.push(run);
    }
    Ok(train_concurrently(runs, set, device, cancel, observer))
}

/// Trains the runs side by side: each on one thread when they fill the cores, else with all.
pub fn train_concurrently(
    runs: Vec<RunDir>,
    set: &EmbeddingSet,
    device: &Device,
    cancel: &AtomicBool,
    observer: &dyn Observer,
) -> Vec<(String, Result<RunOutcome>)> {
    let threads = if runs.len() > 1 {
        Threads::One
    } else {
        Threads::All
    };
    std::thread::scope(|scope| {
        let handles: Vec<_> = runs
            .into_iter()
            .map(|run| {
                let name = run.name.clone();
                let handle = scope.spawn(move || {
                    train(TrainRequest {
                        run,
                        set,
                        device,
                        threads,
                        cancel,
                        observer,
                    })
                });
                (name, handle)
            })
            .collect();
        handles
            .into_iter()
            .map(|(name, h)| (name, h.join().expect("a training thread panicked")))
            .collect()
    })
}
