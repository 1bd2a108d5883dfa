//! JPEG decode + open_clip preprocessing, images per second on one thread and on all, over the
//! very files `tools/bench/ref_clip_embed.py` times open_clip's transform on (300
//! 500×375 JPEGs it writes to its `--jpeg-dir`, `/tmp/clip_bench_jpegs` by default). Run the
//! reference first, then:
//!
//!     cargo bench --bench preprocess -- [JPEG_DIR]
//!
//! Each pass reads every file from disk, decodes and preprocesses it, as the reference does;
//! one pass warms the page cache first. The one-thread rate is the comparison with open_clip's
//! one process.

mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use saelab::engine::clip::decode::open;
use saelab::engine::clip::preprocess::{preprocess, SIZE};

const DEFAULT_DIR: &str = "/tmp/clip_bench_jpegs";

fn one(path: &Path) -> f32 {
    let img = open(path).expect("decodes");
    preprocess(&img, SIZE)[0]
}

fn main() {
    let dir = common::args()
        .first()
        .cloned()
        .unwrap_or_else(|| DEFAULT_DIR.into());
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!("{dir}: {e}; run tools/bench/ref_clip_embed.py first, or name a folder of JPEGs")
        })
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jpg" || x == "jpeg"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "{dir} holds no .jpg files");
    let warm: Vec<f32> = paths.iter().map(|p| one(p)).collect();
    let start = Instant::now();
    let serial: Vec<f32> = paths.iter().map(|p| one(p)).collect();
    let one_thread = paths.len() as f64 / start.elapsed().as_secs_f64();
    let start = Instant::now();
    let parallel: Vec<f32> = paths.par_iter().map(|p| one(p)).collect();
    let all_threads = paths.len() as f64 / start.elapsed().as_secs_f64();
    assert!(serial == warm && serial == parallel);
    println!(
        "{}",
        serde_json::json!({
            "dir": dir, "images": paths.len(), "one_thread_per_sec": one_thread,
            "all_threads_per_sec": all_threads, "threads": rayon::current_num_threads(),
        })
    );
}
