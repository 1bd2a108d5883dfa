//! SAEs in and out of the lab: SAELens' folder and EleutherAI sparsify's. An exported run
//! loads in those libraries as it runs here; an imported SAE becomes a run of the workspace,
//! marked imported, with its metrics computed on a set.

pub(crate) mod floats;
pub mod saelens;
pub mod sparsify;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::clock::now_unix;
use crate::error::{Error, Result};
use crate::fsutil;
use crate::hub::{ModelKind, ModelSource};
use crate::run::train::{evaluate_on_set, RunResults};
use crate::run::{self, RunConfig, RunDir, RunState, Status, RESULTS_FILE, WEIGHTS_FILE};
use crate::sae::arch::Activation;
use crate::sae::checkpoint::{load_weights, save_weights};
use crate::sae::evaluate::evaluate;
use crate::sae::linalg::Threads;
use crate::sae::{Arch, SaeParams, TrainConfig};
use crate::set::EmbeddingSet;
use crate::workspace::Workspace;

/// A layout other tools read and write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Saelens,
    Sparsify,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Saelens => "saelens",
            Format::Sparsify => "sparsify",
        }
    }
}

/// Where an exported SAE came from, for SAELens' metadata.
#[derive(Debug, Clone)]
pub struct Origin {
    /// The model the set was embedded with.
    pub model: String,
    pub set: String,
    pub run: String,
    /// The family it was trained as (batchtopk, matryoshka: saved as jumprelu).
    pub arch: String,
}

/// What `run.toml` records of an imported run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Imported {
    /// The folder or hub repo it was read from.
    pub source: String,
    pub format: String,
}

/// Writes a finished run in `format` into `out`, a folder that must not hold anything yet.
pub fn export(ws: &Workspace, name: &str, format: Format, out: &Path) -> Result<()> {
    let (run, summary) = run::finished(ws, name)?;
    if out.read_dir().is_ok_and(|mut d| d.next().is_some()) {
        return Err(Error::bad_file(
            out,
            "already holds files; export into a new or empty folder (nothing is overwritten)",
        ));
    }
    let p = load_weights(&run.path(WEIGHTS_FILE))?;
    let arch = summary.arch.name().to_string();
    match format {
        Format::Sparsify => sparsify::write(out, &p, &arch),
        Format::Saelens => {
            let set = EmbeddingSet::open(ws, &summary.data)?;
            let origin = Origin {
                model: set.meta.model.clone(),
                set: summary.data.clone(),
                run: name.to_string(),
                arch,
            };
            // The firing counts evaluate already takes, over the whole set.
            let l1 = TrainConfig::default().l1;
            let (_, firing) = evaluate(&p, &set, &set.stats()?, l1, None, Threads::All)?;
            let rows = firing.rows.max(1) as f32;
            let frequency: Vec<f32> = firing.counts.iter().map(|&c| c as f32 / rows).collect();
            saelens::write(out, &p, &origin, &frequency)
        }
    }
}

/// SAELens' folders hold these; sparsify's the others.
const SAELENS: ModelKind = ModelKind {
    what: "a SAELens SAE folder",
    flag: "PATH_OR_REPO",
    files: &[saelens::CFG_FILE, saelens::WEIGHTS_FILE],
};
const SPARSIFY: ModelKind = ModelKind {
    what: "a sparsify SAE folder",
    flag: "PATH_OR_REPO",
    files: &[sparsify::CFG_FILE, sparsify::WEIGHTS_FILE],
};

