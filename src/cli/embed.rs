//! `saelab embed`: a dataset through CLIP into an embedding set, with a progress bar.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::args::EmbedArgs;
use super::tables::print_json;
use super::{Ctx, CANCEL};
use crate::engine::clip::source::ModelSource;
use crate::engine::dataset::{parse_spec, Split};
use crate::engine::device::describe;
use crate::engine::embed::{embed, EmbedOptions};

/// Plain progress lines (stderr not a terminal) about every this many seconds.
const PLAIN_EVERY_SECS: f64 = 10.0;

pub fn run(ctx: &Ctx, req: EmbedArgs) -> anyhow::Result<()> {
    let (kind, path) = parse_spec(&req.dataset)?;
    let mut model = ModelSource::new(req.model);
    model.offline = req.offline;
    model.progress = !ctx.quiet && std::io::stderr().is_terminal();
    let mut opts = EmbedOptions::new(model, kind, path, req.name);
    opts.split = Split::parse(&req.split)?;
    opts.batch = req.batch;
    opts.limit = req.limit;
    let device = ctx.device.open()?;
    ctx.note(&format!(
        "embedding {} ({} split) with {} on {}",
        req.dataset,
        opts.split.name(),
        opts.model.spec,
        describe(&device)
    ));
    let bar = bar(ctx);
    let started = Instant::now();
    let mut last_line = 0.0;
    let outcome = embed(&ctx.ws, &opts, &device, &CANCEL, &mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        let t = started.elapsed().as_secs_f64();
        if bar.is_hidden() && !ctx.quiet && (t - last_line >= PLAIN_EVERY_SECS || done == total) {
            eprintln!("{done}/{total} images");
            last_line = t;
        }
    });
    bar.finish_and_clear();
    let outcome = outcome?;
    if ctx.json {
        return print_json(&outcome);
    }
    for s in &outcome.skipped {
        let at = s
            .path
            .clone()
            .unwrap_or_else(|| format!("row {}", s.source_index));
        ctx.note(&format!("skipped {at}: {}", s.reason));
    }
    println!(
        "set '{}': {} embeddings of {} dims, {} skipped, {:.1} images/s{}",
        outcome.set,
        outcome.rows,
        outcome.dim,
        outcome.skipped.len(),
        outcome.images_per_sec,
        if outcome.resumed > 0 {
            format!(" ({} resumed from an earlier run)", outcome.resumed)
        } else {
            String::new()
        }
    );
    Ok(())
}

fn bar(ctx: &Ctx) -> ProgressBar {
    let bar = ProgressBar::new(0);
    if ctx.quiet || !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template("embedding [{bar:30}] {pos}/{len} {per_sec} {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar
}
