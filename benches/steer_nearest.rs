//! The Steer tab's neighbours at scale: the demo world at ROWS rows (default 1,000,000), its
//! nearest-row index built (timed, with its file's size), then QUERIES steered embeddings (a
//! row pushed along a ground-truth concept direction, as a steering key does) searched through
//! the index and exactly: milliseconds per search, and recall@10 against exact search.
//!
//!     cargo bench --bench steer_nearest -- DIR [ROWS] [QUERIES]
//!
//! DIR becomes a workspace holding the demo set and its index (2 GiB and more at a million
//! rows); a set already there is reused. Delete DIR after.

mod common;

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use saelab::engine::demo;
use saelab::engine::set::EmbeddingSet;
use saelab::engine::steer::nearest::{Nearest, Opened, EXACT_ROWS, INDEX_FILE};
use saelab::engine::unit::normalise;
use saelab::engine::workspace::Workspace;

type Failure = Box<dyn std::error::Error>;

/// How far a query is pushed along its concept, in units of the row's own length.
const STRENGTH: f32 = 1.0;
const K: usize = 10;

fn main() -> Result<(), Failure> {
    let args = common::args();
    let dir = args
        .first()
        .ok_or("usage: steer_nearest DIR [ROWS] [QUERIES]")?;
    let rows: usize = args.get(1).map_or(Ok(1_000_000), |a| a.parse())?;
    let queries: usize = args.get(2).map_or(Ok(200), |a| a.parse())?;
    let ws = Workspace::open(Path::new(dir))?;
    let name = demo::SET_NAME;
    if EmbeddingSet::open(&ws, name).map(|s| s.rows()).ok() != Some(rows) {
        demo::create(&ws, rows, demo::DEFAULT_SEED)?;
    }
    let set = EmbeddingSet::open(&ws, name)?;
    let d = set.dim();

    let started = Instant::now();
    let (nearest, opened) = Nearest::open(&set, EXACT_ROWS, &|_| {}, &AtomicBool::new(false))?;
    let index_seconds = started.elapsed().as_secs_f64();
    let exact = Nearest::exact(&set)?;
    let index_bytes = std::fs::metadata(set.dir().join(INDEX_FILE)).map_or(0, |m| m.len());

    let gt = set
        .ground_truth()?
        .ok_or("the demo world has concept directions")?;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (mut graph_ms, mut exact_ms, mut hits) = (Vec::new(), Vec::new(), 0usize);
    for _ in 0..queries {
        let r = rng.random_range(0..set.rows());
        let c = rng.random_range(0..gt.names.len());
        let concept = &gt.directions[c * d..(c + 1) * d];
        let mut row = set.fetch_row(r)?;
        normalise(&mut row);
        let mut x: Vec<f32> = row
            .iter()
            .zip(concept)
            .map(|(v, g)| v + STRENGTH * g)
            .collect();
        normalise(&mut x);
        let t = Instant::now();
        let found = nearest.search(&set, &x, K)?;
        graph_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let exact = exact.search(&set, &x, K)?;
        exact_ms.push(t.elapsed().as_secs_f64() * 1e3);
        hits += found
            .iter()
            .filter(|f| exact.iter().any(|e| e.0 == f.0))
            .count();
    }
    println!(
        "{}",
        serde_json::json!({
            "rows": set.rows(),
            "index_built_now": opened == Opened::Built,
            "index_seconds": index_seconds,
            "index_bytes": index_bytes,
            "search_ms": summary(&mut graph_ms),
            "exact_ms": summary(&mut exact_ms),
            "recall_at_10": hits as f64 / (K * queries.max(1)) as f64,
        })
    );
    Ok(())
}

/// Median, 99th percentile and largest of `ms`.
fn summary(ms: &mut [f64]) -> serde_json::Value {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| {
        ms.get(((ms.len() as f64 - 1.0) * q).round() as usize)
            .copied()
    };
    serde_json::json!({"median": at(0.5), "p99": at(0.99), "max": ms.last()})
}
