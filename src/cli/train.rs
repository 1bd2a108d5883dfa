//! `saelab train`, `sweep` and `resume`.

use candle_core::Device;

use super::args::{TrainOpts, DEFAULT_KS};
use super::progress::Progress;
use super::tables::print_json;
use super::{Ctx, CANCEL};
use crate::engine::error::Error;
use crate::engine::fsutil;
use crate::engine::run::sweep::train_concurrently;
use crate::engine::run::train::create_run;
use crate::engine::run::{
    default_name, list_runs, sweep, RunConfig, RunDir, RunOutcome, SweepPlan, CONFIG_FILE,
};
use crate::engine::sae::Arch;
use crate::engine::set::{now_unix, EmbeddingSet};
use crate::engine::workspace::validate_name;
use crate::engine::Result;

/// λ where the family needs one (and refused where it takes none).
fn lambda_for(arch: Arch, lambda: Option<f64>) -> crate::engine::Result<Option<f64>> {
    match (arch.uses_lambda(), lambda) {
        (true, None) => Err(Error::invalid(
            "--lambda",
            format!(
                "--arch {} needs a sparsity coefficient, e.g. --lambda 1e-3",
                arch.name()
            ),
        )),
        (false, Some(_)) => Err(Error::invalid(
            "--lambda",
            format!(
                "--arch {} sets its sparsity with --k, not --lambda",
                arch.name()
            ),
        )),
        _ => Ok(lambda),
    }
}

pub fn train(
    ctx: &Ctx,
    data: &str,
    lambda: Option<f64>,
    k: Option<usize>,
    name: Option<String>,
    opts: &TrainOpts,
) -> anyhow::Result<()> {
    let lambda = lambda_for(opts.arch.into(), lambda)?;
    let config = opts.config(lambda, k);
    config.validate()?;
    let set = EmbeddingSet::open(&ctx.ws, data)?;
    // Before the run is created, so an unusable device leaves nothing behind.
    let device = ctx.device.open()?;
    config.check_device(&device)?;
    let name = match name {
        Some(n) => {
            validate_name("--name", &n)?;
            n
        }
        None => default_name(&ctx.ws, data, &config),
    };
    let run = RunDir::new(&ctx.ws, &name);
    create_run(
        &run,
        &RunConfig {
            name: name.clone(),
            data: data.into(),
            rows: set.rows(),
            dim: set.dim(),
            created: now_unix(),
            train: config,
            imported: None,
        },
    )?;
    ctx.note(&format!("run '{name}' in {}", run.dir.display()));
    finish(ctx, &set, train_runs(ctx, &set, &device, vec![run]))
}

fn train_runs(
    ctx: &Ctx,
    set: &EmbeddingSet,
    device: &Device,
    runs: Vec<RunDir>,
) -> Vec<(String, Result<RunOutcome>)> {
    let progress = Progress::new(ctx.quiet);
    let out = train_concurrently(runs, set, device, &CANCEL, &progress);
    progress.finish();
    out
}

pub fn sweep_cmd(
    ctx: &Ctx,
    data: &str,
    lambdas: &[f64],
    ks: &[usize],
    prefix: Option<String>,
    opts: &TrainOpts,
) -> anyhow::Result<()> {
    let arch: Arch = opts.arch.into();
    let configs: Vec<_> = if arch.uses_k() {
        let defaults: Vec<usize> = DEFAULT_KS
            .split(',')
            .filter_map(|k| k.parse().ok())
            .collect();
        let ks = if ks.is_empty() { &defaults[..] } else { ks };
        ks.iter().map(|&k| opts.config(None, Some(k))).collect()
    } else {
        if !ks.is_empty() {
            return Err(Error::invalid(
                "--k",
                format!("--arch {} sweeps --lambdas, not --k", arch.name()),
            )
            .into());
        }
        lambdas
            .iter()
            .map(|&l| opts.config(Some(l), None))
            .collect()
    };
    if configs.is_empty() {
        return Err(Error::invalid("--lambdas", "give at least one λ, e.g. 1e-3,1e-2,3e-2").into());
    }
    if let Some(p) = &prefix {
        validate_name("--prefix", p)?;
    }
    let set = EmbeddingSet::open(&ctx.ws, data)?;
    let plan = SweepPlan { configs, prefix };
    let device = ctx.device.open()?;
    let progress = Progress::new(ctx.quiet);
    let outcomes = sweep(&ctx.ws, &set, &plan, &device, &CANCEL, &progress)?;
    progress.finish();
    finish(ctx, &set, outcomes)
}

