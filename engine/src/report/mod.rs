//! `saelab report`: the study's results document, written from what the lab computed. Every
//! number comes from the run files; every image path is relative to the report and exists;
//! a part the workspace lacks is left out with a line saying how to produce it.

mod explained;
mod latents;
pub mod plots;
pub mod table;
pub mod tables;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use plots::{accuracy_bars, loss_curves, tradeoff, Curve, TradeOff};
use table::markdown;

use super::error::Result;
use super::fsutil;
use super::run::{
    format_lambda, list_runs, read_all_runs, sort_for_tables, sparsity_label, RunDir, RunSummary,
};
use super::set::EmbeddingSet;
use super::workspace::Workspace;
use super::zeroshot;

pub const REPORT_FILE: &str = "README.md";
const PLOTS_DIR: &str = "plots";
const COLLAGES_DIR: &str = "collages";

pub struct ReportRequest<'a> {
    /// Runs to report (empty: all).
    pub runs: &'a [String],
    pub out: &'a Path,
    /// Latents the user wants shown, of the latents run.
    pub latents: &'a [usize],
    /// Run whose latents are shown (default: the first finished run that has an index).
    pub latent_run: Option<&'a str>,
    /// Latents 0..N go into the report's auto-label CSV.
    pub csv_latents: usize,
}

/// What was written and what was left out.
pub struct ReportSummary {
    pub path: PathBuf,
    pub missing: Vec<String>,
}

/// The document being written, and what it had to leave out.
struct Writer<'a> {
    ws: &'a Workspace,
    out: &'a Path,
    doc: String,
    missing: Vec<String>,
}

impl Writer<'_> {
    /// Appends a paragraph.
    fn para(&mut self, text: impl std::fmt::Display) {
        let _ = writeln!(self.doc, "{text}\n");
    }

    /// Appends a line saying what is missing and how to produce it, and remembers it.
    fn missing(&mut self, line: &str) {
        self.para(line);
        self.missing.push(line.to_string());
    }
}

/// Writes `out/README.md` with its plots, collages and CSV.
pub fn write_report(ws: &Workspace, req: &ReportRequest) -> Result<ReportSummary> {
    let (mut runs, unreadable) = if req.runs.is_empty() {
        read_all_runs(ws)?
    } else {
        (list_runs(ws, req.runs)?, Vec::new())
    };
    sort_for_tables(&mut runs);
    fsutil::create_dir(&req.out.join(PLOTS_DIR))?;
    let mut w = Writer {
        ws,
        out: req.out,
        doc: String::new(),
        missing: Vec::new(),
    };
    w.para(format_args!(
        "# Sparse autoencoders on {}",
        set_names(&runs)
    ));
    w.para(format_args!("Written by saelab {} from the workspace `{}`. Every number below is read from the run files.", env!("CARGO_PKG_VERSION"), ws.root().display()));
    for (name, why) in unreadable {
        w.missing(&format!("Run `{name}` is left out: {why}."));
    }
    if runs.is_empty() {
        w.missing("No runs yet: `saelab sweep --data demo --lambdas 1e-3,1e-2,3e-2` trains the study's sweep.");
    } else {
        data_section(&mut w, &runs);
        training_section(&mut w, &runs);
        metrics_section(&mut w, &runs)?;
        card_section(&mut w, &runs);
        zeroshot_section(&mut w, &runs)?;
        latents::latents_section(&mut w, req, &runs)?;
        explained::explained_section(&mut w, req, &runs)?;
    }
    steering_section(&mut w, &runs)?;
    let path = req.out.join(REPORT_FILE);
    fsutil::write_atomic(&path, w.doc.as_bytes())?;
    Ok(ReportSummary {
        path,
        missing: w.missing,
    })
}

fn set_names(runs: &[RunSummary]) -> String {
    let sets: BTreeSet<&str> = runs.iter().map(|r| r.data.as_str()).collect();
    if sets.is_empty() {
        "(no runs)".into()
    } else {
        sets.into_iter().collect::<Vec<_>>().join(", ")
    }
}

