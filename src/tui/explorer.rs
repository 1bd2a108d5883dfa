//! The explorer: a thread that owns the explored run's analysis and steerer, so building an
//! index, drawing a collage or steering never runs on the UI's thread. The newest steering
//! request wins; older ones still queued are dropped.

use std::sync::mpsc::Receiver;
use std::time::Instant;

use image::DynamicImage;
use tokio::sync::mpsc::UnboundedSender;

use super::data::{load_latents, LatentsView, SteerRequest, SteerView};
use crate::engine::error::{Error, Result};
use crate::engine::latents::{analyse, DEFAULT_TOP};
use crate::engine::steer::{Change, Edit, ImageRef, Steerer, Units};
use crate::engine::workspace::Workspace;
use crate::engine::zeroshot::TaskSpec;

pub enum Request {
    Latents(String),
    Collage { run: String, latent: usize },
    Steer(SteerRequest),
}

pub enum Reply {
    Latents(Result<LatentsView>),
    Collage {
        run: String,
        latent: usize,
        image: Result<DynamicImage>,
    },
    Steer(Result<SteerView>),
}

/// Rows shown per preview list.
const SHOWN: usize = 8;

/// Starts the explorer; its replies arrive on `replies`, which the lab's loop selects on.
pub fn spawn(ws: Workspace, requests: Receiver<Request>, replies: UnboundedSender<Reply>) {
    std::thread::spawn(move || {
        let mut current: Option<(String, Steerer)> = None;
        while let Ok(first) = requests.recv() {
            // Keep only the newest steering request of those waiting.
            let mut batch = vec![first];
            batch.extend(requests.try_iter());
            let newest_steer = batch.iter().rposition(|r| matches!(r, Request::Steer(_)));
            for (i, req) in batch.into_iter().enumerate() {
                if matches!(req, Request::Steer(_)) && Some(i) != newest_steer {
                    continue;
                }
                if replies.send(handle(&ws, &mut current, req)).is_err() {
                    return;
                }
            }
        }
    });
}

fn steerer<'a>(
    ws: &Workspace,
    current: &'a mut Option<(String, Steerer)>,
    run: &str,
) -> Result<&'a mut Steerer> {
    if current.as_ref().is_none_or(|(r, _)| r != run) {
        let analysis = analyse(ws, run, DEFAULT_TOP)?;
        let task = TaskSpec::for_set(&analysis.set)?;
        *current = Some((
            run.to_string(),
            Steerer::new(ws, analysis, Units::Typical, task.as_ref())?,
        ));
    }
    match current {
        Some((_, s)) => Ok(s),
        None => Err(Error::invalid(
            "run",
            format!("'{run}' could not be opened"),
        )),
    }
}

fn handle(ws: &Workspace, current: &mut Option<(String, Steerer)>, req: Request) -> Reply {
    match req {
        Request::Latents(run) => {
            Reply::Latents(steerer(ws, current, &run).map(|s| load_latents(&s.analysis)))
        }
        Request::Collage { run, latent } => {
            let image = steerer(ws, current, &run)
                .and_then(|s| s.analysis.collage(latent))
                .and_then(|path| {
                    image::open(&path).map_err(|e| Error::bad_file(&path, e.to_string()))
                });
            Reply::Collage { run, latent, image }
        }
        Request::Steer(req) => {
            Reply::Steer(steerer(ws, current, &req.run).and_then(|s| preview(s, &req)))
        }
    }
}

fn preview(s: &mut Steerer, req: &SteerRequest) -> Result<SteerView> {
    let start = Instant::now();
    // Moving down past the last row stays on it.
    let image = match &req.image {
        ImageRef::Row(r) => ImageRef::Row((*r).min(s.analysis.set.rows().saturating_sub(1))),
        file => file.clone(),
    };
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
    let before = s.preview(&x);
    let steered = s.steer(&x, &edits, req.method);
    let after = s.preview(&steered);
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
