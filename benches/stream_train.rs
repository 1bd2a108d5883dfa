//! Streaming training at scale: a sharded set of ROWS synthetic 512-d rows (sparse sums of
//! 2,048 unit directions plus noise, each row normalised) trains one epoch at `--dict 256`
//! through the shuffle buffer while a thread samples the process's RssAnon; then the same
//! training on MEMORY_ROWS rows of the same kind in one file, held in memory (run before and
//! after the streamed one), for the examples/s side by side.
//!
//!     cargo bench --bench stream_train -- DIR [ROWS] [MEMORY_ROWS]
//!
//! DIR becomes a workspace holding both sets (ROWS × 2 KiB on disk: 20 GB at 10 million);
//! a set already there is reused. Delete DIR after.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp1, StandardNormal};
use rayon::prelude::*;
use saelab::engine::run::train::{create_run, Silent};
use saelab::engine::run::{train, RunConfig, RunDir, TrainRequest};
use saelab::engine::sae::linalg::Threads;
use saelab::engine::sae::TrainConfig;
use saelab::engine::set::shards::{write_shards, ShardEntry, SHARD_BYTES};
use saelab::engine::set::{write_set, EmbeddingSet, Item, SetFiles, SetMeta, META_FILE};
use saelab::engine::workspace::Workspace;

type Failure = Box<dyn std::error::Error>;

const DIM: usize = 512;
const FEATURES: usize = 2048;
const ACTIVE: usize = 8;
const NOISE: f32 = 0.01;
/// Rows a generated shard: one shard file of at most SHARD_BYTES.
const PART_ROWS: usize = SHARD_BYTES / (DIM * 4);
/// Normal draws reused for the noise, read from a random place per row.
const NOISE_TABLE: usize = 1 << 20;

fn main() -> Result<(), Failure> {
    let args = common::args();
    let dir = args
        .first()
        .ok_or("usage: stream_train DIR [ROWS] [MEMORY_ROWS]")?;
    let rows: usize = args.get(1).map_or(Ok(10_000_000), |a| a.parse())?;
    let memory_rows: usize = args.get(2).map_or(Ok(1_000_000), |a| a.parse())?;
    let ws = Workspace::open(Path::new(dir))?;
    let world = World::new();
    let started = Instant::now();
    sharded_set(&ws, &world, "big", rows)?;
    memory_set(&ws, &world, "small", memory_rows)?;
    println!("sets ready in {:.0} s", started.elapsed().as_secs_f64());
    // The in-memory run before and after the streamed one: this machine's speed drifts.
    let before = trained(&ws, "small", "before")?;
    let streamed = trained(&ws, "big", "streamed")?;
    let after = trained(&ws, "small", "after")?;
    let in_memory = (before.1 + after.1) / 2.0;
    println!(
        "{}",
        serde_json::json!({
            "streamed": {"peak_rss_anon_mib": streamed.0, "examples_per_sec": streamed.1},
            "in_memory": {"peak_rss_anon_mib": before.0.max(after.0), "examples_per_sec": [before.1, after.1]},
            "ratio": streamed.1 / in_memory,
        })
    );
    Ok(())
}

/// The directions rows are drawn from, and the noise table.
struct World {
    directions: Vec<f32>,
    noise: Vec<f32>,
}

impl World {
    fn new() -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(20);
        let mut directions: Vec<f32> = (0..FEATURES * DIM)
            .map(|_| StandardNormal.sample(&mut rng))
            .collect();
        directions.chunks_mut(DIM).for_each(normalise);
        let noise = (0..NOISE_TABLE)
            .map(|_| {
                let e: f32 = StandardNormal.sample(&mut rng);
                NOISE * e
            })
            .collect();
        World { directions, noise }
    }

    /// `rows` rows drawn from the stream `seed`. [rows, DIM]
    fn rows(&self, rows: usize, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut data = vec![0.0f32; rows * DIM];
        for x in data.chunks_mut(DIM) {
            let at = rng.random_range(0..NOISE_TABLE - DIM);
            x.copy_from_slice(&self.noise[at..at + DIM]);
            for _ in 0..ACTIVE {
                let f = rng.random_range(0..FEATURES);
                let c: f32 = Exp1.sample(&mut rng);
                let g = &self.directions[f * DIM..(f + 1) * DIM];
                x.iter_mut().zip(g).for_each(|(v, g)| *v += c * g);
            }
            normalise(x);
        }
        data
    }
}

