//! `saelab steer RUN --latent J --generate`: the study's Kandinsky 2.2 triptych. The start is
//! a prompt through the prior, a picture through the prior's image encoder, or a row of the
//! run's set; it is steered with the steering engine's methods and decoded three times with
//! one seed. The pictures go to `runs/RUN/generated/NAME/` (orig.png, plus.png, minus.png,
//! triptych.png, triptych.json).

use std::io::IsTerminal;
use std::time::Instant;

use super::args::SteerArgs;
use super::progress::Counter;
use super::tables::print_json;
use super::Ctx;
use crate::engine::error::{Error, Result};
use crate::engine::hub::{ModelSource, KANDINSKY_DECODER, KANDINSKY_PRIOR};
use crate::engine::kandinsky::record::{self, start_length, TriptychRecord};
use crate::engine::kandinsky::settings::{self, KandinskySettings};
use crate::engine::kandinsky::triptych::{
    prompt_embedding, triptych, Kandinsky, TriptychOptions, PANELS,
};
use crate::engine::kandinsky::{DecodeOptions, PriorOptions};
use crate::engine::run::RunDir;
use crate::engine::steer::{Change, Edit, ImageRef, Steerer};
use crate::protocol::StepLine;

/// Width of the triptych drawn in the terminal, in cells.
const SHOW_WIDTH: u32 = 96;

pub fn run(ctx: &Ctx, a: &SteerArgs, steerer: &mut Steerer) -> anyhow::Result<()> {
    let method = a.method();
    let g = &a.generate;
    if a.ablate {
        return Err(Error::invalid(
            "--ablate",
            "the triptych steers by ±--strength; drop --ablate",
        )
        .into());
    }
    let device = ctx.device.open()?;
    if device.is_cpu() {
        ctx.note("generating on the CPU: Kandinsky 2.2's 1.2B-parameter UNet takes seconds a step here, so the three pictures take many minutes at 512 px; a GPU build (--features cuda or metal) takes seconds");
    }
    let source = |spec: &str, kind| ModelSource {
        offline: g.offline,
        progress: !ctx.quiet && std::io::stderr().is_terminal(),
        ..ModelSource::of_kind(spec, kind)
    };
    let k = Kandinsky::load(
        &source(&g.prior, KANDINSKY_PRIOR),
        &source(&g.decoder, KANDINSKY_DECODER),
        &device,
    )?;
    let d = steerer.analysis.set.dim();
    if d != k.dim() {
        return Err(Error::invalid(
            "run",
            format!("'{}' has a {d}-d SAE, but Kandinsky steers {}-d image embeddings: train on a set embedded with the prior's image encoder (`saelab embed --model {}/image_encoder`)", a.run, k.dim(), g.prior),
        )
        .into());
    }
    let opts = TriptychOptions {
        seed: g.seed,
        strength: a.strength,
        decode: DecodeOptions {
            steps: g.steps,
            guidance: g.guidance,
            height: g.size,
            width: g.size,
        },
        prior: PriorOptions {
            steps: g.prior_steps,
            guidance: g.guidance,
        },
    };
    let prior_steps = if g.prompt.is_some() { g.prior_steps } else { 0 };
    let mut progress =
        StepProgress::new(ctx, prior_steps + PANELS.len() * g.steps, device.is_cpu());
    let start = start_embedding(ctx, &k, a, steerer, &opts, &mut progress)?;
    let edits = |s: f32| -> Vec<Edit> {
        a.latent
            .iter()
            .map(|&latent| Edit {
                latent,
                change: Change::Add(s),
            })
            .collect()
    };
    let made = triptych(
        &k,
        &start,
        &mut |u, s| Ok(steerer.steer(u, &edits(s), method)),
        &opts,
        &mut |panel, done, total| progress.step(panel, done, total),
    )?;
    progress.finish();
    let dir = match &g.out {
        Some(dir) => dir.clone(),
        None => RunDir::new(&ctx.ws, &a.run).path("generated").join(name(a)),
    };
    let summary = record::write(
        &dir,
        &record(a, k.decoder.picture_size(&opts.decode)),
        &made.pictures,
        &made.embeddings,
    )?;
    settings::save(
        &ctx.ws,
        &KandinskySettings {
            decoder: g.decoder.clone(),
            prior: g.prior.clone(),
            steps: g.steps,
            size: g.size,
        },
    )?;
    if ctx.json {
        return print_json(&summary);
    }
    super::picture::show(&dir.join("triptych.png"), SHOW_WIDTH, "triptych");
    println!(
        "latent {} at ±{} (seed {}): {}",
        join(&a.latent),
        a.strength,
        g.seed,
        dir.display()
    );
    for panel in PANELS {
        println!("  {panel}: {}", dir.join(format!("{panel}.png")).display());
    }
    Ok(())
}

