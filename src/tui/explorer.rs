//! The explorer: a thread that owns the explored run's analysis and steerer, so building an
//! index, drawing a collage or steering never runs on the UI's thread. The newest steering
//! request wins; older ones still queued are dropped.

use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Receiver;
use std::time::Instant;

use image::DynamicImage;
use tokio::sync::mpsc::UnboundedSender;

use super::data::{
    load_latents, ExplainQuery, ExplainRequest, ExplainRow, ExplainView, LatentsView, SteerRequest,
    SteerView,
};
use crate::engine::error::{Error, Result};
use crate::engine::explain::{Explainer, LatentScore};
use crate::engine::latents::{analyse, DEFAULT_TOP};
use crate::engine::steer::nearest::Opened;
use crate::engine::steer::{Change, Edit, Steerer};
use crate::engine::workspace::Workspace;

pub enum Request {
    Latents(String),
    Collage { run: String, latent: usize },
    Steer(SteerRequest),
    Explain(ExplainRequest),
}

pub enum Reply {
    Latents(Result<LatentsView>),
    Collage {
        run: String,
        latent: usize,
        image: Result<DynamicImage>,
    },
    Steer(Result<SteerView>),
    Explain(Result<ExplainView>),
    /// A long step's progress, for the status line.
    Progress(String),
}

/// Rows shown per preview list.
const SHOWN: usize = 8;

/// Starts the explorer; its replies arrive on `replies`, which the lab's loop selects on.
pub fn spawn(ws: Workspace, requests: Receiver<Request>, replies: UnboundedSender<Reply>) {
    std::thread::spawn(move || {
        let mut current: Option<(String, Explainer)> = None;
        while let Ok(first) = requests.recv() {
            // Keep only the newest steering and explaining requests of those waiting.
            let mut batch = vec![first];
            batch.extend(requests.try_iter());
            let newest_steer = batch.iter().rposition(|r| matches!(r, Request::Steer(_)));
            let newest_explain = batch.iter().rposition(|r| matches!(r, Request::Explain(_)));
            for (i, req) in batch.into_iter().enumerate() {
                let stale = match req {
                    Request::Steer(_) => Some(i) != newest_steer,
                    Request::Explain(_) => Some(i) != newest_explain,
                    _ => false,
                };
                if stale {
                    continue;
                }
                if replies
                    .send(handle(&ws, &mut current, &replies, req))
                    .is_err()
                {
                    return;
                }
            }
        }
    });
}

/// The explored run's explainer (and steerer), opened when the run changes.
fn explainer<'a>(
    ws: &Workspace,
    current: &'a mut Option<(String, Explainer)>,
    run: &str,
) -> Result<&'a mut Explainer> {
    if current.as_ref().is_none_or(|(r, _)| r != run) {
        let analysis = analyse(ws, run, DEFAULT_TOP)?;
        *current = Some((run.to_string(), Explainer::new(ws, analysis, None)?));
    }
    match current {
        Some((_, ex)) => Ok(ex),
        None => Err(Error::invalid(
            "run",
            format!("'{run}' could not be opened"),
        )),
    }
}

fn handle(
    ws: &Workspace,
    current: &mut Option<(String, Explainer)>,
    replies: &UnboundedSender<Reply>,
    req: Request,
) -> Reply {
    match req {
        Request::Latents(run) => {
            Reply::Latents(explainer(ws, current, &run).map(|e| load_latents(e.analysis())))
        }
        Request::Collage { run, latent } => {
            let image = explainer(ws, current, &run)
                .and_then(|e| e.analysis().collage(latent))
                .and_then(|path| {
                    image::open(&path).map_err(|e| Error::bad_file(&path, e.to_string()))
                });
            Reply::Collage { run, latent, image }
        }
        Request::Steer(req) => Reply::Steer(explainer(ws, current, &req.run).and_then(|e| {
            open_nearest(&e.steerer, replies)?;
            preview(&mut e.steerer, &req)
        })),
        Request::Explain(req) => {
            Reply::Explain(explainer(ws, current, &req.run).and_then(|e| explain(e, &req.query)))
        }
    }
}

/// Opens the steered set's nearest-row search, building a large set's graph the first time
/// with its progress on the status line.
fn open_nearest(s: &Steerer, replies: &UnboundedSender<Reply>) -> Result<()> {
    let set = &s.analysis.set;
    let (name, total) = (set.name(), set.rows());
    let started = Instant::now();
    // The lab's own quit ends this thread with the process; nothing half made is kept.
    let never = AtomicBool::new(false);
    let opened = s.open_nearest(
        &|done| {
            let _ = replies.send(Reply::Progress(format!(
                "indexing set '{name}' for nearest images: {done}/{total} rows (once per set; `saelab sets index {name}` does it ahead)"
            )));
        },
        &never,
    )?;
    let said = match opened {
        Some(Opened::Built) => format!(
            "set '{name}' indexed for nearest images in {:.0} s",
            started.elapsed().as_secs_f64()
        ),
        Some(Opened::Unkept(why)) => {
            format!("set '{name}': its nearest-row index serves from memory this time: {why}")
        }
        _ => return Ok(()),
    };
    let _ = replies.send(Reply::Progress(said));
    Ok(())
}

