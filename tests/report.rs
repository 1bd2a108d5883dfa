//! The report, built from a small workspace: its tables match the run files, every link in it
//! exists, every picture decodes, and a workspace with missing parts still gets a report.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::atomic::AtomicBool;

use saelab::engine::demo;
use saelab::engine::latents::analyse;
use saelab::engine::report::{write_report, ReportRequest};
use saelab::engine::run::train::{create_run, Silent};
use saelab::engine::run::{sweep::train_concurrently, RunConfig, RunDir};
use saelab::engine::sae::TrainConfig;
use saelab::engine::set::EmbeddingSet;
use saelab::engine::zeroshot::{self, TaskSpec};
use saelab::engine::Workspace;

fn small_workspace(train: bool) -> (tempfile::TempDir, Workspace) {
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::open(dir.path().join("ws")).unwrap();
    demo::create(&ws, 500, 4).unwrap();
    let set = EmbeddingSet::open(&ws, "demo").unwrap();
    let mut runs = Vec::new();
    for lambda in [1e-3, 3e-2] {
        let name = format!("r{lambda:e}");
        let run = RunDir::new(&ws, &name);
        let train = TrainConfig {
            dict: 96,
            batch: 50,
            epochs: 3,
            lambda,
            ..Default::default()
        };
        create_run(
            &run,
            &RunConfig {
                name,
                data: "demo".into(),
                rows: 500,
                dim: 512,
                created: 0,
                train,
                imported: None,
            },
        )
        .unwrap();
        runs.push(run);
    }
    if train {
        for (_, outcome) in train_concurrently(
            runs,
            &set,
            &candle_core::Device::Cpu,
            &AtomicBool::new(false),
            &Silent,
        ) {
            outcome.unwrap();
        }
    }
    (dir, ws)
}

/// Every `](target)` link of the markdown.
fn links(doc: &str) -> Vec<String> {
    doc.split("](")
        .skip(1)
        .map(|rest| rest.split(')').next().unwrap().to_string())
        .collect()
}

/// The cells of the first table row after `section` that starts with `| first |`.
fn row<'a>(doc: &'a str, section: &str, first: &str) -> Vec<&'a str> {
    let after = &doc[doc.find(section).unwrap_or_else(|| panic!("no {section}"))..];
    let line = after
        .lines()
        .find(|l| l.starts_with(&format!("| {first} ")))
        .unwrap_or_else(|| panic!("no row {first}"));
    line.trim_matches('|').split('|').map(str::trim).collect()
}

#[test]
fn report_tables_links_and_pictures_match_the_workspace() {
    let (dir, ws) = small_workspace(true);
    zeroshot::evaluate(
        &ws,
        &TaskSpec::builtin("demo10").unwrap(),
        None,
        &[],
        &|_| {},
    )
    .unwrap();
    analyse(&ws, "r1e-3", 16).unwrap();
    let out = dir.path().join("report");
    let req = ReportRequest {
        runs: &[],
        out: &out,
        latents: &[5],
        latent_run: None,
        csv_latents: 20,
    };
    let summary = write_report(&ws, &req).unwrap();
    let doc = std::fs::read_to_string(&summary.path).unwrap();

    // The metrics table holds results.json's numbers.
    for name in ["r1e-3", "r3e-2"] {
        let results = RunDir::new(&ws, name).results().unwrap().unwrap();
        let cells = row(&doc, "## Training metrics", name);
        assert_eq!(
            cells[4],
            format!("{:.1}", results.metrics.avg_l0),
            "{name} avg L0"
        );
        assert_eq!(
            cells[5],
            format!("{:.3e}", results.metrics.mse),
            "{name} MSE"
        );
        assert_eq!(cells[7], format!("{:.4}", results.metrics.r2), "{name} R²");
    }
    // The zero-shot table holds zeroshot.json's numbers.
    let saved = zeroshot::saved(&RunDir::new(&ws, "r3e-2")).unwrap();
    let zs_row = doc
        .lines()
        .find(|l| l.starts_with("| 3e-2 | r3e-2 "))
        .unwrap();
    assert!(
        zs_row.contains(&format!("{:.4}", saved["demo10"].sae.top1))
            && zs_row.contains(&format!("{:.4}", saved["demo10"].baseline.top1)),
        "{zs_row}"
    );
    // Latent 5 was asked for, beside the chosen ones.
    assert!(doc.contains("| chosen "), "{doc}");

    // Every link is relative, exists, and every picture decodes.
    let targets = links(&doc);
    assert!(targets.len() >= 8, "{targets:?}");
    for t in &targets {
        assert!(!Path::new(t).is_absolute(), "{t}");
        let file = out.join(t);
        assert!(file.is_file(), "{t} is missing");
        if t.ends_with(".png") {
            image::open(&file).unwrap_or_else(|e| panic!("{t} does not decode: {e}"));
        }
    }
    for plot in ["loss", "tradeoff", "zeroshot_demo10"] {
        assert!(targets.contains(&format!("plots/{plot}.png")), "{plot}");
    }
    // The label CSV's collage paths are relative to the report too.
    let csv = std::fs::read_to_string(out.join("latents_r1e-3.csv")).unwrap();
    assert_eq!(csv.lines().count(), 21);
    for line in csv.lines().skip(1).filter(|l| l.ends_with(".png")) {
        let collage = line.rsplit(',').next().unwrap();
        assert!(out.join(collage).is_file(), "{collage}");
    }
}

#[test]
fn missing_parts_are_named_not_fatal() {
    let (dir, ws) = small_workspace(false);
    let out = dir.path().join("report");
    let req = ReportRequest {
        runs: &[],
        out: &out,
        latents: &[],
        latent_run: None,
        csv_latents: 10,
    };
    let summary = write_report(&ws, &req).unwrap();
    let doc = std::fs::read_to_string(&summary.path).unwrap();
    assert!(doc.contains("saelab zeroshot --task demo10"), "{doc}");
    assert!(doc.contains("saelab latents RUN"), "{doc}");
    assert!(doc.contains("saelab steer RUN"), "{doc}");
    assert!(doc.contains("saelab resume RUN"), "{doc}");
    assert!(summary.missing.len() >= 3);
    for t in links(&doc) {
        assert!(out.join(&t).is_file(), "{t}");
    }
    // An empty workspace gets a report too.
    let empty = Workspace::open(dir.path().join("empty")).unwrap();
    let req = ReportRequest {
        runs: &[],
        out: &dir.path().join("r2"),
        latents: &[],
        latent_run: None,
        csv_latents: 10,
    };
    let doc = std::fs::read_to_string(write_report(&empty, &req).unwrap().path).unwrap();
    assert!(doc.contains("No runs yet"));
}