fn data_section(w: &mut Writer, runs: &[RunSummary]) {
    let _ = writeln!(w.doc, "## Data and model\n");
    let sets: BTreeSet<&str> = runs.iter().map(|r| r.data.as_str()).collect();
    let rows: Vec<Vec<String>> = sets
        .iter()
        .map(|name| match EmbeddingSet::open(w.ws, name) {
            Ok(s) => vec![
                name.to_string(),
                s.meta.model.clone(),
                s.meta.source.clone(),
                s.rows().to_string(),
                s.dim().to_string(),
                s.meta.preprocessing.clone(),
            ],
            Err(_) => vec![
                name.to_string(),
                "(set missing)".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ],
        })
        .collect();
    let _ = writeln!(
        w.doc,
        "{}",
        markdown(
            &["set", "model", "source", "rows", "dim", "preprocessing"],
            &rows
        )
    );
}

fn training_section(w: &mut Writer, runs: &[RunSummary]) {
    let _ = writeln!(w.doc, "## Training settings\n");
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let t = &r.config.train;
            vec![
                r.run.clone(),
                sparsity_label(t),
                t.l1.name().into(),
                t.dict.to_string(),
                t.epochs.to_string(),
                t.batch.to_string(),
                format!("{:e}", t.lr),
                t.seed.to_string(),
                if t.unit_norm_decoder {
                    "yes".into()
                } else {
                    "no".into()
                },
                format!("{}/{} ({})", r.step, r.total_steps, r.status.name()),
            ]
        })
        .collect();
    let _ = writeln!(
        w.doc,
        "All runs use Adam (β 0.9/0.999, ε 1e-8, no weight decay) and ReLU latents.\n"
    );
    let _ = writeln!(
        w.doc,
        "{}",
        markdown(
            &[
                "run",
                "λ",
                "L1",
                "dict",
                "epochs",
                "batch",
                "lr",
                "seed",
                "unit-norm decoder",
                "steps"
            ],
            &rows
        )
    );
}

fn metrics_section(w: &mut Writer, runs: &[RunSummary]) -> Result<()> {
    let _ = writeln!(w.doc, "## Training metrics\n");
    let _ = writeln!(w.doc, "{}", tables::metrics_table(runs));
    let _ = writeln!(w.doc, "R² = 1 − Σ‖x − x̂‖² / Σ‖x − x̄‖² against the per-dimension mean; FVU = 1 − R²; dead latents never fire on the set, dense ones fire on more than 10% of rows.\n");
    let curves: Vec<Curve> = runs
        .iter()
        .map(|r| {
            let log = RunDir::new(w.ws, &r.run).metrics().unwrap_or_default();
            Curve {
                name: r.run.clone(),
                points: log.iter().map(|m| (m.step as f64, m.loss)).collect(),
            }
        })
        .filter(|c| !c.points.is_empty())
        .collect();
    if curves.is_empty() {
        w.missing("No loss curves: no run has logged a step yet.");
    } else {
        loss_curves(&w.out.join(PLOTS_DIR).join("loss.png"), &curves)?;
        let _ = writeln!(w.doc, "![Training loss per run]({PLOTS_DIR}/loss.png)\n");
    }
    let points: Vec<TradeOff> = runs
        .iter()
        .filter_map(|r| {
            r.results.as_ref().map(|res| TradeOff {
                name: legend(r),
                avg_l0: res.metrics.avg_l0,
                r2: res.metrics.r2,
            })
        })
        .collect();
    if points.is_empty() {
        w.missing("The L0 against R² trade-off appears once a run finishes (`saelab resume RUN`).");
    } else {
        tradeoff(&w.out.join(PLOTS_DIR).join("tradeoff.png"), &points)?;
        let _ = writeln!(
            w.doc,
            "![Average L0 against R²]({PLOTS_DIR}/tradeoff.png)\n"
        );
    }
    Ok(())
}

/// The evaluation cards `saelab eval` kept.
fn card_section(w: &mut Writer, runs: &[RunSummary]) {
    let cards: Vec<crate::card::Card> = runs
        .iter()
        .filter_map(|r| crate::card::saved_card(&RunDir::new(w.ws, &r.run)))
        .collect();
    let _ = writeln!(w.doc, "## Evaluation card\n");
    if cards.is_empty() {
        w.missing("No evaluation cards: `saelab eval` measures them for every finished run.");
        return;
    }
    let _ = writeln!(w.doc, "{}", tables::card_table(&cards));
    let _ = writeln!(w.doc, "{}\n", tables::CARD_LEGEND);
}

