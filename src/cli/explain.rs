//! `saelab explain RUN --image ID|PATH | --text "..." | --class NAME`.

use std::time::Instant;

use super::args::ExplainArgs;
use super::tables::print_json;
use super::Ctx;
use crate::engine::error::Error;
use crate::engine::explain::{
    ClassExplanation, Explainer, ImageExplanation, LatentScore, TextExplanation,
};
use crate::engine::latents::{analyse, DEFAULT_TOP};
use crate::engine::report::table::markdown;
use crate::engine::steer::ImageRef;
use crate::engine::zeroshot::TaskSpec;

/// Terminal columns a thumbnail takes.
const THUMB_WIDTH: u32 = 48;
/// Latents whose collages are drawn under the table.
const THUMBS: usize = 3;

pub fn run(ctx: &Ctx, a: &ExplainArgs) -> anyhow::Result<()> {
    if a.top == 0 {
        return Err(Error::invalid("--top", "must be at least 1").into());
    }
    let analysis = analyse(&ctx.ws, &a.run, DEFAULT_TOP)?;
    let task = a.task.as_deref().map(TaskSpec::builtin).transpose()?;
    let mut ex = Explainer::new(&ctx.ws, analysis, task.as_ref())?;
    let start = Instant::now();
    let (json, latents, summary) = if let Some(image) = &a.image {
        let e = ex.image(&ImageRef::parse(image), a.top)?;
        (
            serde_json::to_value(&e)?,
            e.latents.clone(),
            image_summary(&e),
        )
    } else if let Some(text) = &a.text {
        let e = ex.text(text, a.top)?;
        (
            serde_json::to_value(&e)?,
            e.latents.clone(),
            text_summary(&e),
        )
    } else if let Some(class) = &a.class {
        let e = ex.class(class, a.top)?;
        let latents = e.latents.iter().map(|l| l.latent.clone()).collect();
        (serde_json::to_value(&e)?, latents, class_summary(&e))
    } else {
        return Err(Error::invalid("explain", "give --image, --text or --class").into());
    };
    ctx.note(&format!(
        "explained in {:.1} ms",
        start.elapsed().as_secs_f64() * 1e3
    ));
    if ctx.json {
        return print_json(&json);
    }
    println!("{}", summary[0]);
    print!("{}", table(&latents));
    for line in &summary[1..] {
        println!("{line}");
    }
    for l in latents.iter().take(THUMBS) {
        match ex.analysis().collage(l.latent) {
            Ok(path) => {
                println!("latent {}: {}", l.latent, l.label);
                super::picture::show(&path, THUMB_WIDTH, "collage");
            }
            Err(e) => ctx.note(&format!("latent {}: no collage ({e})", l.latent)),
        }
    }
    Ok(())
}

fn table(latents: &[LatentScore]) -> String {
    let concepts = latents.iter().any(|l| l.concept.is_some());
    let margins = latents.iter().any(|l| l.margin.is_some());
    let mut headers = vec!["latent", "label", "score", "activation", "fires on"];
    if margins {
        headers.push("margin part");
    }
    if concepts {
        headers.push("concept (cos)");
    }
    let rows: Vec<Vec<String>> = latents
        .iter()
        .map(|l| {
            let mut row = vec![
                l.latent.to_string(),
                l.label.clone(),
                format!("{:.4}", l.score),
                format!("{:.3}", l.activation),
                format!("{:.2}%", 100.0 * l.frequency),
            ];
            if margins {
                row.push(l.margin.map_or("–".into(), |m| format!("{m:+.3}")));
            }
            if concepts {
                row.push(match (&l.concept, l.concept_cosine) {
                    (Some(c), Some(v)) => format!("{c} ({v:.2})"),
                    _ => "–".into(),
                });
            }
            row
        })
        .collect();
    markdown(&headers, &rows)
}

/// The heading line, then lines under the table.
fn image_summary(e: &ImageExplanation) -> Vec<String> {
    let mut lines = vec![
        format!(
            "image {} of run '{}': {}",
            e.image, e.run, e.description
        ),
        format!(
            "{} latents active; the reconstruction has cosine {:.4} with the embedding; the {} listed explain {:.1}% of it",
            e.active,
            e.reconstruction_cosine,
            e.latents.len(),
            100.0 * e.explained
        ),
    ];
    if let Some(m) = &e.prediction {
        lines.push(format!(
            "{}: CLIP predicts '{}' over '{}' by a margin of {:.4} = latents {:.4} + decoder bias {:.4} + error {:.4}",
            m.task, m.class, m.runner_up, m.margin, m.latents, m.bias, m.error
        ));
    }
    lines
}

fn text_summary(e: &TextExplanation) -> Vec<String> {
    vec![
        format!("text \"{}\" through run '{}'", e.text, e.run),
        format!(
            "the text's embedding was moved across the gap between text and image embeddings before encoding; {} latents active; score = activation × decoder row length",
            e.active
        ),
    ]
}

fn class_summary(e: &ClassExplanation) -> Vec<String> {
    let mut lines = vec![
        format!(
            "class '{}' of {} through run '{}': {} pictures of the set are predicted as it",
            e.class, e.task, e.run, e.pictures
        ),
        "score = mean part of the margin over each picture's runner-up".to_string(),
    ];
    for l in &e.latents {
        let rows: Vec<String> = l
            .rows
            .iter()
            .map(|(r, part, what)| format!("{r} ({part:+.2}: {what})"))
            .collect();
        lines.push(format!(
            "latent {}: among the top three parts in {:.0}% of them; most in {}",
            l.latent.latent,
            100.0 * l.top3,
            rows.join(", ")
        ));
    }
    lines
}
