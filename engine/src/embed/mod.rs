//! `saelab embed`: a dataset through CLIP's image tower into an embedding set.
//!
//! Pictures are decoded and preprocessed on all cores one chunk ahead of the model, so the
//! model never waits on JPEG decoding. Each finished chunk is saved in a hidden folder beside
//! the sets (see [`chunks`]); an interrupted job picks up at the first missing chunk, and the
//! set itself appears only once every chunk is done. Unreadable pictures are skipped and listed
//! in the set's `report.json`. Embeddings are L2-normalised, as CLIP compares them.

pub mod chunks;
pub mod encoder;
pub mod slices;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::time::Instant;

use candle_core::Device;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use self::chunks::{Chunk, JobKey, Partial};
use self::encoder::{Encoder, Prepared, PriorEncoder};
use self::slices::{Place, Slice, SliceFiles};
use super::clip::model::Clip;
use super::dataset::{self, Example, Kind, Split};
use super::error::{Error, Result};
use super::hub::ModelSource;
use super::set::{now_unix, write_set, Item, SetFiles, SetMeta};
use super::workspace::{validate_name, Workspace};
use super::zeroshot::TaskSpec;

/// Examples decoded and embedded per saved chunk.
pub const CHUNK: usize = 512;
/// The contract's default batch.
pub const DEFAULT_BATCH: usize = 32;
/// Built-in tasks a set is checked against for `set.toml`'s `tasks`.
const KNOWN_TASKS: [&str; 2] = ["cifar10", "cifar100"];

/// What to embed, with what, into which set.
#[derive(Debug, Clone)]
pub struct EmbedOptions {
    pub model: ModelSource,
    pub kind: Kind,
    pub path: PathBuf,
    pub split: Split,
    pub name: String,
    pub batch: usize,
    /// Embed only the first N examples (a quick look at a big dataset).
    pub limit: Option<usize>,
    /// Examples per saved chunk: what an interrupted job can lose.
    pub chunk: usize,
    /// Embed captions through this Kandinsky 2.2 prior instead of pictures through CLIP.
    pub prior: Option<PriorSource>,
    /// Embed only this slice of the examples, into the set's `slices/` (`slices.rs`).
    pub slice: Option<Slice>,
}

/// The prior that embeds captions, and how.
#[derive(Debug, Clone)]
pub struct PriorSource {
    pub source: ModelSource,
    pub opts: crate::kandinsky::PriorOptions,
    pub seed: u64,
}

impl EmbedOptions {
    pub fn new(model: ModelSource, kind: Kind, path: PathBuf, name: impl Into<String>) -> Self {
        EmbedOptions {
            model,
            kind,
            path,
            split: Split::Test,
            name: name.into(),
            batch: DEFAULT_BATCH,
            limit: None,
            chunk: CHUNK,
            prior: None,
            slice: None,
        }
    }
}

/// A picture that could not be embedded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    pub source_index: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub reason: String,
}

/// What a finished job did.
#[derive(Debug, Clone, Serialize)]
pub struct EmbedOutcome {
    pub set: String,
    pub model: String,
    pub rows: usize,
    pub dim: usize,
    pub skipped: Vec<Skipped>,
    /// Examples found already embedded by an earlier, interrupted job.
    pub resumed: usize,
    pub seconds: f64,
    pub images_per_sec: f64,
    /// The slice embedded (`--shard`), whose rows join the set at `sets merge`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slice: Option<Slice>,
}

/// Progress: examples done so far (resumed ones included) out of the total.
pub type Progress<'a> = &'a mut dyn FnMut(usize, usize);

/// Runs the job; `cancel` stops it after the chunk in hand, which is kept for the next try.
pub fn embed(
    ws: &Workspace,
    opts: &EmbedOptions,
    device: &Device,
    cancel: &AtomicBool,
    progress: Progress,
) -> Result<EmbedOutcome> {
    validate_name("set", &opts.name)?;
    if opts.batch == 0 || opts.chunk == 0 {
        return Err(Error::invalid("--batch", "must be at least 1"));
    }
    // Before any work: a set in slices is never replaced whole, nor a whole one sliced.
    slices::check_name(ws, &opts.name, opts.slice.is_some())?;
    let Listing { examples, place } = examples_of(opts)?;
    let (encoder, model) = load_encoder(opts, device)?;
    let key = JobKey {
        model,
        source: source_of(opts),
        split: opts.split.name().into(),
        count: examples.len(),
        dim: encoder.dim(),
        image_size: encoder.image_size()?,
        chunk: opts.chunk,
    };
    let job = match opts.slice {
        Some(slice) => format!("{}.{}", opts.name, slice.folder()),
        None => opts.name.clone(),
    };
    let partial = Partial::open(ws, &job, &key)?;
    let started = Instant::now();
    // A prior's noise is seeded by the chunk's place in the whole dataset.
    let first_chunk = place.as_ref().map_or(0, Place::first_chunk);
    let resumed = run_chunks(
        &encoder,
        &examples,
        (opts, first_chunk),
        &partial,
        cancel,
        progress,
    )?;
    if cancel.load(Ordering::SeqCst) {
        return Err(Error::Interrupted);
    }
    let seconds = started.elapsed().as_secs_f64();
    let outcome = publish(
        ws,
        opts,
        (&key, place),
        &examples,
        &partial,
        resumed,
        seconds,
    )?;
    partial.remove();
    Ok(outcome)
}