pub fn resume(ctx: &Ctx, names: &[String], epochs: Option<usize>) -> anyhow::Result<()> {
    let mut runs = Vec::new();
    let mut data = None;
    for name in names {
        let run = RunDir::existing(&ctx.ws, name)?;
        let mut config = run.config()?;
        if let Some(e) = epochs.filter(|&e| e != config.train.epochs) {
            if e < config.train.epochs {
                return Err(Error::invalid(
                    "--epochs",
                    format!(
                        "run '{name}' already has {} epochs; it can only be extended",
                        config.train.epochs
                    ),
                )
                .into());
            }
            config.train.epochs = e;
            fsutil::write_toml(&run.path(CONFIG_FILE), &config)?;
        }
        if data.get_or_insert_with(|| config.data.clone()) != &config.data {
            return Err(Error::invalid("runs", "resume runs of one set at a time").into());
        }
        let summary = list_runs(&ctx.ws, std::slice::from_ref(name))?.remove(0);
        if summary.step >= summary.total_steps && summary.results.is_some() && epochs.is_none() {
            ctx.note(&format!(
                "run '{name}' is already done ({} steps); --epochs N extends it",
                summary.step
            ));
            continue;
        }
        runs.push(run);
    }
    let Some(data) = data else { return Ok(()) };
    if runs.is_empty() {
        return Ok(());
    }
    let set = EmbeddingSet::open(&ctx.ws, &data)?;
    let device = ctx.device.open()?;
    let outcomes: Vec<_> = train_runs(ctx, &set, &device, runs);
    finish(ctx, &set, outcomes)
}

/// Reports each run's outcome; the first error (Ctrl-C first of all) becomes the exit status.
fn finish(
    ctx: &Ctx,
    set: &EmbeddingSet,
    outcomes: Vec<(String, Result<RunOutcome>)>,
) -> anyhow::Result<()> {
    let mut first_error = None;
    let mut done = Vec::new();
    let several = outcomes.len() > 1;
    for (name, outcome) in outcomes {
        match outcome {
            Ok(o) => {
                let m = &o.results.metrics;
                ctx.note(&format!(
                    "{name}: done. L0 {:.1}, MSE {:.3e}, R² {:.4}, dead {:.1}%{}{} ({:.0} examples/s)",
                    m.avg_l0,
                    m.mse,
                    m.r2,
                    100.0 * m.dead_frac,
                    m.gt_recovery.map(|g| format!(", gt recovery {g:.3}")).unwrap_or_default(),
                    m.gt_mcc.map(|g| format!(", gt mcc {g:.3}")).unwrap_or_default(),
                    o.results.examples_per_sec
                ));
                done.push(o);
            }
            Err(Error::Interrupted) => {
                ctx.note(&format!(
                    "{name}: saved at its last step; `saelab resume {name}` continues it"
                ));
                first_error = Some(anyhow::Error::new(Error::Interrupted));
            }
            // One run's error is the command's; of several, each is named as it comes and the
            // command says which failed, once.
            Err(e) if several => {
                eprintln!("error: {name}: {e}");
                first_error.get_or_insert(anyhow::anyhow!("run '{name}' failed (see above)"));
            }
            Err(e) => {
                first_error.get_or_insert(anyhow::Error::new(e));
            }
        }
    }
    if ctx.json {
        let rows: Vec<_> = done
            .iter()
            .map(|o| serde_json::json!({"run": o.run, "data": set.name(), "results": o.results}))
            .collect();
        print_json(&rows)?;
    }
    first_error.map_or(Ok(()), Err)
}
