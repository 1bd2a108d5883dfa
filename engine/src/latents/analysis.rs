//! Everything the lab knows of a run's latents: the index, labels, collages and the study's
//! CSV, computed once and kept under `runs/NAME/latents/`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Serialize;

use super::collage::{collage_file, Pictures};
use super::index::LatentIndex;
use super::label::{
    agreement_with_truth, embed_vocabulary, label_all, vocabulary, Agreement, Label,
};
use super::store::{index_for_run, COLLAGES_DIR, LATENTS_DIR};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::run::{RunDir, WEIGHTS_FILE};
use crate::sae::checkpoint::load_weights;
use crate::sae::SaeParams;
use crate::set::EmbeddingSet;
use crate::text_encoder::TextEncoder;
use crate::workspace::Workspace;
use crate::zeroshot::text_encoder_for;

pub const LABELS_FILE: &str = "labels.json";

pub struct Analysis {
    pub run: RunDir,
    pub set: EmbeddingSet,
    pub params: SaeParams,
    pub index: LatentIndex,
    pub labels: Vec<Label>,
    /// The label vocabulary and its centred unit embeddings, for whoever scores against it
    /// next (steering previews). vocab: [words, d]
    pub words: Vec<String>,
    pub vocab: Vec<f32>,
    /// The set's text tower, loaded once here for the labels and lent to whoever embeds text
    /// next (a task's classifier, an explained text).
    pub encoder: Box<dyn TextEncoder>,
    /// Whether the index had to be (re)built.
    pub built: bool,
    /// Where the rows' pictures come from, found when a collage is first drawn (reading
    /// them can mean reading the whole dataset again).
    pictures: OnceLock<Pictures>,
}

/// One row of the study's CSV.
#[derive(Debug, Serialize)]
struct CsvRow<'a> {
    latent_id: usize,
    category: &'static str,
    description: &'a str,
    top_words: String,
    frequency: f64,
    max_activation: f32,
    collage: String,
}

/// Indexes and labels a finished run's latents (top `k` rows each).
pub fn analyse(ws: &Workspace, name: &str, k: usize) -> Result<Analysis> {
    if k == 0 {
        return Err(Error::invalid("--top", "must be at least 1"));
    }
    let (run, summary) = crate::run::finished(ws, name)?;
    let set = EmbeddingSet::open(ws, &summary.data)?;
    let params = load_weights(&run.path(WEIGHTS_FILE))?;
    if params.d != set.dim() {
        return Err(Error::invalid(
            "embedding set",
            format!(
                "run '{name}' has an SAE of {} dimensions, but set '{}' now has {}: the set was re-created; re-create it as it was, or train a new run on it",
                params.d,
                set.name(),
                set.dim()
            ),
        ));
    }
    let (index, built) = index_for_run(&run, &set, k)?;
    let encoder = text_encoder_for(&set)?;
    let words = vocabulary();
    let vocab = embed_vocabulary(ws, &words, encoder.as_ref())?;
    let labels = label_all(&params, &index, &set, &words, &vocab)?;
    fsutil::write_json_if_changed(&run.path(LATENTS_DIR).join(LABELS_FILE), &labels)?;
    Ok(Analysis {
        run,
        set,
        params,
        index,
        labels,
        words,
        vocab,
        encoder,
        built,
        pictures: OnceLock::new(),
    })
}

impl Analysis {
    /// The run's own collage folder.
    pub fn collage_dir(&self) -> PathBuf {
        self.run.path(LATENTS_DIR).join(COLLAGES_DIR)
    }

    /// Latent `j`'s collage file, drawn on first use.
    pub fn collage(&self, j: usize) -> Result<PathBuf> {
        self.collage_in(&self.collage_dir(), j)
    }

    /// The set's pictures, read once.
    pub(super) fn pictures(&self) -> Result<&Pictures> {
        if let Some(p) = self.pictures.get() {
            return Ok(p);
        }
        let found = Pictures::for_set(&self.set)?;
        Ok(self.pictures.get_or_init(|| found))
    }

    fn latent(&self, j: usize) -> Result<&super::LatentStats> {
        self.index.latents.get(j).ok_or_else(|| {
            Error::invalid(
                "latent",
                format!(
                    "{j} is out of range: the SAE has {} latents",
                    self.index.latents.len()
                ),
            )
        })
    }

    /// On the demo world: how often labels name each latent's closest concept.
    pub fn agreement(&self) -> Result<Option<Agreement>> {
        Ok(self
            .set
            .ground_truth()?
            .map(|gt| agreement_with_truth(&self.params, &self.labels, &gt)))
    }

    /// Writes the study's CSV for `latents` with their CLIP labels, drawing their collages
    /// into `collages` (a folder); collage paths are written relative to the CSV's folder when
    /// they can be.
    pub fn write_csv(&self, path: &Path, latents: &[usize], collages: &Path) -> Result<()> {
        let m = self.index.latents.len();
        if let Some(&bad) = latents.iter().find(|&&j| j >= m) {
            return Err(Error::invalid(
                "latent",
                format!("{bad} is out of range: the SAE has {m} latents"),
            ));
        }
        let labels: Vec<&Label> = latents.iter().map(|&j| &self.labels[j]).collect();
        self.write_csv_of(path, &labels, collages)
    }

    /// Writes the study's CSV with the given labels (CLIP or caption ones), one row each.
    pub fn write_csv_of(&self, path: &Path, labels: &[&Label], collages: &Path) -> Result<()> {
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut out = csv::Writer::from_writer(Vec::new());
        for label in labels {
            let j = label.latent;
            let stats = &self.index.latents[j];
            let collage = if stats.is_dead() {
                String::new()
            } else {
                relative_to(
                    &collage_file(collages, j, stats, || self.pictures())?,
                    &base,
                )
            };
            out.serialize(CsvRow {
                latent_id: j,
                category: label.category.name(),
                description: &label.description,
                top_words: label.top_words.join(", "),
                frequency: stats.frequency(self.index.rows),
                max_activation: stats.max,
                collage,
            })
            .map_err(|e| Error::bad_file(path, format!("could not be written: {e}")))?;
        }
        let bytes = out
            .into_inner()
            .map_err(|e| Error::bad_file(path, format!("could not be written: {e}")))?;
        fsutil::write_atomic(path, &bytes)
    }

    /// Draws latent `j`'s collage into `dir` (if not there yet) and returns its path.
    pub fn collage_in(&self, dir: &Path, j: usize) -> Result<PathBuf> {
        collage_file(dir, j, self.latent(j)?, || self.pictures())
    }
}

/// `file` relative to `base` when it lies below it, else absolute.
fn relative_to(file: &Path, base: &Path) -> String {
    let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let (f, b) = (
        abs(file),
        abs(if base.as_os_str().is_empty() {
            Path::new(".")
        } else {
            base
        }),
    );
    f.strip_prefix(&b)
        .map(Path::to_path_buf)
        .unwrap_or(f)
        .display()
        .to_string()
}
