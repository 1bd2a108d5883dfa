//! The lab: a ratatui app over the engine. One tokio `select!` loop takes terminal events, a
//! render tick, workspace refreshes and the explorer thread's replies; work never runs on it.
//! The terminal is restored on every way out: quit, error, panic, SIGTERM and SIGHUP.

pub mod app;
pub mod data;
mod explorer;
mod jobs;
mod pictures;
pub mod sample;
pub mod tabs;
pub mod terminal_query;
pub mod theme;
pub mod view;

use std::io::stdout;
use std::sync::mpsc;
use std::time::Duration;

use crossterm::event::{DisableMouseCapture, EnableMouseCapture, Event, EventStream, KeyEventKind};
use crossterm::execute;
use futures_util::StreamExt;
use tokio::signal::unix::{signal, SignalKind};

use self::app::{App, Command, GenerateRequest, GenerationView};
use self::explorer::{Reply, Request};
use self::jobs::{Job, JobState};
use self::pictures::InlinePictures;
use crate::engine::kandinsky::settings;
use crate::engine::kandinsky::triptych::PANELS;
use crate::engine::run::RunDir;
use crate::engine::set::now_unix;
use crate::engine::workspace::Workspace;

/// How often the screen is redrawn and the workspace re-read.
const TICK: Duration = Duration::from_millis(250);
const REFRESH: Duration = Duration::from_secs(1);

pub struct Options {
    pub ws: Workspace,
    pub theme: theme::Theme,
    pub device: String,
}

/// Opens the lab and runs it until the user quits.
pub fn run(opts: Options) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut terminal = ratatui::init();
    let _ = execute!(stdout(), EnableMouseCapture);
    let result = runtime.block_on(event_loop(&mut terminal, opts));
    let _ = execute!(stdout(), DisableMouseCapture);
    ratatui::restore();
    result
}

/// Shown while the terminal is asked what it draws; keys typed meanwhile are lost.
const ASKING: &str = "starting: asking the terminal which pictures it can draw…";

/// Everything the loop owns beside the app state.
struct Runtime {
    ws: Workspace,
    explorer: mpsc::Sender<Request>,
    jobs: Vec<Job>,
    pictures: InlinePictures,
}

async fn event_loop(terminal: &mut ratatui::DefaultTerminal, opts: Options) -> anyhow::Result<()> {
    let mut app = App::new(
        opts.theme,
        opts.ws.root().display().to_string(),
        opts.device,
    );
    let (to_explorer, requests) = mpsc::channel();
    let (replies_tx, replies) = mpsc::channel();
    explorer::spawn(opts.ws.clone(), requests, replies_tx);
    let mut rt = Runtime {
        ws: opts.ws,
        explorer: to_explorer,
        jobs: Vec::new(),
        pictures: InlinePictures::halfblocks(),
    };
    refresh(&mut app, &mut rt).await;
    // The terminal is asked what it draws after the first frame, so the lab shows at once
    // even where the question goes unanswered until its timeout (tmux).
    app.message = Some(ASKING.into());
    terminal.draw(|f| view::draw(f, &app, &mut rt.pictures))?;
    rt.pictures = InlinePictures::detect();
    if app.message.as_deref() == Some(ASKING) {
        app.message = None;
    }
    let mut events = EventStream::new();
    let mut tick = tokio::time::interval(TICK);
    let mut refresh_tick = tokio::time::interval(REFRESH);
    let mut term = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    while !app.quit {
        terminal.draw(|f| view::draw(f, &app, &mut rt.pictures))?;
        tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(ev)) => on_event(&mut app, &mut rt, ev),
                Some(Err(e)) => return Err(e.into()),
                None => break,
            },
            _ = tick.tick() => drain_replies(&mut app, &mut rt, &replies),
            _ = refresh_tick.tick() => refresh(&mut app, &mut rt).await,
            _ = term.recv() => break,
            _ = hangup.recv() => break,
        }
    }
    Ok(())
}

fn on_event(app: &mut App, rt: &mut Runtime, ev: Event) {
    let commands = match ev {
        Event::Key(k) if k.kind != KeyEventKind::Release => app.on_key(k),
        Event::Mouse(m) => app.on_mouse(m, &view::tab_spans(), view::LIST_TOP),
        _ => Vec::new(),
    };
    for c in commands {
        carry_out(app, rt, c);
    }
}

