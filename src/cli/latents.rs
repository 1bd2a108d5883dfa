//! `saelab latents RUN` and `saelab show RUN LATENT`.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;

use serde_json::json;

use super::tables::print_json;
use super::Ctx;
use crate::engine::latents::{analyse, Analysis, Category};
use crate::engine::report::table::markdown;

/// Terminal columns a collage may take when printed.
const SHOW_WIDTH: u32 = 72;

pub struct LatentsArgs<'a> {
    pub run: &'a str,
    pub top: usize,
    pub list: usize,
    pub csv: Option<&'a Path>,
    pub from: usize,
    pub count: usize,
}

pub fn run(ctx: &Ctx, a: LatentsArgs) -> anyhow::Result<()> {
    let start = Instant::now();
    let an = analyse(&ctx.ws, a.run, a.top)?;
    let counts = |c: Category| an.labels.iter().filter(|l| l.category == c).count();
    ctx.note(&format!(
        "{} index and labels of {} latents over {} rows in {:.2} s: {} semantic, {} too specific, {} no clear concept, {} dead",
        if an.built { "built" } else { "read" },
        an.labels.len(),
        an.index.rows,
        start.elapsed().as_secs_f64(),
        counts(Category::Semantic),
        counts(Category::TooSpecific),
        counts(Category::NoClear),
        counts(Category::Dead),
    ));
    if let Some(g) = an.agreement()? {
        let pct = |(a, n): (usize, usize)| {
            format!("{a}/{n} ({:.1}%)", 100.0 * a as f64 / n.max(1) as f64)
        };
        ctx.note(&format!(
            "ground truth: the best word names the closest concept for {} of alive latents, {} of semantic ones, {} of those within cosine 0.5 of a concept",
            pct(g.alive),
            pct(g.semantic),
            pct(g.concept)
        ));
    }
    if let Some(path) = a.csv {
        let latents: Vec<usize> = (a.from..(a.from + a.count).min(an.labels.len())).collect();
        if latents.is_empty() {
            return Err(crate::engine::error::Error::invalid(
                "--from",
                format!(
                    "{} is out of range: the SAE has {} latents",
                    a.from,
                    an.labels.len()
                ),
            )
            .into());
        }
        an.write_csv(path, &latents, &an.collage_dir())?;
        ctx.note(&format!(
            "wrote {} (latents {}..{})",
            path.display(),
            a.from,
            a.from + a.count
        ));
    }
    let order = clearest(&an, a.list);
    if ctx.json {
        let rows: Vec<_> = order.iter().map(|&j| latent_json(&an, j)).collect();
        return print_json(&rows);
    }
    let rows: Vec<Vec<String>> = order
        .iter()
        .map(|&j| {
            let (l, s) = (&an.labels[j], &an.index.latents[j]);
            vec![
                j.to_string(),
                l.category.name().into(),
                format!("{:.2}%", 100.0 * s.frequency(an.index.rows)),
                format!("{:.3}", s.max),
                format!("{:.1}", l.confidence),
                l.top_words.join(", "),
            ]
        })
        .collect();
    print!(
        "{}",
        markdown(
            &[
                "latent",
                "category",
                "frequency",
                "max act",
                "confidence",
                "top words"
            ],
            &rows
        )
    );
    Ok(())
}

/// The `n` semantic latents with the most confident labels.
fn clearest(an: &Analysis, n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..an.labels.len())
        .filter(|&j| an.labels[j].category == Category::Semantic)
        .collect();
    order.sort_by(|&a, &b| an.labels[b].confidence.total_cmp(&an.labels[a].confidence));
    order.truncate(n);
    order
}

fn latent_json(an: &Analysis, j: usize) -> serde_json::Value {
    let (l, s) = (&an.labels[j], &an.index.latents[j]);
    json!({
        "latent_id": j, "category": l.category.name(), "description": l.description,
        "top_words": l.top_words, "confidence": l.confidence,
        "frequency": s.frequency(an.index.rows), "mean_activation": s.mean_active(),
        "max_activation": s.max, "top_rows": s.top.iter().map(|t| t.1).collect::<Vec<_>>(),
        "histogram": s.histogram,
    })
}

pub fn show(ctx: &Ctx, run: &str, latent: usize, top: usize) -> anyhow::Result<()> {
    let an = analyse(&ctx.ws, run, top)?;
    let path = an.collage(latent)?;
    if ctx.json {
        let mut v = latent_json(&an, latent);
        v["collage"] = json!(path);
        return print_json(&v);
    }
    let (l, s) = (&an.labels[latent], &an.index.latents[latent]);
    if std::io::stdout().is_terminal() {
        let config = viuer::Config {
            width: Some(SHOW_WIDTH),
            absolute_offset: false,
            ..Default::default()
        };
        let drawn = image::open(&path)
            .map_err(|e| e.to_string())
            .and_then(|img| viuer::print(&img, &config).map_err(|e| e.to_string()));
        if let Err(e) = drawn {
            eprintln!(
                "warning: could not draw the collage here ({e}); it is at {}",
                path.display()
            );
        }
    }
    println!(
        "latent {latent} of run '{run}': {} ({}, confidence {:.2})",
        l.description,
        l.category.name(),
        l.confidence
    );
    println!(
        "fires on {:.2}% of rows, mean {:.3}, max {:.3}",
        100.0 * s.frequency(an.index.rows),
        s.mean_active(),
        s.max
    );
    println!("collage: {}", path.display());
    Ok(())
}
