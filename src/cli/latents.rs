//! `saelab latents RUN`: builds (or reads) the latent index and lists the busiest latents.

use std::time::Instant;

use serde_json::json;

use super::table::markdown;
use super::tables::print_json;
use super::Ctx;
use crate::engine::demo;
use crate::engine::error::Error;
use crate::engine::latents::index_for_run;
use crate::engine::run::{RunDir, Status};
use crate::engine::set::EmbeddingSet;

/// Captions shown per listed latent (demo sets).
const CAPTIONS_SHOWN: usize = 3;

pub fn run(ctx: &Ctx, name: &str, top: usize, list: usize) -> anyhow::Result<()> {
    if top == 0 {
        return Err(Error::invalid("--top", "must be at least 1").into());
    }
    let run = RunDir::existing(&ctx.ws, name)?;
    let summary = crate::engine::run::list_runs(&ctx.ws, &[name.to_string()])?.remove(0);
    if summary.status != Status::Done {
        return Err(Error::invalid(
            "run",
            format!("run '{name}' has not finished; `saelab resume {name}` finishes it"),
        )
        .into());
    }
    let set = EmbeddingSet::open(&ctx.ws, &summary.data)?;
    let start = Instant::now();
    let (index, built) = index_for_run(&run, &set, top)?;
    let seconds = start.elapsed().as_secs_f64();
    ctx.note(&format!(
        "{} the index of {} latents over {} rows in {seconds:.2} s; {} dead",
        if built { "built" } else { "read" },
        index.latents.len(),
        index.rows,
        index.dead()
    ));
    let mut order: Vec<usize> = (0..index.latents.len()).collect();
    order.sort_by(|&a, &b| {
        index.latents[b]
            .active
            .cmp(&index.latents[a].active)
            .then(a.cmp(&b))
    });
    order.truncate(list);
    let captions = |j: usize| -> String {
        if !demo::is_demo(&set) {
            return String::new();
        }
        index.latents[j]
            .top
            .iter()
            .take(CAPTIONS_SHOWN)
            .map(|&(_, r)| demo::scene_of_row(&set, r as usize).caption())
            .collect::<Vec<_>>()
            .join(" | ")
    };
    if ctx.json {
        let rows: Vec<_> = order
            .iter()
            .map(|&j| {
                let l = &index.latents[j];
                json!({"latent_id": j, "frequency": l.frequency(index.rows), "mean_activation": l.mean_active(), "max_activation": l.max, "top_rows": l.top.iter().map(|t| t.1).collect::<Vec<_>>()})
            })
            .collect();
        return print_json(&rows);
    }
    let rows: Vec<Vec<String>> = order
        .iter()
        .map(|&j| {
            let l = &index.latents[j];
            vec![
                j.to_string(),
                format!("{:.2}%", 100.0 * l.frequency(index.rows)),
                format!("{:.3}", l.mean_active()),
                format!("{:.3}", l.max),
                captions(j),
            ]
        })
        .collect();
    print!(
        "{}",
        markdown(
            &["latent", "frequency", "mean act", "max act", "top images"],
            &rows
        )
    );
    Ok(())
}
