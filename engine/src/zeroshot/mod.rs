//! Zero-shot classification, CLIP alone and through each run's SAE: the study's second table.
//!
//! Through an SAE, each image embedding is encoded, decoded and L2-normalised before it meets
//! the same text classifier. The control adds the reconstruction error back (x̂ + (x − x̂)),
//! which must score exactly as the baseline does. Inputs are never rescaled, so there is no
//! scaling to undo.

pub mod classifier;
pub mod score;
pub mod task;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use crate::text_encoder::TextEncoder;
pub use classifier::{Classifier, DemoText};
pub use score::{score, Scores};
pub use task::{Source, TaskSpec};

use candle_core::Device;

use super::clip::text::ClipText;
use super::demo::{self, ConceptEncoder};
use super::error::{Error, Result};
use super::fsutil;
use super::run::{RunDir, Status, WEIGHTS_FILE};
use super::sae::checkpoint::load_weights;
use super::sae::linalg::Threads;
use super::sae::step::{forward, Scratch};
use super::sae::SaeParams;
use super::set::{now_unix, EmbeddingSet};
use super::tensorfile::{self, Named, TensorFile};
use super::workspace::Workspace;
use super::{demo::encoder::stable_hash, unit::normalise};

/// Held-out demo images scored by `demo10` and `demo100`.
pub const DEMO_TEST_IMAGES: usize = 10_000;
pub const RESULTS_FILE: &str = "zeroshot.json";
/// Rows passed through an SAE at a time.
const CHUNK_ROWS: usize = 2048;

/// One run's scores on a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunScores {
    pub run: String,
    pub lambda: f64,
    pub sae: Scores,
    /// The SAE with its reconstruction error added back: must equal the baseline.
    pub control: Scores,
}

/// A task's scores: CLIP alone and through each run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskResult {
    pub task: String,
    pub set: String,
    pub classes: Vec<String>,
    pub baseline: Scores,
    pub runs: Vec<RunScores>,
}

/// What a run's `zeroshot.json` keeps for one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedTask {
    pub set: String,
    pub classes: Vec<String>,
    pub baseline: Scores,
    pub sae: Scores,
    pub control: Scores,
    pub updated: u64,
}

/// A run's `zeroshot.json`: task name → scores.
pub type SavedResults = BTreeMap<String, SavedTask>;

/// Reads a run's saved zero-shot results (empty when none).
pub fn saved(run: &RunDir) -> Result<SavedResults> {
    let path = run.path(RESULTS_FILE);
    if path.is_file() {
        fsutil::read_json(&path)
    } else {
        Ok(SavedResults::new())
    }
}

/// What a test set's `zeroshot.json` keeps: CLIP alone's scores per task, so they are shown
/// before any run is scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedBaseline {
    pub classes: Vec<String>,
    pub baseline: Scores,
    pub updated: u64,
}

/// Every task's CLIP-alone scores kept in the workspace's sets: (task, scores), by task name.
pub fn saved_baselines(ws: &Workspace) -> Vec<(String, SavedBaseline)> {
    let mut all: BTreeMap<String, SavedBaseline> = BTreeMap::new();
    for name in crate::set::list(ws).unwrap_or_default() {
        let path = ws.set_dir(&name).join(RESULTS_FILE);
        let Ok(kept) = fsutil::read_json::<BTreeMap<String, SavedBaseline>>(&path) else {
            continue;
        };
        for (task, b) in kept {
            if all.get(&task).is_none_or(|old| old.updated <= b.updated) {
                all.insert(task, b);
            }
        }
    }
    all.into_iter().collect()
}

fn save_baseline(set: &EmbeddingSet, task: &TaskSpec, baseline: &Scores) -> Result<()> {
    let path = set.dir().join(RESULTS_FILE);
    let mut kept: BTreeMap<String, SavedBaseline> = if path.is_file() {
        fsutil::read_json(&path).unwrap_or_default()
    } else {
        BTreeMap::new()
    };
    kept.insert(
        task.name.clone(),
        SavedBaseline {
            classes: task.classes.clone(),
            baseline: baseline.clone(),
            updated: now_unix(),
        },
    );
    fsutil::write_json(&path, &kept)
}