/// What a job embeds: its examples and, for a slice, where they lie in the whole.
struct Listing {
    examples: Vec<Example>,
    place: Option<Place>,
}

/// The examples to embed: the dataset's, the first `--limit` of them, or a slice's (whole
/// chunks; whole tars for webdataset). A slice's source indices count from its first
/// example; the merge adds the examples of the slices before it.
fn examples_of(opts: &EmbedOptions) -> Result<Listing> {
    let Some(slice) = opts.slice else {
        let mut examples = dataset::load(opts.kind, &opts.path, opts.split)?;
        examples.truncate(opts.limit.unwrap_or(usize::MAX));
        return Ok(Listing {
            examples,
            place: None,
        });
    };
    if opts.limit.is_some() {
        return Err(Error::invalid(
            "--limit",
            "takes the first N examples of the whole dataset, which slices do not see: use --limit or --shard",
        ));
    }
    if opts.kind == Kind::Webdataset {
        let (examples, place) = dataset::webdataset::slice_of(&opts.path, slice)?;
        return Ok(Listing {
            examples,
            place: Some(place),
        });
    }
    let mut examples = dataset::load(opts.kind, &opts.path, opts.split)?;
    let total = examples.len();
    let range = slice.chunk_range(total, opts.chunk);
    examples.truncate(range.end);
    examples.drain(..range.start);
    for ex in &mut examples {
        ex.source_index -= range.start;
    }
    Ok(Listing {
        examples,
        place: Some(Place::chunks(range, total, opts.chunk)),
    })
}

/// The encoder and the model name the set records. A prior's set records the prior's image
/// encoder: its embeddings live in that space, so picture files and labels use it.
fn load_encoder(opts: &EmbedOptions, device: &Device) -> Result<(Encoder, String)> {
    let Some(p) = &opts.prior else {
        let clip = Clip::load(&opts.model.resolve()?, device)?;
        return Ok((Encoder::Images(Box::new(clip)), opts.model.name()));
    };
    if crate::kandinsky::random::is_random(&p.source) {
        return Err(Error::invalid(
            "--prior",
            "the random prior has no prompt side, so it embeds no captions: pass a real prior, or embed pictures with --model random:kandinsky-2-2",
        ));
    }
    let dtype = if device.is_cpu() {
        candle_core::DType::F32
    } else {
        candle_core::DType::F16
    };
    let prior = crate::kandinsky::KandinskyPrior::load(&p.source.resolve()?, dtype, device)?;
    let name = format!("{}/image_encoder", p.source.name().trim_end_matches('/'));
    let encoder = PriorEncoder {
        prior,
        opts: p.opts,
        seed: p.seed,
    };
    Ok((Encoder::Captions(Box::new(encoder)), name))
}

/// Embeds every chunk not yet saved; returns how many examples earlier jobs had done.
fn run_chunks(
    encoder: &Encoder,
    examples: &[Example],
    (opts, first_chunk): (&EmbedOptions, usize),
    partial: &Partial,
    cancel: &AtomicBool,
    progress: Progress,
) -> Result<usize> {
    let (total, size) = (examples.len(), opts.chunk);
    let span = |c: usize| c * size..(c * size + size).min(total);
    let todo: Vec<usize> = (0..total.div_ceil(size))
        .filter(|&c| !partial.has(c))
        .collect();
    let resumed = total - todo.iter().map(|&c| span(c).len()).sum::<usize>();
    let mut done = resumed;
    progress(done, total);
    let side = encoder.image_size()?;
    let (tx, rx) = sync_channel::<(usize, Vec<Result<Prepared>>)>(1);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for &c in &todo {
                if cancel.load(Ordering::SeqCst) {
                    break;
                }
                let pixels = examples[span(c)]
                    .par_iter()
                    .map(|ex| encoder.prepare(ex, side))
                    .collect();
                if tx.send((c, pixels)).is_err() {
                    break;
                }
            }
        });
        for (c, pixels) in rx {
            let chunk = embed_chunk(encoder, (c, first_chunk), span(c).start, pixels, opts.batch)?;
            partial.save(&chunk)?;
            done += span(c).len();
            progress(done, total);
            if cancel.load(Ordering::SeqCst) {
                break;
            }
        }
        Ok(resumed)
    })
}

/// Runs the model over a chunk's readable examples in batches of `batch`.
fn embed_chunk(
    encoder: &Encoder,
    (c, first_chunk): (usize, usize),
    first: usize,
    pixels: Vec<Result<Prepared>>,
    batch: usize,
) -> Result<Chunk> {
    let mut chunk = Chunk {
        index: c,
        ..Default::default()
    };
    let mut ready = Vec::new();
    for (i, p) in pixels.into_iter().enumerate() {
        match p {
            Ok(p) => ready.push((first + i, p)),
            Err(e) => chunk.skipped.push((first + i, e.to_string())),
        }
    }
    for (part, group) in ready.chunks(batch).enumerate() {
        let inputs: Vec<&Prepared> = group.iter().map(|(_, p)| p).collect();
        let (unit, norms) = encoder.embed(&inputs, first_chunk + c, part)?;
        chunk.embeddings.extend(unit);
        chunk.norms.extend(norms);
        chunk.rows.extend(group.iter().map(|(r, _)| *r as u32));
    }
    Ok(chunk)
}

