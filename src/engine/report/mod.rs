//! `saelab report`: the study's results document, written from what the lab computed. Every
//! number comes from the run files; every image path is relative to the report and exists;
//! a part the workspace lacks is left out with a line saying how to produce it.

pub mod plots;
pub mod table;
pub mod tables;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use plots::{accuracy_bars, loss_curves, tradeoff, Curve, TradeOff};
use table::markdown;

use super::error::{Error, Result};
use super::fsutil;
use super::latents::{analyse, Analysis, Category, INDEX_FILE, LATENTS_DIR};
use super::run::{format_lambda, list_runs, RunDir, RunSummary, Status};
use super::set::EmbeddingSet;
use super::workspace::Workspace;
use super::zeroshot;

pub const REPORT_FILE: &str = "README.md";
const PLOTS_DIR: &str = "plots";
const COLLAGES_DIR: &str = "collages";
/// Latents shown per choice rule (most frequent, most confident).
const SHOWN_PER_RULE: usize = 3;

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
    let mut runs = list_runs(ws, req.runs)?;
    runs.sort_by(|a, b| {
        (
            &a.data,
            a.config.train.l1.name(),
            a.config.train.epochs,
            a.lambda.to_bits(),
            &a.run,
        )
            .cmp(&(
                &b.data,
                b.config.train.l1.name(),
                b.config.train.epochs,
                b.lambda.to_bits(),
                &b.run,
            ))
    });
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
    if runs.is_empty() {
        w.missing("No runs yet: `saelab sweep --data demo --lambdas 1e-3,1e-2,3e-2` trains the study's sweep.");
    } else {
        data_section(&mut w, &runs);
        training_section(&mut w, &runs);
        metrics_section(&mut w, &runs)?;
        zeroshot_section(&mut w, &runs)?;
        latents_section(&mut w, req, &runs)?;
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
                format_lambda(t.lambda),
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
                name: format!("λ {}", format_lambda(r.lambda)),
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
                    format_lambda(r.lambda),
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
        bars.extend(
            rows_for
                .iter()
                .map(|(r, t)| (format!("λ {}", format_lambda(r.lambda)), t.sae.top1)),
        );
        let file = format!("zeroshot_{}.png", sanitize(&task));
        accuracy_bars(&w.out.join(PLOTS_DIR).join(&file), &task, &bars)?;
        let _ = writeln!(w.doc, "![Zero-shot top-1 on {task}]({PLOTS_DIR}/{file})\n");
    }
    Ok(())
}

/// A name safe as a file name.
fn sanitize(name: &str) -> String {
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

/// The run whose latents are shown: the one asked for, or the first finished run with an index.
fn latent_run<'a>(
    ws: &Workspace,
    req: &ReportRequest,
    runs: &'a [RunSummary],
) -> Result<Option<&'a RunSummary>> {
    if let Some(name) = req.latent_run {
        return runs
            .iter()
            .find(|r| r.run == name)
            .map(Some)
            .ok_or_else(|| {
                Error::invalid(
                    "--latent-run",
                    format!("run '{name}' is not among the reported runs"),
                )
            });
    }
    Ok(runs.iter().find(|r| {
        r.status == Status::Done
            && RunDir::new(ws, &r.run)
                .path(LATENTS_DIR)
                .join(INDEX_FILE)
                .is_file()
    }))
}

/// Which latents to show: the most frequent, the most confident, and the user's.
fn chosen_latents(an: &Analysis, extra: &[usize]) -> Vec<(&'static str, usize)> {
    let alive: Vec<usize> = (0..an.labels.len())
        .filter(|&j| an.labels[j].category != Category::Dead)
        .collect();
    let mut frequent = alive.clone();
    frequent.sort_by(|&a, &b| {
        an.index.latents[b]
            .active
            .cmp(&an.index.latents[a].active)
            .then(a.cmp(&b))
    });
    let mut confident: Vec<usize> = alive
        .iter()
        .copied()
        .filter(|&j| an.labels[j].category == Category::Semantic)
        .collect();
    confident.sort_by(|&a, &b| an.labels[b].confidence.total_cmp(&an.labels[a].confidence));
    let mut out: Vec<(&'static str, usize)> = Vec::new();
    let push = |kind: &'static str, j: usize, out: &mut Vec<(&'static str, usize)>| {
        if !out.iter().any(|&(_, k)| k == j) {
            out.push((kind, j));
        }
    };
    frequent
        .iter()
        .take(SHOWN_PER_RULE)
        .for_each(|&j| push("most frequent", j, &mut out));
    confident
        .iter()
        .take(SHOWN_PER_RULE)
        .for_each(|&j| push("most confident", j, &mut out));
    extra.iter().for_each(|&j| push("chosen", j, &mut out));
    out
}

fn latents_section(w: &mut Writer, req: &ReportRequest, runs: &[RunSummary]) -> Result<()> {
    let _ = writeln!(w.doc, "## Interpretation of SAE latents\n");
    let Some(run) = latent_run(w.ws, req, runs)? else {
        w.missing(
            "No latent index yet: `saelab latents RUN` builds one (then run the report again).",
        );
        return Ok(());
    };
    let k = 16;
    let an = analyse(w.ws, &run.run, k)?;
    if let Some(&bad) = req.latents.iter().find(|&&j| j >= an.labels.len()) {
        return Err(Error::invalid(
            "--latents",
            format!(
                "{bad} is out of range: the SAE has {} latents",
                an.labels.len()
            ),
        ));
    }
    let collages = req.out.join(COLLAGES_DIR);
    let _ = writeln!(w.doc, "Run `{}`: the top {} images of each latent, with labels from the built-in vocabulary scored by the set's text encoder.\n", run.run, an.index.k);
    let mut rows = Vec::new();
    for (kind, j) in chosen_latents(&an, req.latents) {
        let file = an.collage_in(&collages, j)?;
        let name = file
            .file_name()
            .expect("collage files have names")
            .to_string_lossy()
            .into_owned();
        let l = &an.labels[j];
        rows.push(vec![
            kind.to_string(),
            l.category.name().into(),
            j.to_string(),
            format!("![]({COLLAGES_DIR}/{name})"),
            l.description.clone(),
        ]);
    }
    let _ = writeln!(
        w.doc,
        "{}",
        markdown(
            &["choice", "type", "latent", "collage", "auto-interpretation"],
            &rows
        )
    );
    let count = req.csv_latents.min(an.labels.len());
    let csv_name = format!("latents_{}.csv", sanitize(&run.run));
    let ids: Vec<usize> = (0..count).collect();
    an.write_csv(&req.out.join(&csv_name), &ids, &collages)?;
    let _ = writeln!(
        w.doc,
        "Automatic labels of latents 0 to {}: [{csv_name}]({csv_name}).\n",
        count.saturating_sub(1)
    );
    if let Some(g) = an.agreement()? {
        let _ = writeln!(w.doc,
            "Against the demo world's ground truth, the best word names the closest concept for {}/{} latents that lie within cosine 0.5 of a concept.\n",
            g.concept.0, g.concept.1
        );
    }
    Ok(())
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
