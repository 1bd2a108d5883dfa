//! `saelab steer`: steered previews for one image, or `--check N` to measure steering on the
//! demo world's ground truth and time preview refreshes.

use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::args::SteerArgs;
use super::tables::print_json;
use super::{Ctx, CANCEL};
use crate::engine::error::Error;
use crate::engine::latents::label::names;
use crate::engine::latents::{analyse, Category, DEFAULT_TOP};
use crate::engine::report::table::markdown;
use crate::engine::steer::nearest::Opened;
use crate::engine::steer::{examples, Change, Edit, ImageRef, Method, Preview, Steerer};
use crate::engine::zeroshot::TaskSpec;

pub fn run(ctx: &Ctx, a: &SteerArgs) -> anyhow::Result<()> {
    if !a.strength.is_finite() {
        return Err(Error::invalid(
            "--strength",
            format!("'{}' is not a finite number", a.strength),
        )
        .into());
    }
    // A picture that cannot be read is said before seconds of analysis.
    if let Some(ImageRef::File(path)) = a.image_ref() {
        std::fs::File::open(&path)
            .map_err(|e| Error::io("could not read the picture", &path, e))?;
    }
    let analysis = analyse(&ctx.ws, &a.run, DEFAULT_TOP)?;
    // Generation shows pictures, not class scores, and Kandinsky's image encoder has no text
    // tower to score them with.
    let task = match (a.task.as_deref(), a.generate.generate) {
        (_, true) => None,
        (Some(t), false) => Some(TaskSpec::builtin(t)?),
        (None, false) => TaskSpec::for_set(&analysis.set)?,
    };
    let mut steerer = Steerer::new(&ctx.ws, analysis, a.units.into(), task.as_ref())?;
    // Only previews search the set: generation decodes the steered embedding instead.
    if a.check.is_some() || !a.generate.generate {
        let rows = steerer.analysis.set.rows();
        let opened = super::sets::with_index_bar(ctx, rows, |progress| {
            steerer.open_nearest(progress, &CANCEL)
        })?;
        if let Some(Opened::Unkept(why)) = opened {
            ctx.note(&format!(
                "the nearest-row index serves from memory this time: {why}"
            ));
        }
    }
    if let Some(n) = a.check {
        return check(ctx, &mut steerer, n, a.strength);
    }
    if a.generate.generate {
        return super::generate::run(ctx, a, &mut steerer);
    }
    let Some(image) = a.image_ref() else {
        return Err(Error::invalid(
            "--image",
            "name the image to steer: a row id or a picture file",
        )
        .into());
    };
    let m = steerer.analysis.labels.len();
    if let Some(&bad) = a.latent.iter().find(|&&j| j >= m) {
        return Err(Error::invalid(
            "--latent",
            format!("{bad} is out of range: the SAE has {m} latents"),
        )
        .into());
    }
    let change = if a.ablate {
        Change::Ablate
    } else {
        Change::Add(a.strength)
    };
    let edits: Vec<Edit> = a
        .latent
        .iter()
        .map(|&latent| Edit { latent, change })
        .collect();
    let x = steerer.embedding(&image)?;
    let before = steerer.preview(&x)?;
    let start = Instant::now();
    let steered = steerer.steer(&x, &edits, a.method());
    let after = steerer.preview(&steered)?;
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    let run_dir = crate::engine::run::RunDir::new(&ctx.ws, &a.run);
    examples::save(&run_dir, &example(&steerer, a, &image, &before, &after))?;
    if ctx.json {
        return print_json(&steer_json(&steerer, a, &image, &before, &after));
    }
    print_preview(&steerer, a, &image, &before, &after);
    ctx.note(&format!("steered and previewed in {ms:.1} ms"));
    Ok(())
}

/// Concepts shown as moving most.
const CONCEPTS_SHOWN: usize = 6;

fn method_name(a: &SteerArgs) -> &'static str {
    if a.ablate {
        "ablate"
    } else {
        a.method().name()
    }
}

fn example(
    s: &Steerer,
    a: &SteerArgs,
    image: &ImageRef,
    before: &Preview,
    after: &Preview,
) -> examples::Example {
    examples::Example {
        image: image.clone(),
        latent: a.latent.clone(),
        strength: a.strength,
        method: method_name(a).into(),
        image_caption: s.describe_image(image),
        latent_labels: a
            .latent
            .iter()
            .map(|&j| s.analysis.labels[j].top_words.join(", "))
            .collect(),
        class_before: before.classes.first().cloned(),
        class_after: after.classes.first().cloned(),
        labels_after: after.labels.iter().map(|l| l.0.clone()).collect(),
        concepts: s.concept_moves(before, after, CONCEPTS_SHOWN),
    }
}