/// Gathers the chunks into the set, or the slice of it, and publishes it.
fn publish(
    ws: &Workspace,
    opts: &EmbedOptions,
    (key, place): (&JobKey, Option<Place>),
    examples: &[Example],
    partial: &Partial,
    resumed: usize,
    seconds: f64,
) -> Result<EmbedOutcome> {
    let (mut embeddings, mut items, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
    let mut norms = Some(Vec::new());
    for c in 0..examples.len().div_ceil(opts.chunk) {
        let chunk = partial.load(c, key.dim)?;
        if chunk.norms.len() != chunk.rows.len() {
            norms = None;
        }
        if let Some(n) = norms.as_mut() {
            n.extend(chunk.norms);
        }
        embeddings.extend(chunk.embeddings);
        for row in chunk.rows {
            items.push(item(items.len(), &examples[row as usize]));
        }
        skipped.extend(chunk.skipped.into_iter().map(|(row, reason)| Skipped {
            source_index: examples[row].source_index,
            path: examples[row].path().map(|p| p.display().to_string()),
            reason,
        }));
    }
    // A slice may come out empty; the merge refuses a set with no rows at all.
    if items.is_empty() && opts.slice.is_none() {
        return Err(Error::bad_file(
            &opts.path,
            format!(
                "none of its {} pictures could be read (see the reasons above)",
                examples.len()
            ),
        ));
    }
    let meta = SetMeta {
        name: opts.name.clone(),
        source: key.source.clone(),
        model: key.model.clone(),
        dim: key.dim,
        count: items.len(),
        preprocessing: preprocessing(opts, key),
        created: now_unix(),
        seed: None,
        split: Some(key.split.clone()),
        tasks: tasks_for(&items),
        mean_norm: norms
            .filter(|n| !n.is_empty())
            .map(|n| n.iter().sum::<f32>() / n.len() as f32),
        ..Default::default()
    };
    match opts.slice.zip(place) {
        Some((slice, place)) => {
            slices::publish(
                ws,
                &SliceFiles {
                    slice,
                    place,
                    examples: examples.len(),
                    meta,
                    embeddings: &embeddings,
                    items: &items,
                    skipped: &skipped,
                },
            )?;
        }
        None => {
            let report = serde_json::json!({ "skipped": &skipped });
            write_set(
                &ws.sets_dir(),
                &SetFiles {
                    meta,
                    embeddings: &embeddings,
                    items: &items,
                    ground_truth: None,
                    report: Some(&report),
                },
            )?;
        }
    }
    let fresh = examples.len() - resumed;
    Ok(EmbedOutcome {
        set: opts.name.clone(),
        model: key.model.clone(),
        rows: items.len(),
        dim: key.dim,
        skipped,
        resumed,
        seconds,
        images_per_sec: fresh as f64 / seconds.max(1e-9),
        slice: opts.slice,
    })
}

fn preprocessing(opts: &EmbedOptions, key: &JobKey) -> String {
    match &opts.prior {
        Some(p) => format!(
            "captions (else \"a photo of a {{label}}.\") through the Kandinsky 2.2 prior {}: {} steps, guidance {}, seed {}; L2-normalised",
            p.source.name(),
            p.opts.steps,
            p.opts.guidance,
            p.seed
        ),
        None => format!("open_clip eval: shortest side {side} bicubic, centre crop, CLIP mean/std; L2-normalised", side = key.image_size),
    }
}

/// `KIND:ABSOLUTE_PATH`, so collages can find the pictures again from any folder.
fn source_of(opts: &EmbedOptions) -> String {
    let path = opts
        .path
        .canonicalize()
        .unwrap_or_else(|_| opts.path.clone());
    format!("{}:{}", opts.kind.name(), path.display())
}

fn item(id: usize, ex: &Example) -> Item {
    Item {
        id,
        path: ex.path().map(|p| p.display().to_string()),
        source_index: Some(ex.source_index),
        label: ex.label.clone(),
        caption: ex.caption.clone(),
        ..Default::default()
    }
}

/// The built-in tasks whose classes cover every label of the set.
pub fn tasks_for(items: &[Item]) -> Vec<String> {
    let labelled: Vec<&Item> = items.iter().filter(|i| i.label.is_some()).collect();
    if labelled.is_empty() {
        return Vec::new();
    }
    KNOWN_TASKS
        .iter()
        .filter_map(|t| TaskSpec::builtin(t).ok())
        .filter(|t| labelled.iter().all(|i| t.label_of(i).is_some()))
        .map(|t| t.name)
        .collect()
}

#[cfg(test)]
mod tests;
