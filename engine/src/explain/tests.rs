//! On the demo world the answers are known: a TopK SAE trained for a second recovers every
//! concept, so a picture, a text and a class must come out as their concepts' latents.

use std::sync::atomic::AtomicBool;

use super::*;
use crate::demo;
use crate::latents::analyse;
use crate::run::train::{create_run, train, Silent, TrainRequest};
use crate::run::{RunConfig, RunDir};
use crate::sae::linalg::Threads;
use crate::sae::{Arch, TrainConfig};
use crate::set::{now_unix, EmbeddingSet};
use crate::steer::ImageRef;

/// Rows of the demo set: enough for pictures of red stars on sand.
const ROWS: usize = 8000;
/// Latents matched to a concept this closely count as that concept's.
const MATCHED: f32 = 0.9;

fn trained() -> (tempfile::TempDir, Workspace) {
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::open(dir.path()).unwrap();
    demo::create(&ws, ROWS, demo::DEFAULT_SEED).unwrap();
    let set = EmbeddingSet::open(&ws, "demo").unwrap();
    let run = RunDir::new(&ws, "r");
    let config = RunConfig {
        name: "r".into(),
        data: "demo".into(),
        rows: set.rows(),
        dim: set.dim(),
        created: now_unix(),
        train: TrainConfig {
            arch: Arch::TopK,
            k: Some(16),
            dict: 256,
            epochs: 3,
            lr: crate::sae::config::TOPK_LR,
            unit_norm_decoder: true,
            ..Default::default()
        },
        imported: None,
    };
    create_run(&run, &config).unwrap();
    train(TrainRequest {
        run,
        set: &set,
        device: &candle_core::Device::Cpu,
        threads: Threads::All,
        cancel: &AtomicBool::new(false),
        observer: &Silent,
    })
    .unwrap();
    (dir, ws)
}

fn explainer(ws: &Workspace) -> Explainer {
    let analysis = analyse(ws, "r", crate::latents::DEFAULT_TOP).unwrap();
    Explainer::new(ws, analysis, None).unwrap()
}

/// The concepts the listed latents are matched to at `MATCHED` or closer.
fn matched(latents: &[LatentScore]) -> Vec<String> {
    latents
        .iter()
        .filter(|l| l.concept_cosine.is_some_and(|c| c >= MATCHED))
        .filter_map(|l| l.concept.clone())
        .collect()
}

fn red_star_on_sand(ws: &Workspace) -> usize {
    let set = EmbeddingSet::open(ws, "demo").unwrap();
    let items = set.items().unwrap();
    let is = |i: &crate::set::Item, k: &str, v: &str| i.concepts.get(k).is_some_and(|x| x == v);
    items
        .iter()
        .find(|i| is(i, "colour", "red") && is(i, "shape", "star") && is(i, "background", "sand"))
        .expect("a red star on sand")
        .id
}

#[test]
fn a_picture_is_its_concepts_and_the_parts_add_up_to_the_margin() {
    let (_dir, ws) = trained();
    let mut ex = explainer(&ws);
    let row = red_star_on_sand(&ws);
    let got = ex.image(&ImageRef::Row(row), 8).unwrap();
    let concepts = matched(&got.latents);
    for c in ["red", "star", "sand"] {
        assert!(concepts.iter().any(|x| x == c), "{c} not in {concepts:?}");
    }
    assert!(
        got.reconstruction_cosine > 0.9,
        "{}",
        got.reconstruction_cosine
    );
    assert!(got.explained > 0.0 && got.explained <= 1.0 + 1e-6);
    let m = got.prediction.expect("the demo world's own task");
    assert_eq!((m.task.as_str(), m.class.as_str()), ("demo100", "red star"));
    // The classifier's own margin, computed from its weights.
    let (_, clf) = ex.steerer.classifier().unwrap();
    let x = ex.steerer.image(row).unwrap();
    let logit = |name: &str| -> f64 {
        let c = clf.classes.iter().position(|k| k == name).unwrap();
        clf.weights[c * clf.dim..(c + 1) * clf.dim]
            .iter()
            .zip(&x)
            .map(|(w, v)| *w as f64 * *v as f64)
            .sum::<f64>()
            * 100.0
    };
    let own = logit(&m.class) - logit(&m.runner_up);
    assert!(own > 0.0);
    assert!(
        (m.latents + m.bias + m.error - own).abs() < 1e-4,
        "{m:?} vs {own}"
    );
    assert!((m.margin - own).abs() < 1e-4);
    // Each listed latent's part is its own product; the listed ones are among all active.
    let listed: f64 = got.latents.iter().filter_map(|l| l.margin).sum();
    assert!(listed.is_finite());
}

#[test]
fn a_text_is_moved_across_the_gap_and_lands_on_its_concepts() {
    let (_dir, ws) = trained();
    let mut ex = explainer(&ws);
    let got = ex.text("red star", 8).unwrap();
    assert!(got.moved);
    let top2: Vec<String> = matched(&got.latents[..2]);
    assert_eq!(top2.len(), 2, "{:?}", got.latents);
    assert!(
        top2.contains(&"red".to_string()) && top2.contains(&"star".to_string()),
        "{top2:?}"
    );
    let kept = EmbeddingSet::open(&ws, "demo")
        .unwrap()
        .dir
        .join(text::GAP_FILE);
    assert!(kept.is_file(), "the gap's means are kept with the set");
    assert!(ex.text("  ", 8).is_err());
}

#[test]
fn a_class_is_carried_by_its_concepts_from_a_kept_table() {
    let (_dir, ws) = trained();
    let mut ex = explainer(&ws);
    let got = ex.class("red star", 8).unwrap();
    assert!(got.pictures > 0);
    let scores: Vec<LatentScore> = got.latents.iter().map(|l| l.latent.clone()).collect();
    let top2 = matched(&scores[..2]);
    assert!(
        top2.contains(&"red".to_string()) && top2.contains(&"star".to_string()),
        "{:?}",
        got.latents
    );
    assert!(got.latents[0].top3 > 0.5, "{:?}", got.latents[0]);
    assert!(!got.latents[0].rows.is_empty());
    // Asked again by a new explainer, the table is read, not computed.
    let table = RunDir::new(&ws, "r")
        .path("latents")
        .join("explain-demo100.json");
    let written = std::fs::metadata(&table).unwrap().modified().unwrap();
    let again = explainer(&ws).class("RED STAR", 8).unwrap();
    let ids = |e: &ClassExplanation| {
        e.latents
            .iter()
            .map(|l| l.latent.latent)
            .collect::<Vec<_>>()
    };
    assert_eq!((ids(&again), again.pictures), (ids(&got), got.pictures));
    assert_eq!(
        std::fs::metadata(&table).unwrap().modified().unwrap(),
        written
    );
    let err = ex.class("purple cat", 8).unwrap_err().to_string();
    assert!(err.contains("not a class of demo100"), "{err}");
}
