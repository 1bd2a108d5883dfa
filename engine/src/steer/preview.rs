//! What a steered embedding looks like, computed in milliseconds: its nearest images in the
//! set, the class distribution of a zero-shot task, the closest vocabulary labels and, on the
//! demo world, the ground-truth concept scores. Everything heavy is prepared once.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::OnceLock;

use candle_core::Device;
use serde::Serialize;

use super::input::ImageRef;
use super::nearest::{scores, top_k, Nearest, Opened, EXACT_ROWS};
use super::ops::{steer, unit_of, Edit, Method, Units};
use crate::clip::image::ClipImage;
use crate::demo;
use crate::error::{Error, Result};
use crate::latents::Analysis;
use crate::sae::step::Scratch;
use crate::set::{EmbeddingSet, GroundTruth};
use crate::unit::normalise;
use crate::workspace::Workspace;
use crate::zeroshot::{classifier, Classifier, TaskSpec};

/// CLIP's logit scale: class probabilities are softmax(100 · cosine).
pub const LOGIT_SCALE: f32 = 100.0;
pub const NEIGHBOURS: usize = 12;
const SHOWN: usize = 5;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preview {
    /// (row, cosine), best first.
    pub neighbours: Vec<(usize, f32)>,
    /// (class, probability), most likely first.
    pub classes: Vec<(String, f32)>,
    /// (vocabulary entry, score), best first.
    pub labels: Vec<(String, f32)>,
    /// Demo world: every concept's cosine with the embedding, in ground-truth order.
    #[serde(skip)]
    pub concept_scores: Vec<f32>,
    #[serde(skip)]
    pub class_probs: Vec<f32>,
}

pub struct Steerer {
    pub analysis: Analysis,
    pub units: Vec<f32>,
    /// How the set's nearest rows are found, exactly or through its kept graph: opened on the
    /// first preview, since explanations never need it and a large set's graph takes minutes.
    nearest: OnceLock<Nearest>,
    /// Unit rows of the set, made only for the explanations that read every row. [N, d]
    unit: OnceLock<Vec<f32>>,
    task: Option<(String, Classifier)>,
    set_mean: Vec<f32>,
    pub gt: Option<GroundTruth>,
    scratch: Scratch,
    /// The set's image tower, loaded when a picture file is first steered.
    pictures: Option<ClipImage>,
    /// The last picture file embedded, so moving a slider does not embed it again.
    last_file: Option<(PathBuf, Vec<f32>)>,
    /// What each row shows, for sets that are not the demo world: its label and file name.
    names: Vec<String>,
}

/// Each row's label and file name, as far as the set's items say (none on the demo world,
/// whose captions are drawn from its scenes).
fn row_names(set: &EmbeddingSet) -> Vec<String> {
    if demo::is_demo(set) {
        return Vec::new();
    }
    let items = set.items().unwrap_or_default();
    items
        .iter()
        .map(|i| {
            let file = i.path.as_deref().and_then(|p| Path::new(p).file_name());
            let parts: Vec<String> = [
                i.label.clone(),
                file.map(|f| f.to_string_lossy().into_owned()),
            ]
            .into_iter()
            .flatten()
            .collect();
            parts.join(" · ")
        })
        .collect()
}

impl Steerer {
    /// Prepares previews for a run's analysis; `task` picks the class distribution shown.
    pub fn new(
        ws: &Workspace,
        analysis: Analysis,
        units: Units,
        task: Option<&TaskSpec>,
    ) -> Result<Self> {
        let set = &analysis.set;
        let d = set.dim();
        let task = match task {
            Some(t) => Some((
                t.name.clone(),
                classifier(ws, t, analysis.encoder.as_ref())?,
            )),
            None => None,
        };
        let set_mean = set.stats()?.mean.iter().map(|&v| v as f32).collect();
        let gt = set.ground_truth()?;
        let units = analysis
            .index
            .latents
            .iter()
            .map(|l| unit_of(l, units))
            .collect();
        let scratch = Scratch::new(d, analysis.params.m, 1);
        Ok(Steerer {
            units,
            nearest: OnceLock::new(),
            unit: OnceLock::new(),
            task,
            set_mean,
            gt,
            scratch,
            pictures: None,
            last_file: None,
            names: row_names(&analysis.set),
            analysis,
        })
    }