/// The test set of a task: the demo world's held-out set (made on first use) or a named set.
pub fn test_set(ws: &Workspace, task: &TaskSpec, set: Option<&str>) -> Result<EmbeddingSet> {
    match task.source {
        Source::Demo => {
            let base = EmbeddingSet::open(ws, set.unwrap_or(demo::SET_NAME))?;
            let seed = base.meta.seed.unwrap_or(demo::DEFAULT_SEED);
            let name = format!("{}-test", base.name());
            let fresh = match EmbeddingSet::open(ws, &name) {
                Ok(t) => t.meta.seed != Some(seed),
                Err(_) => true,
            };
            if fresh {
                demo::create_held_out(ws, &name, DEMO_TEST_IMAGES, seed)?;
            }
            EmbeddingSet::open(ws, &name)
        }
        Source::Set => {
            let name = set.unwrap_or(&task.name);
            EmbeddingSet::open(ws, name).map_err(|e| match e {
                Error::NoSuchSet { .. } => Error::invalid(
                    "task",
                    format!("task '{}' scores the embedding set '{name}', which is not in the workspace; make it with `saelab embed --dataset {}:PATH --name {name}` or name another with --set", task.name, task.name),
                ),
                e => e,
            })
        }
    }
}

/// The text encoder that matches a set's image model.
pub fn text_encoder_for(set: &EmbeddingSet) -> Result<Box<dyn TextEncoder>> {
    if set.meta.model == demo::MODEL_NAME {
        let seed = set.meta.seed.unwrap_or(demo::DEFAULT_SEED);
        return Ok(Box::new(DemoText(ConceptEncoder::new(seed, set.dim()))));
    }
    // Prompts are few; the CPU embeds them in seconds and leaves any GPU to the images.
    Ok(Box::new(ClipText::load(&set.meta.model, &Device::Cpu)?))
}

/// The task's classifier for this encoder, from the workspace cache or built and cached.
pub fn classifier(
    ws: &Workspace,
    task: &TaskSpec,
    encoder: &dyn TextEncoder,
) -> Result<Classifier> {
    let key = format!(
        "{:016x}",
        stable_hash(&format!(
            "{:?}{:?}{}",
            task.classes,
            task.templates,
            encoder.model()
        ))
    );
    let dir = cache_dir(ws);
    let path = dir.join(format!("{}-{key}.safetensors", task.name));
    let (k, d) = (task.classes.len(), encoder.dim());
    if let Ok(f) = TensorFile::read(&path) {
        if let Ok(weights) = f.f32("weights", &[k, d]) {
            return Ok(Classifier {
                classes: task.classes.clone(),
                dim: d,
                weights,
            });
        }
    }
    let built = Classifier::build(task, encoder)?;
    fsutil::create_dir(&dir)?;
    tensorfile::write(
        &path,
        &[Named::new("weights", vec![k, d], &built.weights)],
        Default::default(),
    )?;
    Ok(built)
}

/// Unit embeddings and class labels of the set's rows that the task labels.
pub(crate) fn labelled_rows(task: &TaskSpec, set: &EmbeddingSet) -> Result<(Vec<f32>, Vec<usize>)> {
    let mut x = Vec::new();
    let mut labels = Vec::new();
    for item in set.items()? {
        if let Some(label) = task.label_of(&item) {
            let mut row = set.row(item.id)?.to_vec();
            normalise(&mut row);
            x.extend(row);
            labels.push(label);
        }
    }
    if labels.is_empty() {
        return Err(Error::invalid(
            "task",
            format!(
                "set '{}' has no item labelled with a class of task '{}'",
                set.name(),
                task.name
            ),
        ));
    }
    Ok((x, labels))
}

/// Unit reconstructions of unit embeddings x ([n, d]) through the SAE, and the control.
pub(crate) fn through_sae(p: &SaeParams, x: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let d = p.d;
    let mut scratch = Scratch::new(d, p.m, CHUNK_ROWS);
    let (mut recon, mut control) = (Vec::with_capacity(x.len()), Vec::with_capacity(x.len()));
    for chunk in x.chunks(CHUNK_ROWS * d) {
        let rows = chunk.len() / d;
        forward(p, chunk, rows, &mut scratch, Threads::All);
        for (r, orig) in scratch.recon[..rows * d].chunks(d).zip(chunk.chunks(d)) {
            let mut unit = r.to_vec();
            normalise(&mut unit);
            recon.extend(unit);
            let mut kept: Vec<f32> = r.iter().zip(orig).map(|(rv, xv)| rv + (xv - rv)).collect();
            normalise(&mut kept);
            control.extend(kept);
        }
    }
    (recon, control)
}

