//! Training-throughput benchmark at the study's shapes, on the same synthetic data design as
//! `tools/bench/ref_sae.py` (or on its exact rows, from its `--save-data` file), so our engine
//! and PyTorch can be compared side by side.

use std::path::Path;
use std::time::Instant;

use candle_core::Device;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp1, StandardNormal};
use serde::Serialize;

use super::error::Result;
use super::sae::evaluate::{evaluate, EvalMetrics, Truth};
use super::sae::linalg::Threads;
use super::sae::{Init, TrainConfig, Trainer};
use super::set::InMemory;
use super::set::{BatchPlan, DataStats, GroundTruth};
use super::tensorfile::TensorFile;
use super::unit::normalise;

/// ref_sae.py's data design: sparse non-negative mixtures of unit ground-truth directions.
#[derive(Debug, Clone, Copy)]
pub struct SyntheticSpec {
    pub rows: usize,
    pub dim: usize,
    pub features: usize,
    /// Expected active features per row.
    pub active: f64,
    pub noise: f32,
    pub seed: u64,
}

impl Default for SyntheticSpec {
    fn default() -> Self {
        SyntheticSpec {
            rows: 31_783,
            dim: 512,
            features: 2048,
            active: 8.0,
            noise: 0.01,
            seed: 1234,
        }
    }
}

/// Rows [rows, dim] and their ground truth, drawn as ref_sae.py draws them (with our RNG).
pub fn synthetic(spec: SyntheticSpec) -> (Vec<f32>, GroundTruth) {
    let (d, k) = (spec.dim, spec.features);
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut dirs = Vec::with_capacity(k * d);
    for _ in 0..k {
        let mut g: Vec<f32> = (0..d).map(|_| StandardNormal.sample(&mut rng)).collect();
        normalise(&mut g);
        dirs.extend(g);
    }
    let p = spec.active / k as f64;
    let mut data = Vec::with_capacity(spec.rows * d);
    for _ in 0..spec.rows {
        let mut active: Vec<usize> = (0..k).filter(|_| rng.random_bool(p)).collect();
        if active.is_empty() {
            active.push(rng.random_range(0..k));
        }
        let mut x: Vec<f32> = (0..d)
            .map(|_| {
                let e: f32 = StandardNormal.sample(&mut rng);
                spec.noise * e
            })
            .collect();
        for f in active {
            let c: f32 = Exp1.sample(&mut rng);
            x.iter_mut()
                .zip(&dirs[f * d..(f + 1) * d])
                .for_each(|(v, g)| *v += c * g);
        }
        normalise(&mut x);
        data.extend(x);
    }
    let names = (0..k).map(|i| format!("gt{i}")).collect();
    (
        data,
        GroundTruth {
            names,
            directions: dirs,
        },
    )
}

/// Reads the file `ref_sae.py --save-data FILE` writes: tensors `x` [n, d] and `gt_dict` [k, d].
pub fn load_reference_data(path: &Path) -> Result<(Vec<f32>, GroundTruth)> {
    let f = TensorFile::read(path)?;
    let xs = f.shape("x").unwrap_or_default();
    let gs = f.shape("gt_dict").unwrap_or_default();
    let data = f.f32("x", &xs)?;
    let directions = f.f32("gt_dict", &gs)?;
    let names = (0..gs.first().copied().unwrap_or(0))
        .map(|i| format!("gt{i}"))
        .collect();
    Ok((data, GroundTruth { names, directions }))
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub steps: u64,
    pub examples: u64,
    pub train_seconds: f64,
    pub train_examples_per_sec: f64,
    pub train_ms_per_step: f64,
    pub threads: usize,
    pub final_metrics: EvalMetrics,
}

/// Trains on `data` (width `d`) for `config.epochs` epochs, or `max_steps` if fewer, and times it.
pub fn train_throughput(
    data: &[f32],
    d: usize,
    gt: Option<&GroundTruth>,
    config: TrainConfig,
    max_steps: Option<u64>,
    device: &Device,
) -> Result<BenchReport> {
    let rows = data.len() / d;
    let stats = DataStats::of(data, d);
    let init = Init::of(&config, data, d, &stats);
    let mut trainer = Trainer::new(config.clone(), d, &init, device, Threads::All)?;
    let mut plan = BatchPlan::new(rows, config.batch, config.seed);
    let total = config.total_steps(rows);
    let steps = max_steps.unwrap_or(u64::MAX).min(total);
    let mut scratch = Vec::new();
    let mut examples = 0u64;
    trainer.hold(data, rows)?;
    let start = Instant::now();
    for step in 0..steps {
        let lr = config.lr_at(step, total);
        examples += trainer.step_planned(&mut plan, data, step, lr, &mut scratch)? as u64;
    }
    // The GPU's queue drains before the clock stops.
    trainer.read()?;
    let seconds = start.elapsed().as_secs_f64();
    let snapshot = trainer.state()?;
    let truth = gt.map(|gt| Truth { gt, present: None });
    let (final_metrics, _) = evaluate(
        &snapshot.params,
        &InMemory::new(data, d),
        &stats,
        config.l1,
        truth,
        Threads::All,
    )?;
    Ok(BenchReport {
        steps,
        examples,
        train_seconds: seconds,
        train_examples_per_sec: examples as f64 / seconds,
        train_ms_per_step: 1000.0 * seconds / steps.max(1) as f64,
        threads: rayon::current_num_threads(),
        final_metrics,
    })
}
