//! What the lab shows, as plain data read from the workspace: runs with their metrics logs,
//! zero-shot results, a run's latents. The TUI renders these and nothing else, so a screen can
//! be rebuilt from a fixed state in tests.

use std::path::PathBuf;

use crate::engine::error::Result;
use crate::engine::latents::analysis::Analysis;
use crate::engine::latents::captioned::saved_caption_labels;
use crate::engine::latents::label::Category;
use crate::engine::run::{self, list_runs, MetricsRow, RunDir, Status};
use crate::engine::sae::evaluate::EvalMetrics;
use crate::engine::sae::Arch;
use crate::engine::set;
use crate::engine::steer::{ImageRef, Method};
use crate::engine::workspace::Workspace;
use crate::engine::zeroshot;
use crate::protocol::StepLine;

/// One run as the Train and Metrics tabs show it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunView {
    pub name: String,
    pub data: String,
    pub lambda: f64,
    /// The SAE family, and k where it has one.
    pub arch: Arch,
    pub k: Option<usize>,
    pub dict: usize,
    pub status: Status,
    pub step: u64,
    pub total_steps: u64,
    pub series: Vec<MetricsRow>,
    pub results: Option<EvalMetrics>,
}

impl RunView {
    pub fn progress(&self) -> f64 {
        if self.total_steps == 0 {
            0.0
        } else {
            (self.step as f64 / self.total_steps as f64).min(1.0)
        }
    }

    pub fn examples_per_sec(&self) -> f64 {
        self.series
            .last()
            .map(|r| r.examples_per_sec)
            .unwrap_or(0.0)
    }

    /// Seconds left at the latest rate, while running.
    pub fn eta_secs(&self) -> Option<f64> {
        let last = self.series.last()?;
        let steps_left = self.total_steps.saturating_sub(self.step) as f64;
        let per_step = last.examples as f64 / last.step.max(1) as f64;
        (self.status == Status::Running && last.examples_per_sec > 0.0)
            .then(|| steps_left * per_step / last.examples_per_sec)
    }
}

/// One task's zero-shot scores: CLIP alone and through each run.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskView {
    pub task: String,
    pub baseline: (f64, f64),
    /// run, λ, top-1, top-5, control top-1, classes that lost most (class, before, after).
    pub runs: Vec<TaskRun>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TaskRun {
    pub run: String,
    pub lambda: f64,
    pub top1: f64,
    pub top5: f64,
    pub control_top1: f64,
    pub losses: Vec<(String, f64, f64)>,
}

/// One latent as the Latents tab lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct LatentRow {
    pub id: usize,
    pub frequency: f64,
    pub max_activation: f32,
    pub confidence: f32,
    pub category: Category,
    pub description: String,
    pub top_words: Vec<String>,
    /// The key words of its BLIP captions, where `saelab latents RUN --label caption` made them.
    pub caption: Option<String>,
    /// Firing counts per log₂ activation bin.
    pub histogram: Vec<u64>,
}

/// A run's latents, with where its collages are drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct LatentsView {
    pub run: String,
    pub rows: Vec<LatentRow>,
    pub collage_dir: PathBuf,
}

/// Losses listed per run on the Zero-shot tab.
const LOSSES_SHOWN: usize = 5;

/// Every run, oldest first, with its metrics log.
pub fn load_runs(ws: &Workspace) -> Result<Vec<RunView>> {
    let mut runs = list_runs(ws, &[])?;
    run::sort_for_tables(&mut runs);
    Ok(runs
        .into_iter()
        .map(|s| {
            let dir = RunDir::new(ws, &s.run);
            RunView {
                series: run::log::read(&dir.path(run::METRICS_FILE)).unwrap_or_default(),
                name: s.run,
                data: s.data,
                lambda: s.lambda,
                arch: s.arch,
                k: s.k,
                dict: s.config.train.dict,
                status: s.status,
                step: s.step,
                total_steps: s.total_steps,
                results: s.results.map(|r| r.metrics),
            }
        })
        .collect())
}