/// The folder holding the SAE, and its layout: a local folder, or a hub repo
/// (`owner/name/subfolder`) downloaded into (or, offline, read from) the Hugging Face cache.
fn locate(spec: &str, offline: bool) -> Result<(PathBuf, Format)> {
    let local = fsutil::expand_home(spec);
    if local.is_dir() {
        let has = |f: &str| local.join(f).is_file();
        return match (has(saelens::WEIGHTS_FILE), has(sparsify::WEIGHTS_FILE)) {
            (true, _) => Ok((local, Format::Saelens)),
            (false, true) => Ok((local, Format::Sparsify)),
            _ => Err(Error::bad_file(
                &local,
                format!(
                    "holds neither SAELens' {} nor sparsify's {} (each beside a cfg.json)",
                    saelens::WEIGHTS_FILE,
                    sparsify::WEIGHTS_FILE
                ),
            )),
        };
    }
    let source = |kind| ModelSource {
        offline,
        ..ModelSource::of_kind(spec, kind)
    };
    match source(SAELENS).resolve() {
        Ok(dir) => Ok((dir, Format::Saelens)),
        Err(saelens_err) => source(SPARSIFY)
            .resolve()
            .map(|dir| (dir, Format::Sparsify))
            .map_err(|_| saelens_err),
    }
}

/// What `saelab import` is asked.
pub struct ImportRequest<'a> {
    pub source: &'a str,
    pub set: &'a str,
    pub name: &'a str,
    pub offline: bool,
}

/// The training family a run of these weights is shown as.
fn family(p: &SaeParams) -> (Arch, Option<usize>) {
    match p.activation {
        Activation::Relu => (Arch::Relu, None),
        Activation::TopK { k } => (Arch::TopK, Some(k)),
        Activation::JumpRelu { .. } => (Arch::JumpRelu, None),
    }
}

/// Reads an SAELens or sparsify SAE and makes it a finished run on `set`, its metrics
/// computed there. Returns the layout it was read as.
pub fn import(ws: &Workspace, req: &ImportRequest) -> Result<Format> {
    crate::workspace::validate_name("--name", req.name)?;
    let set = EmbeddingSet::open(ws, req.set)?;
    let (dir, format) = locate(req.source, req.offline)?;
    let p = match format {
        Format::Saelens => saelens::read(&dir)?,
        Format::Sparsify => sparsify::read(&dir)?,
    };
    if p.d != set.dim() {
        return Err(Error::invalid(
            "--set",
            format!(
                "the SAE at {} reads {}-d inputs, but set '{}' holds {}-d embeddings ({}): an SAE fits the embeddings it was trained on (one trained on CLIP's final image embedding fits a set `saelab embed` made with that model; one trained on a residual stream or another layer does not)",
                req.source,
                p.d,
                set.name(),
                set.dim(),
                set.meta.model
            ),
        ));
    }
    if !p.all_finite() {
        return Err(Error::bad_file(&dir, "holds NaN or infinite weights"));
    }
    let (arch, k) = family(&p);
    let train = TrainConfig {
        arch,
        dict: p.m,
        k,
        lambda: 0.0,
        epochs: 1,
        ..TrainConfig::default()
    };
    let run = RunDir::new(ws, req.name);
    run::train::create_run(
        &run,
        &RunConfig {
            name: req.name.to_string(),
            data: req.set.to_string(),
            rows: set.rows(),
            dim: set.dim(),
            created: now_unix(),
            train,
            imported: Some(Imported {
                source: req.source.to_string(),
                format: format.name().to_string(),
            }),
        },
    )?;
    let extra = [
        ("data".to_string(), req.set.to_string()),
        ("arch".to_string(), arch.name().to_string()),
        ("imported".to_string(), req.source.to_string()),
    ]
    .into();
    save_weights(&run.path(WEIGHTS_FILE), &p, extra)?;
    let metrics = evaluate_on_set(&p, &set, TrainConfig::default().l1, Threads::All)?;
    let results = RunResults {
        metrics,
        examples_per_sec: 0.0,
        steps: 0,
        train_seconds: 0.0,
    };
    fsutil::write_json(&run.path(RESULTS_FILE), &results)?;
    run.write_state(&RunState {
        status: Status::Done,
        checkpoint_step: 0,
        total_steps: 0,
        message: Some(format!("imported from {}", req.source)),
        updated: now_unix(),
    })?;
    Ok(format)
}