/// The runs to score: those named, or every finished run on embeddings of the set's model.
fn runs_for(ws: &Workspace, set: &EmbeddingSet, names: &[String]) -> Result<Vec<RunDir>> {
    let mut summaries = super::run::list_runs(ws, names)?;
    summaries.sort_by(|a, b| {
        a.lambda
            .total_cmp(&b.lambda)
            .then_with(|| a.run.cmp(&b.run))
    });
    let mut runs = Vec::new();
    for s in summaries {
        let data = EmbeddingSet::open(ws, &s.data).ok();
        let model = data
            .as_ref()
            .map(|d| d.meta.model.clone())
            .unwrap_or_default();
        let fits = model == set.meta.model && s.config.dim == set.dim();
        if names.is_empty() {
            if fits && s.status == Status::Done {
                runs.push(RunDir::new(ws, &s.run));
            }
            continue;
        }
        if !fits {
            return Err(Error::invalid("run", format!("run '{}' was trained on {}-d embeddings of '{model}', but set '{}' holds {}-d embeddings of '{}'", s.run, s.config.dim, set.name(), set.dim(), set.meta.model)));
        }
        if s.status != Status::Done {
            return Err(Error::invalid(
                "run",
                format!(
                    "run '{}' has not finished (status {}); `saelab resume {}` finishes it",
                    s.run,
                    s.status.name(),
                    s.run
                ),
            ));
        }
        runs.push(RunDir::new(ws, &s.run));
    }
    Ok(runs)
}

/// Scores the task for CLIP alone and through each run, saving each run's `zeroshot.json`.
pub fn evaluate(
    ws: &Workspace,
    task: &TaskSpec,
    set: Option<&str>,
    run_names: &[String],
    progress: &dyn Fn(&str),
) -> Result<TaskResult> {
    let test = test_set(ws, task, set)?;
    let encoder = text_encoder_for(&test)?;
    if encoder.dim() != test.dim() {
        return Err(Error::invalid(
            "model",
            format!(
                "the text encoder gives {}-d embeddings but set '{}' holds {}-d",
                encoder.dim(),
                test.name(),
                test.dim()
            ),
        ));
    }
    let clf = classifier(ws, task, encoder.as_ref())?;
    let (x, labels) = labelled_rows(task, &test)?;
    let baseline = score(&clf, &x, &labels);
    save_baseline(&test, task, &baseline)?;
    let mut runs = Vec::new();
    for run in runs_for(ws, &test, run_names)? {
        progress(&run.name);
        let params = load_weights(&run.path(WEIGHTS_FILE))?;
        let (recon, control) = through_sae(&params, &x);
        let scores = RunScores {
            run: run.name.clone(),
            lambda: run.config()?.train.lambda,
            sae: score(&clf, &recon, &labels),
            control: score(&clf, &control, &labels),
        };
        save(&run, task, &test, &baseline, &scores)?;
        runs.push(scores);
    }
    Ok(TaskResult {
        task: task.name.clone(),
        set: test.name().into(),
        classes: clf.classes,
        baseline,
        runs,
    })
}

fn save(
    run: &RunDir,
    task: &TaskSpec,
    set: &EmbeddingSet,
    baseline: &Scores,
    s: &RunScores,
) -> Result<()> {
    let mut all = saved(run)?;
    all.insert(
        task.name.clone(),
        SavedTask {
            set: set.name().into(),
            classes: task.classes.clone(),
            baseline: baseline.clone(),
            sae: s.sae.clone(),
            control: s.control.clone(),
            updated: now_unix(),
        },
    );
    fsutil::write_json(&run.path(RESULTS_FILE), &all)
}

/// Classes whose top-1 accuracy fell the most through the SAE: (class, baseline, SAE).
pub fn biggest_losses(
    classes: &[String],
    baseline: &Scores,
    sae: &Scores,
    k: usize,
) -> Vec<(String, f64, f64)> {
    let mut rows: Vec<(String, f64, f64)> = (0..classes.len())
        .filter(|&c| baseline.per_class[c].1 > 0)
        .map(|c| {
            (
                classes[c].clone(),
                baseline.class_accuracy(c),
                sae.class_accuracy(c),
            )
        })
        .collect();
    rows.sort_by(|a, b| (b.1 - b.2).total_cmp(&(a.1 - a.2)));
    rows.truncate(k);
    rows
}

/// Where a workspace caches classifiers.
pub fn cache_dir(ws: &Workspace) -> PathBuf {
    ws.root().join("cache").join("zeroshot")
}

#[cfg(test)]
mod tests;
