//! `saelab sets`, `runs` and `metrics`: tables for people, JSON rows for scripts.

use serde::Serialize;
use serde_json::json;

use super::Ctx;
use crate::engine::report::table::markdown;
use crate::engine::report::tables::metrics_table;
use crate::engine::run::{
    list_runs, read_all_runs, sort_for_tables, sparsity_label, RunDir, RunSummary, Status,
};
use crate::engine::set::{self, EmbeddingSet};

pub fn sets(ctx: &Ctx) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    for name in set::list(&ctx.ws)? {
        // A sharded set's rows are not read to list it; `sets verify` checks them.
        let listed = crate::engine::fsutil::read_toml::<set::SetMeta>(
            &ctx.ws.set_dir(&name).join(set::META_FILE),
        );
        let meta = match listed {
            Ok(m) if !m.shards.is_empty() => Ok(m),
            _ => EmbeddingSet::open(&ctx.ws, &name).map(|s| s.meta),
        };
        let meta = match meta {
            Ok(m) => m,
            Err(e) => {
                eprintln!("warning: set '{name}' cannot be read: {e}");
                continue;
            }
        };
        rows.push(meta);
    }
    // Slices not merged are not sets yet, but an afternoon of embedding: say where they are.
    for u in crate::engine::embed::slices::unmerged(&ctx.ws)? {
        eprintln!(
            "note: '{}' has {} of {} slices embedded and is not merged: `saelab sets merge {}` joins them (it names any still missing)",
            u.name, u.done, u.of, u.name
        );
    }
    if ctx.json {
        return print_json(&rows);
    }
    if rows.is_empty() {
        println!("No embedding sets yet: `saelab demo` makes the demo set.");
        return Ok(());
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|m| {
            vec![
                m.name.clone(),
                m.count.to_string(),
                m.dim.to_string(),
                m.model.clone(),
                m.source.clone(),
                m.tasks.join(","),
            ]
        })
        .collect();
    print!(
        "{}",
        markdown(&["set", "rows", "dim", "model", "source", "tasks"], &cells)
    );
    Ok(())
}

/// The named runs, or every run with a warning for each whose files cannot be read (the
/// listing goes on without them).
fn runs_warning(ctx: &Ctx, names: &[String]) -> anyhow::Result<Vec<RunSummary>> {
    if !names.is_empty() {
        return Ok(list_runs(&ctx.ws, names)?);
    }
    let (runs, unreadable) = read_all_runs(&ctx.ws)?;
    for (name, why) in unreadable {
        eprintln!("warning: skipped run '{name}': {why}");
    }
    Ok(runs)
}

pub fn runs(ctx: &Ctx) -> anyhow::Result<()> {
    let runs = runs_warning(ctx, &[])?;
    if ctx.json {
        return print_json(&runs);
    }
    if runs.is_empty() {
        println!("No runs yet: `saelab sweep --data demo` trains the study's three λ.");
        return Ok(());
    }
    let cells: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let (step, progress) = match &r.config.imported {
                Some(i) => ("-".to_string(), format!("imported ({})", i.format)),
                None => (
                    format!("{}/{}", r.step, r.total_steps),
                    format!(
                        "{:.0}%",
                        100.0 * r.step as f64 / r.total_steps.max(1) as f64
                    ),
                ),
            };
            vec![
                r.run.clone(),
                r.data.clone(),
                sparsity_label(&r.config.train),
                r.status.name().into(),
                step,
                progress,
            ]
        })
        .collect();
    print!(
        "{}",
        markdown(
            &["run", "data", "sparsity", "status", "step", "progress"],
            &cells
        )
    );
    Ok(())
}

/// One row of `saelab metrics --json` (keys per the contract).
fn metrics_json(ctx: &Ctx, r: &RunSummary) -> serde_json::Value {
    let t = &r.config.train;
    let card = crate::engine::card::saved_card(&RunDir::new(&ctx.ws, &r.run));
    let mut row = json!({
        "run": r.run, "data": r.data, "lambda": t.shown_lambda(), "dict": t.dict,
        "l1_convention": t.l1.name(), "status": r.status.name(),
        "arch": t.arch.name(), "k": t.shown_k(), "epochs": t.epochs, "batch": t.batch,
        "precision": t.precision.name(), "imported": r.imported, "card": card,
    });
    if let Some(res) = &r.results {
        let m = &res.metrics;
        let extra = json!({
            "avg_l0": m.avg_l0, "mse": m.mse, "l1": m.l1, "r2": m.r2, "fvu": m.fvu,
            "dead_frac": m.dead_frac, "dense_frac": m.dense_frac,
            "examples_per_sec": res.examples_per_sec, "steps": res.steps,
        });
        merge(&mut row, extra);
        if let (Some(g), Some(f)) = (m.gt_recovery, m.gt_recovered_frac) {
            merge(&mut row, json!({"gt_recovery": g, "gt_recovered_frac": f}));
        }
        if let Some(mcc) = m.gt_mcc {
            merge(&mut row, json!({"gt_mcc": mcc, "gt_f1": m.gt_f1}));
        }
    }
    row
}

fn merge(into: &mut serde_json::Value, from: serde_json::Value) {
    if let (Some(a), serde_json::Value::Object(b)) = (into.as_object_mut(), from) {
        a.extend(b);
    }
}

pub fn metrics(ctx: &Ctx, names: &[String]) -> anyhow::Result<()> {
    let mut runs = runs_warning(ctx, names)?;
    sort_for_tables(&mut runs);
    if ctx.json {
        let rows: Vec<_> = runs.iter().map(|r| metrics_json(ctx, r)).collect();
        return print_json(&rows);
    }
    if runs.is_empty() {
        println!("No runs yet: `saelab sweep --data demo` trains the study's three λ.");
        return Ok(());
    }
    print!("{}", metrics_table(&runs));
    let unfinished: Vec<&str> = runs
        .iter()
        .filter(|r| r.status != Status::Done)
        .map(|r| r.run.as_str())
        .collect();
    if !unfinished.is_empty() {
        eprintln!(
            "not finished: {} (`saelab resume RUN` continues one)",
            unfinished.join(", ")
        );
    }
    Ok(())
}

pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