    pub fn task_name(&self) -> Option<&str> {
        self.task.as_ref().map(|t| t.0.as_str())
    }

    /// The task's name and classifier, when previews show a class distribution.
    pub fn classifier(&self) -> Option<(&str, &Classifier)> {
        self.task.as_ref().map(|(n, c)| (n.as_str(), c))
    }

    /// Opens the set's nearest-row search if it is not open, building a large set's graph
    /// (`progress` hears the rows linked in; `cancel` stops it). Says how it opened, or None
    /// when it already was.
    pub fn open_nearest(
        &self,
        progress: &(dyn Fn(usize) + Sync),
        cancel: &AtomicBool,
    ) -> Result<Option<Opened>> {
        if self.nearest.get().is_some() {
            return Ok(None);
        }
        let (nearest, opened) = Nearest::open(&self.analysis.set, EXACT_ROWS, progress, cancel)?;
        let _ = self.nearest.set(nearest);
        Ok(Some(opened))
    }

    fn nearest(&self) -> Result<&Nearest> {
        self.open_nearest(&|_| {}, &AtomicBool::new(false))?;
        self.nearest
            .get()
            .ok_or_else(|| Error::invalid("nearest rows", "the search could not be opened"))
    }

    /// Every row of the set, unit length, made on the first call. shape: [N, d]
    pub fn rows(&self) -> Result<&[f32]> {
        if let Some(unit) = self.unit.get() {
            return Ok(unit);
        }
        let set = &self.analysis.set;
        let mut unit = set.data()?.to_vec();
        unit.chunks_mut(set.dim().max(1)).for_each(normalise);
        Ok(self.unit.get_or_init(|| unit))
    }

    /// Row `i` of the set, unit length. shape: [d]
    pub fn image(&self, i: usize) -> Result<Vec<f32>> {
        let mut row = self.analysis.set.fetch_row(i)?;
        normalise(&mut row);
        Ok(row)
    }

    /// The unit embedding of a row, or of a picture file embedded with the set's CLIP model.
    pub fn embedding(&mut self, image: &ImageRef) -> Result<Vec<f32>> {
        match image {
            ImageRef::Row(r) => {
                let rows = self.analysis.set.rows();
                if *r >= rows {
                    return Err(Error::invalid(
                        "image",
                        format!(
                            "{r} is out of range: the set has {rows} rows (0 to {})",
                            rows.saturating_sub(1)
                        ),
                    ));
                }
                self.image(*r)
            }
            ImageRef::File(path) => self.embed_file(path),
        }
    }

    fn embed_file(&mut self, path: &Path) -> Result<Vec<f32>> {
        if let Some((p, x)) = &self.last_file {
            if p == path {
                return Ok(x.clone());
            }
        }
        let set = &self.analysis.set;
        if demo::is_demo(set) {
            return Err(Error::invalid(
                "image",
                format!("{} cannot be embedded: the demo world has no picture encoder; steer a row id, or a set made by `saelab embed` with a CLIP model", path.display()),
            ));
        }
        if self.pictures.is_none() {
            // One picture embeds in well under a second on the CPU; a GPU stays free for jobs.
            let encoder = ClipImage::load(&set.meta.model, &Device::Cpu)?;
            if encoder.dim() != set.dim() {
                return Err(Error::invalid(
                    "image",
                    format!(
                        "the set's model {} embeds to {} dimensions but the set has {}",
                        set.meta.model,
                        encoder.dim(),
                        set.dim()
                    ),
                ));
            }
            self.pictures = Some(encoder);
        }
        let x = self
            .pictures
            .as_ref()
            .expect("just loaded")
            .embed_file(path)?;
        self.last_file = Some((path.to_path_buf(), x.clone()));
        Ok(x)
    }

