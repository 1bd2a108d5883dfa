//! `saelab embed`: a dataset through CLIP into an embedding set, with a progress bar.

use std::io::IsTerminal;

use super::args::EmbedArgs;
use super::progress::Counter;
use super::tables::print_json;
use super::{Ctx, CANCEL};
use crate::engine::dataset::{parse_spec, Split};
use crate::engine::device::describe;
use crate::engine::embed::slices::Slice;
use crate::engine::embed::{embed, EmbedOptions, PriorSource};
use crate::engine::hub::{ModelSource, KANDINSKY_PRIOR};
use crate::engine::kandinsky::PriorOptions;

pub fn run(ctx: &Ctx, req: EmbedArgs) -> anyhow::Result<()> {
    let (kind, path) = parse_spec(&req.dataset)?;
    let mut model = ModelSource::new(req.model);
    model.offline = req.offline;
    model.progress = !ctx.quiet && std::io::stderr().is_terminal();
    let mut opts = EmbedOptions::new(model, kind, path, req.name);
    opts.split = Split::parse(&req.split)?;
    opts.batch = req.batch;
    opts.limit = req.limit;
    opts.chunk = req.chunk;
    opts.slice = req
        .shard
        .as_deref()
        .map(|spec| Slice::parse(spec, |k| std::env::var(k).ok()))
        .transpose()?;
    let progress = opts.model.progress;
    opts.prior = req.prior.as_ref().map(|spec| PriorSource {
        source: ModelSource {
            offline: req.offline,
            progress,
            ..ModelSource::of_kind(spec, KANDINSKY_PRIOR)
        },
        opts: PriorOptions {
            steps: req.prior_steps,
            guidance: req.guidance,
        },
        seed: req.seed,
    });
    let device = ctx.device.open()?;
    let (what, with, unit) = match &req.prior {
        Some(p) => ("the captions of", p.as_str(), "captions"),
        None => ("", opts.model.spec.as_str(), "images"),
    };
    ctx.note(&format!(
        "embedding {what}{}{} ({} split) with {with} on {}",
        if what.is_empty() { "" } else { " " },
        req.dataset,
        opts.split.name(),
        describe(&device)
    ));
    let mut counter = Counter::new(ctx.quiet, "embedding", unit);
    let outcome = embed(&ctx.ws, &opts, &device, &CANCEL, &mut |done, total| {
        counter.update(done, total)
    });
    counter.finish();
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
    let what = match outcome.slice {
        Some(s) => format!(
            "slice {} of {} of set '{}' (`saelab sets merge {}` once every slice is done)",
            s.index, s.count, outcome.set, outcome.set
        ),
        None => format!("set '{}'", outcome.set),
    };
    println!(
        "{what}: {} embeddings of {} dims, {} skipped, {:.1} images/s{}",
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