fn steer_json(
    s: &Steerer,
    a: &SteerArgs,
    image: &ImageRef,
    before: &Preview,
    after: &Preview,
) -> serde_json::Value {
    let side = |p: &Preview| {
        json!({
            "neighbours": p.neighbours.iter().map(|(i, c)| json!({"item": i, "cosine": c})).collect::<Vec<_>>(),
            "classes": p.classes.iter().map(|(c, pr)| json!({"class": c, "probability": pr})).collect::<Vec<_>>(),
            "labels": p.labels.iter().map(|(l, sc)| json!({"label": l, "score": sc})).collect::<Vec<_>>(),
        })
    };
    let (b, af) = (side(before), side(after));
    let mut out = json!({
        "run": a.run, "image": image, "latent": a.latent, "strength": a.strength,
        "method": method_name(a),
        "task": s.task_name(),
        "neighbours": {"before": b["neighbours"], "after": af["neighbours"]},
        "classes": {"before": b["classes"], "after": af["classes"]},
        "labels": {"before": b["labels"], "after": af["labels"]},
    });
    if s.gt.is_some() {
        out["concepts"] = json!(s
            .concept_moves(before, after, CONCEPTS_SHOWN)
            .iter()
            .map(|(c, d)| json!({"concept": c, "change": d}))
            .collect::<Vec<_>>());
    }
    out
}

fn print_preview(s: &Steerer, a: &SteerArgs, image: &ImageRef, before: &Preview, after: &Preview) {
    println!("image {image}: {}", s.describe_image(image));
    for &j in &a.latent {
        println!("latent {j}: {}", s.analysis.labels[j].description);
    }
    let rows: Vec<Vec<String>> = (0..before.neighbours.len().min(6))
        .map(|i| {
            let (b, af) = (before.neighbours[i], after.neighbours[i]);
            vec![
                (i + 1).to_string(),
                format!("{:.3} {}", b.1, s.describe(b.0)),
                format!("{:.3} {}", af.1, s.describe(af.0)),
            ]
        })
        .collect();
    print!(
        "{}",
        markdown(&["#", "nearest before", "nearest after"], &rows)
    );
    if let Some(task) = s.task_name() {
        let rows: Vec<Vec<String>> = (0..before.classes.len())
            .map(|i| {
                vec![
                    format!("{} {:.3}", before.classes[i].0, before.classes[i].1),
                    format!("{} {:.3}", after.classes[i].0, after.classes[i].1),
                ]
            })
            .collect();
        print!("{}", markdown(&[&format!("{task} before"), "after"], &rows));
    }
    let rows: Vec<Vec<String>> = (0..before.labels.len())
        .map(|i| vec![before.labels[i].0.clone(), after.labels[i].0.clone()])
        .collect();
    print!("{}", markdown(&["labels before", "labels after"], &rows));
    let moves = s.concept_moves(before, after, CONCEPTS_SHOWN);
    if !moves.is_empty() {
        let listed: Vec<String> = moves.iter().map(|(c, d)| format!("{c} {d:+.3}")).collect();
        println!("concepts that moved most: {}", listed.join(", "));
    }
}

/// On the demo world: over `n` random images and latents whose label names a concept, the
/// share where that concept's score rises with +strength and falls with −strength.
fn check(ctx: &Ctx, s: &mut Steerer, n: usize, strength: f32) -> anyhow::Result<()> {
    let Some(gt) = s.gt.clone() else {
        return Err(
            Error::invalid("--check", "needs a set with ground truth (the demo world)").into(),
        );
    };
    let candidates: Vec<(usize, usize)> = s
        .analysis
        .labels
        .iter()
        .filter(|l| l.category == Category::Semantic)
        .filter_map(|l| {
            let word = l.top_words.first()?;
            let concept = gt.names.iter().position(|c| names(word, c))?;
            Some((l.latent, concept))
        })
        .collect();
    if candidates.is_empty() {
        return Err(Error::invalid(
            "--check",
            "no latent of this run has a label naming a concept",
        )
        .into());
    }
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let rows = s.analysis.set.rows();
    let mut results = Vec::new();
    for m in [Method::Edit, Method::Add] {
        let (mut good, mut times) = (0usize, Vec::with_capacity(2 * n));
        for _ in 0..n {
            let image = rng.random_range(0..rows);
            let (latent, concept) = candidates[rng.random_range(0..candidates.len())];
            let x = s.image(image)?;
            let base = s.preview(&x)?.concept_scores[concept];
            let mut score = |sign: f32| {
                let start = Instant::now();
                let x = s.steer(
                    &x,
                    &[Edit {
                        latent,
                        change: Change::Add(sign * strength),
                    }],
                    m,
                );
                let p = s.preview(&x)?;
                times.push(start.elapsed().as_secs_f64() * 1000.0);
                Ok::<f32, Error>(p.concept_scores[concept])
            };
            let (up, down) = (score(1.0)?, score(-1.0)?);
            good += (up > base && down < base) as usize;
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        let p95 = times[(times.len() * 95 / 100).min(times.len() - 1)];
        results.push(json!({"method": format!("{m:?}").to_lowercase(), "cases": n, "both_ways": good, "share": good as f64 / n as f64, "preview_ms_median": median, "preview_ms_p95": p95}));
        ctx.note(&format!(
            "{m:?}: the named concept rose with +{strength} and fell with −{strength} in {good}/{n} cases ({:.0}%); a steer + preview took {median:.1} ms (median), {p95:.1} ms (p95)",
            100.0 * good as f64 / n as f64
        ));
    }
    if ctx.json {
        return print_json(&results);
    }
    Ok(())
}