fn zeroshot_section(w: &mut Writer, runs: &[RunSummary]) -> Result<()> {
    let _ = writeln!(w.doc, "## Zero-shot classification\n");
    let saved: Vec<(&RunSummary, zeroshot::SavedResults)> = runs
        .iter()
        .map(|r| Ok((r, zeroshot::saved(&RunDir::new(w.ws, &r.run))?)))
        .collect::<Result<_>>()?;
    let tasks: BTreeSet<String> = saved.iter().flat_map(|(_, s)| s.keys().cloned()).collect();
    if tasks.is_empty() {
        w.missing("No zero-shot results yet: `saelab zeroshot --task demo10` (or `cifar10`, `cifar100`, `demo100`) scores every finished run.");
        return Ok(());
    }
    let _ = writeln!(w.doc, "Each image embedding is passed through the SAE (encode, decode, L2-normalise) before it meets the same text classifier as CLIP alone. The control adds the reconstruction error back and must equal the baseline.\n");
    for task in tasks {
        let rows_for: Vec<(&RunSummary, &zeroshot::SavedTask)> = saved
            .iter()
            .filter_map(|(r, s)| s.get(&task).map(|t| (*r, t)))
            .collect();
        let (_, first) = rows_for[0];
        let rows: Vec<Vec<String>> = rows_for
            .iter()
            .map(|(r, t)| {
                vec![
                    sparsity_label(&r.config.train),
                    r.run.clone(),
                    format!("{:.4}", t.baseline.top1),
                    format!("{:.4}", t.sae.top1),
                    format!("{:.4}", t.sae.top5),
                    format!("{:.4}", t.control.top1),
                    t.sae.n.to_string(),
                ]
            })
            .collect();
        let _ = writeln!(w.doc, "### {task} (set `{}`)\n", first.set);
        let _ = writeln!(
            w.doc,
            "{}",
            markdown(
                &[
                    "λ",
                    "run",
                    "CLIP baseline",
                    "CLIP + SAE",
                    "CLIP + SAE top-5",
                    "control",
                    "n"
                ],
                &rows
            )
        );
        let mut bars = vec![("CLIP".to_string(), first.baseline.top1)];
        bars.extend(rows_for.iter().map(|(r, t)| (legend(r), t.sae.top1)));
        let file = format!("zeroshot_{}.png", sanitize(&task));
        accuracy_bars(&w.out.join(PLOTS_DIR).join(&file), &task, &bars)?;
        let _ = writeln!(w.doc, "![Zero-shot top-1 on {task}]({PLOTS_DIR}/{file})\n");
    }
    Ok(())
}

/// A name safe as a file name.
pub(crate) fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn steering_section(w: &mut Writer, runs: &[RunSummary]) -> Result<()> {
    let _ = writeln!(w.doc, "## Steering\n");
    let mut rows = Vec::new();
    for r in runs {
        for e in super::steer::examples::list(&RunDir::new(w.ws, &r.run))? {
            let class = |c: &Option<(String, f32)>| {
                c.as_ref()
                    .map(|(n, p)| format!("{n} ({p:.2})"))
                    .unwrap_or_else(|| "-".into())
            };
            let moved: Vec<String> = e
                .concepts
                .iter()
                .take(3)
                .map(|(c, d)| format!("{c} {d:+.2}"))
                .collect();
            rows.push(vec![
                r.run.clone(),
                format!("{}: {}", e.image, e.image_caption),
                format!("{:?} ({})", e.latent, e.latent_labels.join("; ")),
                if e.method == "ablate" {
                    e.method.clone()
                } else {
                    format!("{} {:+}", e.method, e.strength)
                },
                class(&e.class_before),
                class(&e.class_after),
                if moved.is_empty() {
                    e.labels_after.join(", ")
                } else {
                    moved.join(", ")
                },
            ]);
        }
    }
    if rows.is_empty() {
        w.missing("No steering examples yet: `saelab steer RUN --image ID --latent J --strength A` keeps one.");
        return Ok(());
    }
    let _ = writeln!(w.doc, "Each example moves SAE latents of one image's embedding (edit: change the code and keep the reconstruction error; add: add the latent's unit decoder direction); strengths are in units of the latent's typical activation.\n");
    let _ = writeln!(
        w.doc,
        "{}",
        markdown(
            &[
                "run",
                "image",
                "latents",
                "method",
                "top class before",
                "after",
                "what moved"
            ],
            &rows
        )
    );
    Ok(())
}

/// A run in a plot's legend: `λ 1e-3` for the study's ReLU, `topk k32` for the others.
fn legend(r: &RunSummary) -> String {
    let t = &r.config.train;
    match t.shown_k() {
        None if t.arch == super::sae::Arch::Relu => format!("λ {}", format_lambda(t.lambda)),
        _ => sparsity_label(t),
    }
}
