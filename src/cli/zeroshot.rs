//! `saelab zeroshot`: the study's baseline-vs-SAE table.

use std::path::Path;

use serde_json::json;

use super::tables::print_json;
use super::Ctx;
use crate::engine::report::table::markdown;
use crate::engine::run::format_lambda;
use crate::engine::zeroshot::{biggest_losses, evaluate, TaskResult, TaskSpec};

pub fn run(
    ctx: &Ctx,
    task: Option<&str>,
    classes: Option<&Path>,
    set: Option<&str>,
    runs: &[String],
    losses: usize,
) -> anyhow::Result<()> {
    let spec = match (classes, task) {
        (Some(file), _) => TaskSpec::from_file(file)?,
        (None, Some(name)) => TaskSpec::builtin(name)?,
        (None, None) => unreachable!("clap requires --task or --classes"),
    };
    let result = evaluate(&ctx.ws, &spec, set, runs, &|run| {
        ctx.note(&format!("scoring {} through {run}…", spec.name))
    })?;
    if ctx.json {
        return print_json(&json_rows(&result));
    }
    print!("{}", table(&result));
    if result.runs.is_empty() {
        ctx.note("no finished runs on this model yet: `saelab sweep --data demo` trains some");
    }
    for r in &result.runs {
        let lost = biggest_losses(&result.classes, &result.baseline, &r.sae, losses);
        let listed: Vec<String> = lost
            .iter()
            .map(|(c, b, s)| format!("{c} {b:.3} → {s:.3}"))
            .collect();
        println!("{}: lost most on {}", r.run, listed.join(", "));
    }
    Ok(())
}

/// `--json` rows per the contract: task, run (null for CLIP alone), top1, top5, n.
fn json_rows(r: &TaskResult) -> Vec<serde_json::Value> {
    let mut rows = vec![
        json!({"task": r.task, "run": null, "top1": r.baseline.top1, "top5": r.baseline.top5, "n": r.baseline.n, "set": r.set}),
    ];
    for s in &r.runs {
        rows.push(json!({
            "task": r.task, "run": s.run, "top1": s.sae.top1, "top5": s.sae.top5, "n": s.sae.n,
            "lambda": s.lambda, "control_top1": s.control.top1, "control_top5": s.control.top5, "set": r.set,
        }));
    }
    rows
}

fn table(r: &TaskResult) -> String {
    let b = &r.baseline;
    let mut rows = vec![vec![
        r.task.clone(),
        "CLIP alone".into(),
        "-".into(),
        format!("{:.4}", b.top1),
        format!("{:.4}", b.top5),
        "-".into(),
        "-".into(),
        b.n.to_string(),
    ]];
    for s in &r.runs {
        rows.push(vec![
            r.task.clone(),
            s.run.clone(),
            format_lambda(s.lambda),
            format!("{:.4}", s.sae.top1),
            format!("{:.4}", s.sae.top5),
            format!("{:+.4}", s.sae.top1 - b.top1),
            format!("{:.4}", s.control.top1),
            s.sae.n.to_string(),
        ]);
    }
    markdown(
        &[
            "task",
            "run",
            "λ",
            "top-1",
            "top-5",
            "Δ top-1",
            "control top-1",
            "n",
        ],
        &rows,
    )
}
