//! `saelab sets merge` and `saelab sets verify`: a sharded set's slices joined, and any set's
//! files checked.

use anyhow::bail;

use super::tables::print_json;
use super::Ctx;
use crate::engine::embed::{slices, tasks_for};
use crate::engine::set;
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
