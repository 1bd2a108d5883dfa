//! `saelab explain` on the demo world at the study's size (31,783 pictures, an SAE of 4096
//! latents trained one epoch): milliseconds per answer once the latent index exists, for a
//! picture, a text and a class, and the one-off costs (the text gap, the class table).
//!
//!     cargo bench --bench explain

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use saelab::engine::demo;
use saelab::engine::explain::Explainer;
use saelab::engine::latents::{analyse, DEFAULT_TOP};
use saelab::engine::run::train::{create_run, train, Silent, TrainRequest};
use saelab::engine::run::{RunConfig, RunDir};
use saelab::engine::sae::linalg::Threads;
use saelab::engine::sae::TrainConfig;
use saelab::engine::set::{now_unix, EmbeddingSet};
use saelab::engine::steer::ImageRef;
use saelab::engine::workspace::Workspace;

/// Answers timed per kind.
const REPEATS: usize = 50;

fn millis(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e3
}

fn main() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let ws = Workspace::open(dir.path()).expect("a workspace");
    demo::create(&ws, demo::DEFAULT_IMAGES, demo::DEFAULT_SEED).expect("the demo world");
    let set = EmbeddingSet::open(&ws, demo::SET_NAME).expect("the demo set");
    let run = RunDir::new(&ws, "r");
    let config = RunConfig {
        name: "r".into(),
        data: set.name().into(),
        rows: set.rows(),
        dim: set.dim(),
        created: now_unix(),
        train: TrainConfig {
            epochs: 1,
            ..TrainConfig::default()
        },
        imported: None,
    };
    create_run(&run, &config).expect("the run");
    train(TrainRequest {
        run,
        set: &set,
        device: &candle_core::Device::Cpu,
        threads: Threads::All,
        cancel: &AtomicBool::new(false),
        observer: &Silent,
    })
    .expect("training");
    let start = Instant::now();
    let analysis = analyse(&ws, "r", DEFAULT_TOP).expect("the latent index");
    let index_ms = millis(start);
    let start = Instant::now();
    let mut ex = Explainer::new(&ws, analysis, None).expect("an explainer");
    let open_ms = millis(start);
    let start = Instant::now();
    ex.text("red star", 10).expect("a text");
    let gap_ms = millis(start);
    let start = Instant::now();
    ex.class("red star", 10).expect("a class");
    let table_ms = millis(start);
    let time = |f: &mut dyn FnMut(usize)| {
        let start = Instant::now();
        (0..REPEATS).for_each(&mut *f);
        millis(start) / REPEATS as f64
    };
    let image = time(&mut |i| {
        ex.image(&ImageRef::Row(i * 97), 10).expect("an image");
    });
    let text = time(&mut |_| {
        ex.text("red star", 10).expect("a text");
    });
    let class = time(&mut |_| {
        ex.class("red star", 10).expect("a class");
    });
    println!(
        "{}",
        serde_json::json!({
            "rows": set.rows(),
            "latents": 4096,
            "image_ms": image,
            "text_ms": text,
            "class_ms": class,
            "first_text_ms_with_gap": gap_ms,
            "first_class_ms_with_table": table_ms,
            "index_and_labels_ms": index_ms,
            "explainer_open_ms": open_ms,
        })
    );
}