    /// The steered embedding of a unit embedding x ([d]).
    pub fn steer(&mut self, x: &[f32], edits: &[Edit], method: Method) -> Vec<f32> {
        steer(
            &self.analysis.params,
            x,
            edits,
            &self.units,
            method,
            &mut self.scratch,
        )
        .0
    }

    /// The preview of a unit embedding x ([d]).
    pub fn preview(&self, x: &[f32]) -> Result<Preview> {
        let neighbours = self.nearest()?.search(&self.analysis.set, x, NEIGHBOURS)?;
        let (classes, class_probs) = match &self.task {
            Some((_, c)) => {
                let logits = scores(&c.weights, c.classes.len(), x);
                let max = logits.iter().copied().fold(f32::MIN, f32::max);
                let exp: Vec<f32> = logits
                    .iter()
                    .map(|l| ((l - max) * LOGIT_SCALE).exp())
                    .collect();
                let sum: f32 = exp.iter().sum();
                let probs: Vec<f32> = exp.iter().map(|e| e / sum).collect();
                let top = top_k(&probs, SHOWN)
                    .into_iter()
                    .map(|(i, p)| (c.classes[i].clone(), p))
                    .collect();
                (top, probs)
            }
            None => (Vec::new(), Vec::new()),
        };
        let mut centred: Vec<f32> = x.iter().zip(&self.set_mean).map(|(v, m)| v - m).collect();
        normalise(&mut centred);
        let words = &self.analysis.words;
        let labels = top_k(&scores(&self.analysis.vocab, words.len(), &centred), SHOWN)
            .into_iter()
            .map(|(i, s)| (words[i].clone(), s))
            .collect();
        let concept_scores = match &self.gt {
            Some(gt) => scores(&gt.directions, gt.names.len(), x),
            None => Vec::new(),
        };
        Ok(Preview {
            neighbours,
            classes,
            labels,
            concept_scores,
            class_probs,
        })
    }

    /// Names a row: its caption on demo sets, its label and file name otherwise.
    pub fn describe(&self, row: usize) -> String {
        if demo::is_demo(&self.analysis.set) {
            return demo::scene_of_row(&self.analysis.set, row).caption();
        }
        match self.names.get(row) {
            Some(name) if !name.is_empty() => name.clone(),
            _ => format!("row {row}"),
        }
    }

    /// Names a picture: a row as `describe` does, a file by its name.
    pub fn describe_image(&self, image: &ImageRef) -> String {
        match image {
            ImageRef::Row(r) => self.describe(*r),
            ImageRef::File(p) => format!(
                "picture {}",
                p.file_name().unwrap_or(p.as_os_str()).to_string_lossy()
            ),
        }
    }

    /// Ground-truth concepts whose score moved most between two previews (demo world).
    pub fn concept_moves(&self, before: &Preview, after: &Preview, k: usize) -> Vec<(String, f32)> {
        let Some(gt) = &self.gt else {
            return Vec::new();
        };
        let mut moves: Vec<(String, f32)> = gt
            .names
            .iter()
            .enumerate()
            .map(|(c, n)| {
                (
                    n.clone(),
                    after.concept_scores[c] - before.concept_scores[c],
                )
            })
            .collect();
        moves.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
        moves.truncate(k);
        moves
    }

    /// The task's classes whose probability moved most: (class, before, after).
    pub fn class_movers(
        &self,
        before: &Preview,
        after: &Preview,
        k: usize,
    ) -> Vec<(String, f32, f32)> {
        let Some((_, clf)) = &self.task else {
            return Vec::new();
        };
        let mut moves: Vec<(String, f32, f32)> = clf
            .classes
            .iter()
            .zip(before.class_probs.iter().zip(&after.class_probs))
            .map(|(c, (&b, &a))| (c.clone(), b, a))
            .collect();
        moves.sort_by(|x, y| (y.2 - y.1).abs().total_cmp(&(x.2 - x.1).abs()));
        moves.truncate(k);
        moves
    }
}
