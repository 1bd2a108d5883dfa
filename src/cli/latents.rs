//! `saelab latents RUN` and `saelab show RUN LATENT`.

use std::sync::atomic::Ordering;
use std::time::Instant;

use serde_json::json;

use super::args::{LabelArg, LatentsArgs};
use super::progress::Counter;
use super::tables::print_json;
use super::{Ctx, CANCEL};
use crate::engine::caption::{CaptionCache, Captioner};
use crate::engine::device::describe;
use crate::engine::error::Error;
use crate::engine::latents::captioned::{saved_caption_labels, CaptionJob, CaptionedLabel};
use crate::engine::latents::{analyse, Analysis, Category, Label};
use crate::engine::report::table::markdown;

/// Characters of a caption shown in the table.
const CAPTION_SHOWN: usize = 60;
/// Terminal columns a collage may take when printed.
const SHOW_WIDTH: u32 = 72;

pub fn run(ctx: &Ctx, a: &LatentsArgs) -> anyhow::Result<()> {
    let start = Instant::now();
    let an = analyse(&ctx.ws, &a.run, a.top)?;
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
    if a.label == LabelArg::Caption {
        return caption_labels(ctx, &an, a);
    }
    if let Some(path) = &a.csv {
        an.write_csv(path, &range(&an, a)?, &an.collage_dir())?;
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

/// Latents FROM..FROM+COUNT that the SAE has.
fn range(an: &Analysis, a: &LatentsArgs) -> anyhow::Result<Vec<usize>> {
    let m = an.labels.len();
    let latents: Vec<usize> = (a.from..(a.from + a.count).min(m)).collect();
    if latents.is_empty() {
        return Err(Error::invalid(
            "--from",
            format!("{} is out of range: the SAE has {m} latents", a.from),
        )
        .into());
    }
    Ok(latents)
}

/// `--label caption`: captions the top pictures of latents FROM..FROM+COUNT with BLIP,
/// summarises them, lists the clearest and writes the CSV.
fn caption_labels(ctx: &Ctx, an: &Analysis, a: &LatentsArgs) -> anyhow::Result<()> {
    let latents = range(an, a)?;
    let device = ctx.device.open()?;
    ctx.note(&format!(
        "loading the captioner {} on {}",
        &a.captioner,
        describe(&device)
    ));
    let captioner = Captioner::load(&a.captioner, a.offline, &device)?;
    let mut cache = CaptionCache::open(&ctx.ws, an.set.name(), &captioner.name);
    let job = CaptionJob {
        latents: &latents,
        per_latent: a.captioned,
        cancel: &CANCEL,
    };
    let start = Instant::now();
    let mut counter = Counter::new(ctx.quiet, "captioning", "pictures");
    let mut total = 0;
    let captioned = an.caption_pictures(&captioner, &mut cache, &job, |done, all| {
        total = all;
        counter.update(done, all)
    });
    counter.finish();
    captioned?;
    if CANCEL.load(Ordering::SeqCst) {
        ctx.note(
            "interrupted: the captions made so far are kept; run the same command again to go on",
        );
        return Err(Error::Interrupted.into());
    }
    ctx.note(&format!(
        "captioned {total} new pictures in {:.1} s, for {} latents with {} top pictures each",
        start.elapsed().as_secs_f64(),
        latents.len(),
        a.captioned
    ));
    let labels = an.caption_labels(&cache, &job)?;
    if let Some(path) = &a.csv {
        let refs: Vec<&Label> = labels.iter().map(|l| &l.label).collect();
        an.write_csv_of(path, &refs, &an.collage_dir())?;
        ctx.note(&format!("wrote {} (caption labels)", path.display()));
    }
    let mut order: Vec<&CaptionedLabel> = labels
        .iter()
        .filter(|l| l.label.category == Category::Semantic)
        .collect();
    order.sort_by(|x, y| y.label.confidence.total_cmp(&x.label.confidence));
    order.truncate(a.list);
    if ctx.json {
        let rows: Vec<_> = order
            .iter()
            .map(|l| {
                let mut v = latent_json(an, l.label.latent);
                v["category"] = json!(l.label.category.name());
                v["description"] = json!(l.label.description);
                v["top_words"] = json!(l.label.top_words);
                v["agreement"] = json!(l.label.confidence);
                v["captions"] = json!(l.captions);
                v
            })
            .collect();
        return print_json(&rows);
    }
    let rows: Vec<Vec<String>> = order
        .iter()
        .map(|l| {
            vec![
                l.label.latent.to_string(),
                format!("{:.0}%", 100.0 * l.label.confidence),
                l.label.description.clone(),
                l.captions
                    .first()
                    .map(|c| c.chars().take(CAPTION_SHOWN).collect())
                    .unwrap_or_default(),
            ]
        })
        .collect();
    print!(
        "{}",
        markdown(
            &[
                "latent",
                "agreement",
                "caption label",
                "best image's caption"
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
    super::picture::show(&path, SHOW_WIDTH, "collage");
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
    if let Some(c) = saved_caption_labels(&an)
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.label.latent == latent)
    {
        println!(
            "caption label: {} ({}, {:.0}% of captions agree)",
            c.label.description,
            c.label.category.name(),
            100.0 * c.label.confidence
        );
    }
    println!("collage: {}", path.display());
    Ok(())
}