/// The unsteered image embedding, at its own length.
fn start_embedding(
    ctx: &Ctx,
    k: &Kandinsky,
    a: &SteerArgs,
    steerer: &mut Steerer,
    opts: &TriptychOptions,
    progress: &mut StepProgress,
) -> Result<Vec<f32>> {
    if let Some(prompt) = &a.generate.prompt {
        return prompt_embedding(k, prompt, opts, &mut |p, d, t| progress.step(p, d, t));
    }
    let Some(image) = a.image_ref() else {
        return Err(Error::invalid(
            "--image",
            "name a row id or a picture file to steer, or give --prompt",
        ));
    };
    match &image {
        ImageRef::File(path) => Ok(k.prior.embed_picture(path)?.flatten_all()?.to_vec1()?),
        row => {
            let unit = steerer.embedding(row)?;
            let (length, guessed) = start_length(k, steerer.analysis.set.meta.mean_norm)?;
            if guessed {
                ctx.note("the set does not record its embeddings' length; taking the row at the length of the image encoder's embedding of a blank picture");
            }
            Ok(unit.iter().map(|v| v * length).collect())
        }
    }
}

fn join(latents: &[usize]) -> String {
    latents
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join("+")
}

/// The output folder's name: latent, strength, seed and start.
fn name(a: &SteerArgs) -> String {
    let start = match (&a.generate.prompt, a.image_ref()) {
        (Some(p), _) => {
            let words: String = p
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '-'
                    }
                })
                .collect();
            let words: Vec<&str> = words.split('-').filter(|w| !w.is_empty()).collect();
            words.join("-").chars().take(40).collect()
        }
        (None, Some(image)) => image.slug(),
        (None, None) => "start".into(),
    };
    format!(
        "latent{}_s{}_seed{}_{start}",
        join(&a.latent),
        a.strength,
        a.generate.seed
    )
}

/// How the triptych was made, for `triptych.json`.
fn record(a: &SteerArgs, (height, width): (usize, usize)) -> TriptychRecord {
    let g = &a.generate;
    TriptychRecord {
        run: a.run.clone(),
        latent: a.latent.clone(),
        strength: a.strength,
        method: a.method().name(),
        prompt: g.prompt.clone(),
        image: if g.prompt.is_none() {
            a.image_ref()
        } else {
            None
        },
        seed: g.seed,
        steps: g.steps,
        prior_steps: g.prior_steps,
        guidance: g.guidance,
        width,
        height,
        decoder: g.decoder.clone(),
        prior: g.prior.clone(),
    }
}

/// Progress over all denoising steps: a bar on a terminal, else one line a step
/// (`step N/M (panel)`), which the lab's job view reads for its gauge.
struct StepProgress {
    bar: Counter,
    plain: bool,
    quiet: bool,
    done: usize,
    total: usize,
    cpu: bool,
    started: Instant,
    estimated: bool,
}

impl StepProgress {
    fn new(ctx: &Ctx, total: usize, cpu: bool) -> Self {
        StepProgress {
            bar: Counter::new(ctx.quiet, "generating", "steps"),
            plain: !std::io::stderr().is_terminal(),
            quiet: ctx.quiet,
            done: 0,
            total,
            cpu,
            started: Instant::now(),
            estimated: false,
        }
    }

    fn step(&mut self, panel: &str, _done: usize, _total: usize) {
        self.done += 1;
        if self.plain && !self.quiet {
            let line = StepLine {
                done: self.done,
                total: self.total,
                panel: panel.to_string(),
            };
            eprintln!("{line}");
        } else {
            self.bar.update(self.done, self.total);
        }
        if self.cpu && !self.estimated && panel != "prior" && !self.quiet {
            self.estimated = true;
            let per = self.started.elapsed().as_secs_f64() / self.done as f64;
            let left = per * (self.total - self.done) as f64;
            eprintln!(
                "on the CPU: {per:.2} s a step; about {} to go",
                duration(left)
            );
        }
    }

    fn finish(&self) {
        self.bar.finish();
    }
}

fn duration(seconds: f64) -> String {
    if seconds < 90.0 {
        format!("{seconds:.0} s")
    } else {
        format!("{:.0} min", seconds / 60.0)
    }
}