fn normalise(x: &mut [f32]) {
    let n = x.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
    x.iter_mut().for_each(|v| *v /= n);
}

/// A set of `rows` rows in shards of PART_ROWS, as `sets merge` lists slices.
fn sharded_set(ws: &Workspace, world: &World, name: &str, rows: usize) -> Result<(), Failure> {
    let dir = ws.set_dir(name);
    if dir.join(META_FILE).is_file() {
        return Ok(());
    }
    let parts = rows.div_ceil(PART_ROWS);
    let entries: Vec<Vec<ShardEntry>> = (0..parts)
        .into_par_iter()
        .map(|p| -> Result<Vec<ShardEntry>, String> {
            let n = PART_ROWS.min(rows - p * PART_ROWS);
            let data = world.rows(n, p as u64);
            let part = format!("part-{p:05}");
            std::fs::create_dir_all(dir.join(&part)).map_err(|e| e.to_string())?;
            let written = write_shards(&dir.join(&part), &data, DIM, SHARD_BYTES)
                .map_err(|e| e.to_string())?;
            Ok(written.iter().map(|e| e.under(&part)).collect())
        })
        .collect::<Result<_, _>>()?;
    let meta = SetMeta {
        shards: entries.into_iter().flatten().collect(),
        ..synthetic_meta(name, rows)
    };
    let text = toml::to_string(&meta)?;
    std::fs::write(dir.join(META_FILE), text)?;
    Ok(())
}

/// What `set.toml` says of a synthetic set of `rows` rows.
fn synthetic_meta(name: &str, rows: usize) -> SetMeta {
    SetMeta {
        name: name.into(),
        source: "synthetic".into(),
        model: "synthetic".into(),
        dim: DIM,
        count: rows,
        ..SetMeta::default()
    }
}

/// A set of `rows` rows in one file.
fn memory_set(ws: &Workspace, world: &World, name: &str, rows: usize) -> Result<(), Failure> {
    if ws.set_dir(name).join(META_FILE).is_file() {
        return Ok(());
    }
    let data = world.rows(rows, 1 << 40);
    let items: Vec<Item> = (0..rows)
        .map(|id| Item {
            id,
            ..Item::default()
        })
        .collect();
    let files = SetFiles {
        meta: synthetic_meta(name, rows),
        embeddings: &data,
        items: &items,
        ground_truth: None,
        report: None,
    };
    write_set(&ws.sets_dir(), &files)?;
    Ok(())
}

/// One epoch at dict 256 on the set, as the run `run`: (peak RssAnon in MiB, examples/s).
fn trained(ws: &Workspace, name: &str, run: &str) -> Result<(f64, f64), Failure> {
    let set = EmbeddingSet::open(ws, name)?;
    let train_config = TrainConfig {
        dict: 256,
        epochs: 1,
        checkpoint_every: 1 << 40,
        log_every: 1000,
        ..TrainConfig::default()
    };
    let run_name = format!("{run}-{}", std::process::id());
    let run = RunDir::new(ws, &run_name);
    let config = RunConfig {
        name: run_name,
        data: name.into(),
        rows: set.rows(),
        dim: set.dim(),
        created: 0,
        train: train_config,
        imported: None,
    };
    create_run(&run, &config)?;
    let peak = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (Arc::clone(&peak), Arc::clone(&done));
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(rss_anon_kib(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let never = AtomicBool::new(false);
    let outcome = train(TrainRequest {
        run,
        set: &set,
        device: &candle_core::Device::Cpu,
        threads: Threads::All,
        cancel: &never,
        observer: &Silent,
    });
    done.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    let outcome = outcome?;
    let peak_mib = peak.load(Ordering::Relaxed) as f64 / 1024.0;
    println!(
        "{name}: {} rows, {:.0} examples/s, {:.0} s, peak RssAnon {peak_mib:.0} MiB, final MSE {:.3e}",
        set.rows(),
        outcome.results.examples_per_sec,
        outcome.results.train_seconds,
        outcome.results.metrics.mse
    );
    Ok((peak_mib, outcome.results.examples_per_sec))
}

/// This process's anonymous resident memory, from /proc (0 where there is none).
fn rss_anon_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
