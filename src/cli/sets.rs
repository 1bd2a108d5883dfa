//! `saelab sets merge`, `verify` and `index`: a sharded set's slices joined, any set's files
//! checked, and a large set's nearest-row index built ahead of the lab.

use std::sync::Mutex;
use std::time::Instant;

use anyhow::bail;
use serde_json::json;

use super::progress::Counter;
use super::tables::print_json;
use super::{Ctx, CANCEL};
use crate::engine::embed::{slices, tasks_for};
use crate::engine::set::{self, EmbeddingSet};
use crate::engine::steer::nearest::{self, Opened, EXACT_ROWS, INDEX_FILE};
use crate::engine::workspace::validate_name;

pub fn merge(ctx: &Ctx, name: &str) -> anyhow::Result<()> {
    let merged = slices::merge(&ctx.ws, name, tasks_for)?;
    if ctx.json {
        return print_json(&merged);
    }
    println!(
        "set '{}': {} rows from {} slices in {} shard files ({} pictures skipped); `saelab sets verify {}` checks them",
        merged.set, merged.rows, merged.slices, merged.shards, merged.skipped, merged.set
    );
    Ok(())
}

/// Builds (or finds kept) the nearest-row index of set `name`, saying what it cost.
pub fn index(ctx: &Ctx, name: &str) -> anyhow::Result<()> {
    validate_name("set", name)?;
    let set = EmbeddingSet::open(&ctx.ws, name)?;
    let started = Instant::now();
    let opened = with_index_bar(ctx, set.rows(), |progress| {
        nearest::prepare(&set, progress, &CANCEL)
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let path = set.dir().join(INDEX_FILE);
    let bytes = match opened {
        Opened::Exact | Opened::Unkept(_) => 0,
        _ => std::fs::metadata(&path).map_or(0, |m| m.len()),
    };
    let search = match opened {
        Opened::Exact => "exact",
        Opened::Kept => "kept",
        Opened::Built => "built",
        Opened::Unkept(_) => "unkept",
    };
    if ctx.json {
        return print_json(&json!({
            "set": name, "rows": set.rows(), "search": search, "seconds": seconds, "bytes": bytes,
        }));
    }
    match &opened {
        Opened::Exact => println!(
            "set '{name}': {} rows are searched exactly (up to {EXACT_ROWS}); no index is needed",
            set.rows()
        ),
        Opened::Kept => println!(
            "set '{name}': its nearest-row index is kept and current ({:.0} MB, {})",
            bytes as f64 / 1e6,
            path.display()
        ),
        Opened::Built => println!(
            "set '{name}': nearest-row index of {} rows built in {seconds:.1} s ({:.0} MB, {})",
            set.rows(),
            bytes as f64 / 1e6,
            path.display()
        ),
        Opened::Unkept(why) => {
            bail!("set '{name}': its nearest-row index was built but not kept: {why}")
        }
    }
    Ok(())
}

/// Runs `open`, which may build a nearest-row index of `total` rows, with a bar for the rows
/// it links in.
pub fn with_index_bar<T>(
    ctx: &Ctx,
    total: usize,
    open: impl FnOnce(&(dyn Fn(usize) + Sync)) -> crate::engine::error::Result<T>,
) -> anyhow::Result<T> {
    let counter = Mutex::new(Counter::new(
        ctx.quiet,
        "indexing nearest rows",
        "rows indexed",
    ));
    let opened = open(&|done| {
        if let Ok(mut c) = counter.lock() {
            c.update(done, total);
        }
    });
    if let Ok(c) = counter.lock() {
        c.finish();
    }
    Ok(opened?)
}

pub fn verify(ctx: &Ctx, name: &str) -> anyhow::Result<()> {
    validate_name("set", name)?;
    let dir = ctx.ws.set_dir(name);
    if !dir.join(set::META_FILE).is_file() {
        bail!(
            "no embedding set named '{name}' in {} (a sharded set appears once `saelab sets merge {name}` has joined its slices)",
            ctx.ws.sets_dir().display()
        );
    }
    let checks = set::verify(&dir)?;
    let bad: Vec<&set::FileCheck> = checks.iter().filter(|c| c.problem.is_some()).collect();
    if ctx.json {
        print_json(&checks)?;
    } else {
        let rows: usize = checks.iter().map(|c| c.rows).sum();
        println!(
            "set '{name}': {} of {} file{} whole ({rows} rows)",
            checks.len() - bad.len(),
            checks.len(),
            if checks.len() == 1 { "" } else { "s" }
        );
    }
    for b in &bad {
        eprintln!("{}: {}", b.file, b.problem.as_deref().unwrap_or_default());
    }
    if !bad.is_empty() {
        bail!(
            "{} file{} of set '{name}' {} missing or damaged (listed above): re-embed {} slice{} and merge again, or re-create the set",
            bad.len(),
            if bad.len() == 1 { "" } else { "s" },
            if bad.len() == 1 { "is" } else { "are" },
            if bad.len() == 1 { "its" } else { "their" },
            if bad.len() == 1 { "" } else { "s" }
        );
    }
    Ok(())
}
