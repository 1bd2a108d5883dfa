//! `saelab export`, `saelab import` and `saelab import-set`: SAEs and embeddings in and out.

use std::path::Path;

use serde_json::json;

use super::args::{ExportArgs, ImportArgs, ImportSetArgs};
use super::tables::print_json;
use super::Ctx;
use crate::engine::interop::{self, ImportRequest};
use crate::engine::run::unique_name;
use crate::engine::set::import::{import_set, ImportSetRequest};

pub fn export(ctx: &Ctx, a: &ExportArgs) -> anyhow::Result<()> {
    interop::export(&ctx.ws, &a.run, a.format.into(), &a.out)?;
    ctx.note(&format!(
        "wrote run '{}' as {} into {}",
        a.run,
        interop::Format::from(a.format).name(),
        a.out.display()
    ));
    Ok(())
}

/// The last part of a folder or repo id, as a run name: `owner/repo/layer.6` → `layer.6`.
fn default_name(ctx: &Ctx, source: &str) -> String {
    let last = Path::new(source.trim_end_matches('/'))
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let clean: String = last
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => c,
            _ => '-',
        })
        .collect();
    let base = match clean.trim_matches(['.', '-']) {
        "" => "imported".to_string(),
        s => s.to_string(),
    };
    unique_name(&ctx.ws, &base)
}

pub fn import(ctx: &Ctx, a: &ImportArgs) -> anyhow::Result<()> {
    let name = match &a.name {
        Some(n) => n.clone(),
        None => default_name(ctx, &a.source),
    };
    let format = interop::import(
        &ctx.ws,
        &ImportRequest {
            source: &a.source,
            set: &a.set,
            name: &name,
            offline: a.offline,
        },
    )?;
    if ctx.json {
        return print_json(&json!({"run": name, "format": format.name(), "set": a.set}));
    }
    ctx.note(&format!(
        "imported {} ({} layout) as run '{name}' on set '{}'; `saelab metrics {name}` shows how it does there",
        a.source,
        format.name(),
        a.set
    ));
    Ok(())
}

pub fn import_set_cmd(ctx: &Ctx, a: &ImportSetArgs) -> anyhow::Result<()> {
    let set = import_set(
        &ctx.ws,
        &ImportSetRequest {
            file: &a.file,
            name: &a.name,
            key: a.key.as_deref().or(a.column.as_deref()),
            items: a.items.as_deref(),
            normalize: a.normalize,
            model: a.model.as_deref(),
        },
    )?;
    if ctx.json {
        return print_json(&json!({"set": a.name, "rows": set.rows(), "dim": set.dim()}));
    }
    ctx.note(&format!(
        "set '{}': {} embeddings of {} dims from {}",
        a.name,
        set.rows(),
        set.dim(),
        a.file.display()
    ));
    Ok(())
}
