//! `saelab demo`, `saelab image`, and the overview `saelab` prints with no command.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;

use super::tables::print_json;
use super::Ctx;
use crate::engine::demo;
use crate::engine::error::Error;
use crate::engine::latents::collage::Pictures;
use crate::engine::run::list_runs;
use crate::engine::set::{self, EmbeddingSet};
use crate::tui;
use crate::tui::theme::Theme;

pub fn create(ctx: &Ctx, images: usize, seed: u64) -> anyhow::Result<()> {
    if images == 0 {
        return Err(Error::invalid("--images", "must be at least 1").into());
    }
    let start = Instant::now();
    let dir = demo::create(&ctx.ws, images, seed)?;
    let seconds = start.elapsed().as_secs_f64();
    if ctx.json {
        return print_json(
            &serde_json::json!({"set": demo::SET_NAME, "rows": images, "dim": demo::DIM, "seconds": seconds, "path": dir}),
        );
    }
    ctx.note(&format!(
        "made set '{}': {images} embeddings of {} dimensions in {seconds:.1} s, in {}",
        demo::SET_NAME,
        demo::DIM,
        dir.display()
    ));
    Ok(())
}

pub fn image(ctx: &Ctx, set_name: &str, id: usize, out: &Path) -> anyhow::Result<()> {
    let set = EmbeddingSet::open(&ctx.ws, set_name)?;
    if id >= set.rows() {
        return Err(Error::invalid(
            "item id",
            format!(
                "{id} is out of range: set '{set_name}' has {} items",
                set.rows()
            ),
        )
        .into());
    }
    let img = Pictures::for_set(&set)?.picture(id).ok_or_else(|| {
        Error::invalid(
            "item",
            format!("the picture of item {id} of set '{set_name}' could not be read"),
        )
    })?;
    img.save(out)
        .map_err(|e| Error::bad_file(out, format!("could not be written: {e}")))?;
    let what = if demo::is_demo(&set) {
        demo::scene_of_row(&set, id).caption()
    } else {
        set.items()?[id].label.clone().unwrap_or_default()
    };
    ctx.note(&format!("wrote {} ({what})", out.display()));
    Ok(())
}

/// What `saelab` with no command does: make sure the demo world exists, then open the lab on
/// a terminal, or print an overview of the workspace when output is not one.
pub fn open_lab(ctx: &Ctx, theme: Option<&str>) -> anyhow::Result<()> {
    let theme_named = theme.is_some();
    let theme = Theme::chosen(theme, None)?;
    if !ctx
        .ws
        .set_dir(demo::SET_NAME)
        .join(set::META_FILE)
        .is_file()
    {
        ctx.note("first run: making the demo world…");
        create(ctx, demo::DEFAULT_IMAGES, demo::DEFAULT_SEED)?;
    }
    if std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
        return tui::run(tui::Options {
            ws: ctx.ws.clone(),
            theme,
            theme_named,
            device: ctx.device_name(),
        });
    }
    overview(ctx)
}

/// The workspace in a few lines, and what to type next.
fn overview(ctx: &Ctx) -> anyhow::Result<()> {
    let sets = set::list(&ctx.ws)?;
    let runs = list_runs(&ctx.ws, &[])?;
    println!("workspace  {}", ctx.ws.root().display());
    println!("device     {}", ctx.device_name());
    println!("sets       {}", sets.join(", "));
    println!(
        "runs       {}",
        if runs.is_empty() {
            "none yet".to_string()
        } else {
            runs.iter()
                .map(|r| format!("{} ({})", r.run, r.status.name()))
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    println!();
    let steps = [
        (
            "saelab sweep --data demo --lambdas 1e-3,1e-2,3e-2",
            "train the study's sweep",
        ),
        ("saelab runs | saelab metrics", "watch it, read the table"),
        (
            "saelab zeroshot --task demo100",
            "accuracy, CLIP alone and through each SAE",
        ),
        (
            "saelab latents RUN | saelab show RUN 19",
            "labels and collages of a run's latents",
        ),
        (
            "saelab steer RUN --image 7 --latent 19",
            "move a feature, see what changes",
        ),
        (
            "saelab report --out report/",
            "all of it as a markdown report",
        ),
        ("saelab --help", "every command"),
    ];
    for (i, (cmd, what)) in steps.iter().enumerate() {
        println!("{:<7}{cmd:<52}{what}", if i == 0 { "next:" } else { "" });
    }
    Ok(())
}