fn preview(s: &mut Steerer, req: &SteerRequest) -> Result<SteerView> {
    let start = Instant::now();
    // A row past the set's end is an error the tab shows, not a silent clamp.
    let image = req.image.clone();
    let x = s.embedding(&image)?;
    let m = s.analysis.labels.len();
    let edits: Vec<Edit> = req
        .edits
        .iter()
        .filter(|(j, _)| *j < m)
        .map(|&(latent, strength)| Edit {
            latent,
            change: Change::Add(strength),
        })
        .collect();
    let before = s.preview(&x)?;
    let steered = s.steer(&x, &edits, req.method);
    let after = s.preview(&steered)?;
    let moves = s.concept_moves(&before, &after, 2 * SHOWN);
    Ok(SteerView {
        image_caption: s.describe_image(&image),
        neighbours: after
            .neighbours
            .iter()
            .take(SHOWN)
            .map(|&(r, c)| (r, c, s.describe(r)))
            .collect(),
        classes: s.class_movers(&before, &after, SHOWN),
        labels_before: before.labels.iter().take(5).map(|l| l.0.clone()).collect(),
        labels_after: after.labels.iter().take(5).map(|l| l.0.clone()).collect(),
        rose: moves
            .iter()
            .filter(|m| m.1 > 0.0)
            .take(4)
            .cloned()
            .collect(),
        fell: moves
            .iter()
            .filter(|m| m.1 < 0.0)
            .take(4)
            .cloned()
            .collect(),
        millis: start.elapsed().as_secs_f64() * 1e3,
    })
}

/// Latents listed by the Explain tab.
const EXPLAINED: usize = 20;

fn explain(ex: &mut Explainer, query: &ExplainQuery) -> Result<ExplainView> {
    let start = Instant::now();
    let classes = ex.classes();
    let mut view = match query {
        ExplainQuery::Image(image) => {
            let e = ex.image(image, EXPLAINED)?;
            let mut lines = vec![format!(
                "score: share of the reconstruction · {} active · cosine {:.3} · listed {:.0}%",
                e.active,
                e.reconstruction_cosine,
                100.0 * e.explained
            )];
            if let Some(m) = &e.prediction {
                lines.push(format!(
                    "{}: {} over {} by {:.2} = latents {:.2} + bias {:.2} + error {:.2}",
                    m.task, m.class, m.runner_up, m.margin, m.latents, m.bias, m.error
                ));
            }
            ExplainView {
                title: format!("image {}: {}", e.image, e.description),
                lines,
                rows: rows(&e.latents, |l| {
                    l.margin.map_or(String::new(), |m| format!("{m:+.2}"))
                }),
                ..ExplainView::default()
            }
        }
        ExplainQuery::Text(text) => {
            let e = ex.text(text, EXPLAINED)?;
            ExplainView {
                title: format!("text \"{}\"", e.text),
                lines: vec![format!(
                    "moved across the text–image gap, then encoded · {} active · score: activation × decoder length",
                    e.active
                )],
                rows: rows(&e.latents, |_| String::new()),
                ..ExplainView::default()
            }
        }
        ExplainQuery::Class(i) => {
            let Some(name) = classes.get(*i) else {
                return Err(Error::invalid("class", "this set has no zero-shot task"));
            };
            let e = ex.class(name, EXPLAINED)?;
            ExplainView {
                title: format!("class {} of {}", e.class, e.task),
                lines: vec![format!(
                    "{} pictures predicted as it · score: mean part of the margin over the runner-up",
                    e.pictures
                )],
                rows: e
                    .latents
                    .iter()
                    .map(|l| ExplainRow {
                        latent: l.latent.latent,
                        label: l.latent.label.clone(),
                        score: l.latent.score,
                        extra: format!("top-3 in {:.0}%", 100.0 * l.top3),
                    })
                    .collect(),
                ..ExplainView::default()
            }
        }
    };
    view.classes = classes;
    view.millis = start.elapsed().as_secs_f64() * 1e3;
    Ok(view)
}

fn rows(latents: &[LatentScore], extra: impl Fn(&LatentScore) -> String) -> Vec<ExplainRow> {
    latents
        .iter()
        .map(|l| ExplainRow {
            latent: l.latent,
            label: l.label.clone(),
            score: l.score,
            extra: extra(l),
        })
        .collect()
}