fn carry_out(app: &mut App, rt: &mut Runtime, command: Command) {
    let started = match command {
        Command::StartSweep(form) => jobs::sweep(&rt.ws, &form).map(Some),
        Command::Resume(run) => jobs::resume(&rt.ws, &run).map(Some),
        Command::Zeroshot(task) => jobs::zeroshot(&rt.ws, &task).map(Some),
        Command::Stop(run) => jobs::stop(&rt.ws, &run).map(|()| None),
        Command::LoadLatents(run) => {
            rt.pictures.clear();
            let _ = rt.explorer.send(Request::Latents(run));
            Ok(None)
        }
        Command::LoadCollage { run, latent } => {
            if rt.pictures.wants(&run, latent) {
                let _ = rt.explorer.send(Request::Collage { run, latent });
            }
            Ok(None)
        }
        Command::Steer(req) => {
            let _ = rt.explorer.send(Request::Steer(req));
            Ok(None)
        }
        Command::Generate(req) => start_generation(app, rt, req),
        Command::Quit => Ok(None),
    };
    match started {
        Ok(Some(job)) => rt.jobs.push(job),
        Ok(None) => {}
        Err(e) => app.message = Some(e.to_string()),
    }
    app.running_jobs = rt.jobs.iter().map(Job::status).collect();
}

fn drain_replies(app: &mut App, rt: &mut Runtime, replies: &mpsc::Receiver<Reply>) {
    for reply in replies.try_iter() {
        match reply {
            Reply::Latents(Ok(view)) => {
                app.latents_loading = false;
                app.latents = Some(view);
                for c in app.switch(app.tab) {
                    carry_out(app, rt, c);
                }
            }
            Reply::Latents(Err(e)) => {
                app.latents_loading = false;
                app.message = Some(e.to_string());
            }
            Reply::Collage { run, latent, image } => rt.pictures.insert(&run, latent, image),
            Reply::Steer(Ok(view)) => app.steer_view = Some(view),
            Reply::Steer(Err(e)) => {
                app.steer_view = None;
                app.message = Some(e.to_string());
            }
        }
    }
}

/// Starts a generation job into a fresh folder of the run's generated/ and shows its progress.
fn start_generation(
    app: &mut App,
    rt: &mut Runtime,
    req: GenerateRequest,
) -> crate::engine::Result<Option<Job>> {
    let Some(s) = app.kandinsky.clone() else {
        return Ok(None);
    };
    if rt.jobs.iter().any(|j| j.label == jobs::GENERATE) {
        app.message = Some("a triptych is being generated already; it shows here when done".into());
        return Ok(None);
    }
    let dir = RunDir::new(&rt.ws, &req.run)
        .path("generated")
        .join(format!("lab-{}", now_unix()));
    let job = jobs::generate(&rt.ws, &req, &s, &dir)?;
    app.generation = Some(GenerationView {
        run: req.run,
        latent: req.latent,
        strength: req.strength,
        dir,
        step: None,
        ready: false,
    });
    Ok(Some(job))
}

/// Reads the finished triptych's three pictures for inline drawing.
fn load_triptych(app: &mut App, rt: &mut Runtime) {
    let Some(g) = app.generation.as_mut() else {
        return;
    };
    let key = g.dir.display().to_string();
    for (i, panel) in PANELS.iter().enumerate() {
        match image::open(g.dir.join(format!("{panel}.png"))) {
            Ok(picture) => rt.pictures.insert(&key, i, picture),
            Err(e) => {
                app.message = Some(format!("the {panel} picture could not be read: {e}"));
                return;
            }
        }
    }
    g.ready = true;
}

/// Re-reads runs, tasks and sets off the loop's thread; forgets finished jobs.
async fn refresh(app: &mut App, rt: &mut Runtime) {
    let ws = rt.ws.clone();
    let loaded = tokio::task::spawn_blocking(move || {
        let runs = data::load_runs(&ws).unwrap_or_default();
        let tasks = data::load_tasks(&ws, &runs);
        (runs, tasks, data::set_names(&ws), settings::load(&ws))
    })
    .await;
    if let Ok((runs, tasks, sets, kandinsky)) = loaded {
        app.runs = runs;
        app.tasks = tasks;
        app.sets = sets;
        app.kandinsky = kandinsky;
    }
    let mut generated = false;
    rt.jobs.retain_mut(|j| match j.state() {
        JobState::Running => {
            if let (true, Some(g)) = (j.label == jobs::GENERATE, app.generation.as_mut()) {
                g.step = j.step().or(g.step.take());
            }
            true
        }
        JobState::Done => {
            generated |= j.label == jobs::GENERATE;
            false
        }
        JobState::Failed(why) => {
            app.message = Some(format!("{} failed: {why}", j.label));
            false
        }
    });
    // Pictures are forgotten when the latents are reloaded; a finished triptych is read again.
    let lost = app
        .generation
        .as_ref()
        .is_some_and(|g| g.ready && rt.pictures.wants(&g.dir.display().to_string(), 0));
    if generated || lost {
        load_triptych(app, rt);
    }
    app.running_jobs = rt.jobs.iter().map(Job::status).collect();
}
