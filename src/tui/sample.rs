//! A fixed lab state: three runs (one still training), a zero-shot task, a run's latents and a
//! steering preview. Snapshot tests and the render benchmark draw it; nothing here is read from
//! a workspace, so every screen is reproducible.

use std::path::PathBuf;

use super::app::App;
use super::data::{
    ExplainRow, ExplainView, LatentRow, LatentsView, RunView, SteerView, TaskRun, TaskView,
};
use super::tabs::explain::ExplainTab;
use super::tabs::steer::SteerTab;
use super::theme::Theme;
use crate::engine::latents::Category;
use crate::engine::run::{MetricsRow, Status};
use crate::engine::sae::evaluate::EvalMetrics;

/// Logged steps per sample run.
const STEPS: u64 = 120;
const LAMBDAS: [f64; 3] = [1e-3, 1e-2, 3e-2];

fn series(lambda: f64, upto: u64) -> Vec<MetricsRow> {
    (1..=upto)
        .map(|step| {
            let t = step as f64;
            MetricsRow {
                step,
                epoch: step * 5 / STEPS,
                examples: step * 256,
                loss: 1e-3 / t.sqrt() + lambda * 1e-3,
                mse: 8e-4 / t.sqrt(),
                l1: 2.0 + 1.0 / t,
                avg_l0: 500.0 - 200.0 * lambda.log10().abs().recip() + 300.0 / t,
                r2: Some(1.0 - 0.4 / t.sqrt()),
                dead_frac: None,
                arch: None,
                k: None,
                examples_per_sec: 4500.0,
                time: 1.8e9 + t,
            }
        })
        .collect()
}

fn run(i: usize) -> RunView {
    let lambda = LAMBDAS[i];
    let live = i == 2;
    let step = if live { STEPS / 2 } else { STEPS };
    RunView {
        name: format!("demo-lam{}", crate::engine::run::format_lambda(lambda)),
        data: "demo".into(),
        lambda,
        arch: crate::engine::sae::Arch::Relu,
        k: None,
        dict: 4096,
        status: if live { Status::Running } else { Status::Done },
        step,
        total_steps: STEPS,
        series: series(lambda, step),
        results: (!live).then_some(EvalMetrics {
            rows: 31_783,
            avg_l0: 513.5 - 100.0 * i as f64,
            mse: 3.1e-5 * (1.0 + i as f64 * 0.2),
            l1: 3.2 - i as f64 * 0.4,
            r2: 0.9839 - 0.004 * i as f64,
            fvu: 0.0161 + 0.004 * i as f64,
            dead_frac: 0.01 * i as f64,
            dense_frac: 0.002,
            gt_recovery: Some(0.954 + 0.005 * i as f64),
            gt_recovered_frac: Some(0.9),
            gt_mcc: None,
            gt_f1: None,
        }),
    }
}

fn latents() -> LatentsView {
    let words = ["red", "star", "grass", "blurred", "three", "circle"];
    LatentsView {
        run: "demo-lam1e-3".into(),
        rows: (0..40)
            .map(|id| LatentRow {
                id,
                frequency: 0.5 / (1.0 + id as f64),
                max_activation: 1.0 + (id % 7) as f32 * 0.3,
                confidence: 30.0 - (id % 11) as f32 * 2.5,
                category: if id % 9 == 8 {
                    Category::NoClear
                } else {
                    Category::Semantic
                },
                description: format!(
                    "This feature activates on images containing: {}",
                    words[id % words.len()]
                ),
                top_words: vec![
                    words[id % words.len()].into(),
                    words[(id + 1) % words.len()].into(),
                ],
                caption: (id == 0).then(|| "red, star, night, sky".into()),
                histogram: (0..16).map(|b| ((b * (id + 3)) % 13) as u64).collect(),
            })
            .collect(),
        collage_dir: PathBuf::from("collages"),
    }
}

fn steer_view() -> SteerView {
    SteerView {
        image_caption: "three medium white diamonds on grass, at the right, faded".into(),
        neighbours: (0..8)
            .map(|i| {
                (
                    i * 1000 + 7,
                    0.95 - i as f32 * 0.02,
                    format!("{} small red stars on sand", i + 1),
                )
            })
            .collect(),
        classes: vec![
            ("red star".into(), 0.02, 0.71),
            ("white diamond".into(), 0.95, 0.20),
            ("red diamond".into(), 0.01, 0.05),
        ],
        labels_before: vec!["diamond".into(), "white".into(), "grass".into()],
        labels_after: vec!["red".into(), "star".into(), "diamond".into()],
        rose: vec![("colour=red".into(), 0.41), ("shape=star".into(), 0.12)],
        fell: vec![("colour=white".into(), -0.38)],
        millis: 7.4,
    }
}

/// An explained picture of red stars on sand.
pub fn explain_view() -> ExplainView {
    let words = ["red", "star", "sand", "four", "outlined", "small"];
    ExplainView {
        title: "image 1808: four small outlined red stars on sand, gold frame".into(),
        lines: vec![
            "score: share of the reconstruction · 16 active · cosine 0.972 · listed 88%".into(),
            "demo100: red star over orange star by 12.41 = latents 11.90 + bias 0.37 + error 0.14"
                .into(),
        ],
        rows: (0..12)
            .map(|i| ExplainRow {
                latent: [19, 12, 40, 7, 33, 21, 2, 5, 9, 11, 13, 17][i],
                label: format!("{}, {}", words[i % 6], words[(i + 1) % 6]),
                score: 0.31 / (1.0 + i as f64),
                extra: format!("{:+.2}", 8.0 / (1.0 + i as f64 * i as f64)),
            })
            .collect(),
        classes: vec!["red star".into(), "red heart".into()],
        millis: 0.8,
    }
}

/// The sample state on the given tab's defaults.
pub fn sample_app() -> App {
    let mut app = App::new(
        Theme::default(),
        "/home/me/.local/share/saelab".into(),
        "cpu".into(),
    );
    let lab = &mut app.lab;
    lab.runs = (0..3).map(run).collect();
    lab.tasks = vec![TaskView {
        task: "demo100".into(),
        baseline: (0.9531, 0.9990),
        runs: (0..2)
            .map(|i| TaskRun {
                run: lab.runs[i].name.clone(),
                lambda: LAMBDAS[i],
                top1: 0.9531 - 0.004 * (i + 1) as f64,
                top5: 0.998,
                control_top1: 0.9531,
                losses: vec![
                    ("red star".into(), 0.96, 0.90),
                    ("grey heart".into(), 0.91, 0.88),
                ],
            })
            .collect(),
    }];
    lab.sets = vec!["demo".into()];
    lab.latents = Some(latents());
    if let Some(steer) = app.get_mut::<SteerTab>() {
        steer.latent = Some(3);
        steer.strength = 2.0;
        steer.view = Some(steer_view());
    }
    if let Some(explain) = app.get_mut::<ExplainTab>() {
        explain.image = crate::engine::steer::ImageRef::Row(1808);
        explain.view = Some(explain_view());
    }
    app
}