/// Every task some run has been scored on, from the runs' `zeroshot.json`.
pub fn load_tasks(ws: &Workspace, runs: &[RunView]) -> Vec<TaskView> {
    let mut tasks: Vec<TaskView> = Vec::new();
    for r in runs {
        let Ok(saved) = zeroshot::saved(&RunDir::new(ws, &r.name)) else {
            continue;
        };
        for (task, s) in saved {
            let losses = zeroshot::biggest_losses(&s.classes, &s.baseline, &s.sae, LOSSES_SHOWN);
            let row = TaskRun {
                run: r.name.clone(),
                lambda: r.lambda,
                top1: s.sae.top1,
                top5: s.sae.top5,
                control_top1: s.control.top1,
                losses,
            };
            match tasks.iter_mut().find(|t| t.task == task) {
                Some(t) => t.runs.push(row),
                None => tasks.push(TaskView {
                    task,
                    baseline: (s.baseline.top1, s.baseline.top5),
                    runs: vec![row],
                }),
            }
        }
    }
    // Tasks scored before any run was: CLIP alone's accuracy, and no runs yet.
    for (task, kept) in zeroshot::saved_baselines(ws) {
        if !tasks.iter().any(|t| t.task == task) {
            tasks.push(TaskView {
                task,
                baseline: (kept.baseline.top1, kept.baseline.top5),
                runs: Vec::new(),
            });
        }
    }
    tasks
}

/// A run's latents: builds the index and labels if needed (seconds), so call it off the UI.
pub fn load_latents(analysis: &Analysis) -> LatentsView {
    let mut captions: Vec<Option<String>> = vec![None; analysis.labels.len()];
    for c in saved_caption_labels(analysis).unwrap_or_default() {
        if let Some(slot) = captions.get_mut(c.label.latent) {
            *slot = Some(c.label.top_words.join(", "));
        }
    }
    let rows = analysis
        .index
        .latents
        .iter()
        .zip(&analysis.labels)
        .enumerate()
        .map(|(id, (stats, label))| LatentRow {
            id,
            frequency: stats.frequency(analysis.index.rows),
            max_activation: stats.max,
            confidence: label.confidence,
            category: label.category,
            description: label.description.clone(),
            top_words: label.top_words.clone(),
            caption: captions[id].take(),
            histogram: stats.histogram.iter().map(|&c| c as u64).collect(),
        })
        .collect();
    LatentsView {
        run: analysis.run.name.clone(),
        rows,
        collage_dir: analysis.collage_dir(),
    }
}

/// The sets in the workspace, for the sweep form.
pub fn set_names(ws: &Workspace) -> Vec<String> {
    set::list(ws)
        .unwrap_or_default()
        .into_iter()
        .filter(|n| !n.ends_with("-test"))
        .collect()
}

/// One steering preview to compute.
#[derive(Debug, Clone, PartialEq)]
pub struct SteerRequest {
    pub run: String,
    pub image: ImageRef,
    /// (latent, strength in units of its typical activation), applied together.
    pub edits: Vec<(usize, f32)>,
    pub method: Method,
}

/// What a steering preview showed, in words.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SteerView {
    pub image_caption: String,
    /// (row, cosine, caption) of the nearest images to the steered embedding.
    pub neighbours: Vec<(usize, f32, String)>,
    /// (class, probability before, after), biggest movers first.
    pub classes: Vec<(String, f32, f32)>,
    pub labels_before: Vec<String>,
    pub labels_after: Vec<String>,
    /// Ground-truth concepts whose score rose and fell most (demo world).
    pub rose: Vec<(String, f32)>,
    pub fell: Vec<(String, f32)>,
    pub millis: f64,
}

/// One Kandinsky 2.2 triptych to generate: the image steered by ±strength along the latent.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateRequest {
    pub run: String,
    pub image: ImageRef,
    pub latent: usize,
    pub strength: f32,
    pub method: Method,
}

/// A triptych being made (or made) by a generation job.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationView {
    pub run: String,
    pub latent: usize,
    pub strength: f32,
    /// Where the job writes orig.png, plus.png and minus.png.
    pub dir: PathBuf,
    /// The job's last step.
    pub step: Option<StepLine>,
    /// The three pictures are written and loaded.
    pub ready: bool,
}

/// What to explain in terms of latents.
#[derive(Debug, Clone, PartialEq)]
pub enum ExplainQuery {
    Image(ImageRef),
    Text(String),
    /// A class of the set's zero-shot task, by its place in the task.
    Class(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExplainRequest {
    pub run: String,
    pub query: ExplainQuery,
}

/// One latent of an explanation, as the Explain tab lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExplainRow {
    pub latent: usize,
    pub label: String,
    pub score: f64,
    /// Its part of the class margin, or how often it is among a class's top three.
    pub extra: String,
}

/// An explanation, in words.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExplainView {
    /// What was explained ("image 12: three red stars on sand").
    pub title: String,
    /// What the score is, and the explanation's totals.
    pub lines: Vec<String>,
    pub rows: Vec<ExplainRow>,
    /// The task's classes, for choosing one.
    pub classes: Vec<String>,
    pub millis: f64,
}
