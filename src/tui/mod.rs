//! The lab: a ratatui app over the engine. One tokio `select!` loop takes terminal events, the
//! explorer thread's replies, the exits of the jobs it started, a render tick and workspace
//! refreshes; work never runs on it.
//! The terminal is restored on every way out: quit, error, panic, SIGTERM and SIGHUP.

pub mod action;
pub mod app;
pub mod data;
mod explorer;
mod jobs;
pub mod keys;
mod pictures;
pub mod sample;
pub mod shared;
pub mod tabs;
pub mod theme;
pub mod view;
pub mod widgets;

use std::io::stdout;
use std::sync::mpsc;
use std::time::Duration;

use crossterm::event::{DisableMouseCapture, EnableMouseCapture, Event, EventStream, KeyEventKind};
use crossterm::execute;
use futures_util::StreamExt;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

use self::action::{Action, Notice};
use self::app::App;
use self::data::{GenerateRequest, GenerationView};
use self::explorer::{Reply, Request};
use self::jobs::{Ended, Job, Outcome};
use self::pictures::InlinePictures;
use crate::cli::args::{GenerateArgs, SteerArgs, UnitsArg};
use crate::engine::kandinsky::settings;
use crate::engine::kandinsky::triptych::PANELS;
use crate::engine::run::RunDir;
use crate::engine::set::now_unix;
use crate::engine::workspace::Workspace;
use crate::protocol::JobKind;

/// How often the screen is redrawn and running jobs' logs are read.
const TICK: Duration = Duration::from_millis(250);
/// How often the workspace is re-read.
const REFRESH: Duration = Duration::from_secs(1);

pub struct Options {
    pub ws: Workspace,
    pub theme: theme::Theme,
    /// The theme was named (`--theme`, `$SAELAB_THEME`); else it follows the terminal's
    /// background.
    pub theme_named: bool,
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

/// Shown while the terminal is asked what it draws; keys typed meanwhile are kept.
const ASKING: &str = "starting: asking the terminal which pictures it can draw…";
/// How long the terminal is given to answer.
const PATIENCE: Duration = Duration::from_secs(2);

/// Everything the loop owns beside the app state.
struct Runtime {
    ws: Workspace,
    explorer: mpsc::Sender<Request>,
    jobs: Vec<Job>,
    ended: UnboundedSender<Ended>,
    pictures: InlinePictures,
}

async fn event_loop(terminal: &mut ratatui::DefaultTerminal, opts: Options) -> anyhow::Result<()> {
    let mut app = App::new(
        opts.theme,
        opts.ws.root().display().to_string(),
        opts.device,
    );
    let (to_explorer, requests) = mpsc::channel();
    let (replies_tx, mut replies) = unbounded_channel();
    explorer::spawn(opts.ws.clone(), requests, replies_tx);
    let (ended_tx, mut ended) = unbounded_channel();
    let mut rt = Runtime {
        ws: opts.ws,
        explorer: to_explorer,
        jobs: Vec::new(),
        ended: ended_tx,
        pictures: InlinePictures::halfblocks(),
    };
    refresh(&mut app, &mut rt).await;
    // The terminal is asked what it draws after the first frame, so the lab shows at once
    // even where the question goes unanswered until its timeout.
    app.lab.message = Some(ASKING.into());
    terminal.draw(|f| view::draw(f, &app, &mut rt.pictures))?;
    let answers = crate::terminal::ask(PATIENCE);
    rt.pictures = InlinePictures::for_terminal(&answers);
    if !opts.theme_named {
        if let Ok(theme) = theme::Theme::chosen(None, answers.light_background()) {
            app.lab.theme = theme;
        }
    }
    if app.lab.message.as_deref() == Some(ASKING) {
        app.lab.message = None;
    }
    for key in crate::terminal::typed::keys(&answers.typed) {
        on_event(&mut app, &mut rt, Event::Key(key));
    }
    let mut repaint = view::Repaint::default();
    let mut events = EventStream::new();
    let mut tick = tokio::time::interval(TICK);
    let mut refresh_tick = tokio::time::interval(REFRESH);
    let mut term = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    while !app.quit {
        if repaint.after(&app) {
            terminal.clear()?;
        }
        terminal.draw(|f| view::draw(f, &app, &mut rt.pictures))?;
        tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(ev)) => on_event(&mut app, &mut rt, ev),
                Some(Err(e)) => return Err(e.into()),
                None => break,
            },
            Some(reply) = replies.recv() => on_reply(&mut app, &mut rt, reply),
            Some(end) = ended.recv() => on_job_end(&mut app, &mut rt, end),
            _ = tick.tick() => show_jobs(&mut app, &rt),
            _ = refresh_tick.tick() => refresh(&mut app, &mut rt).await,
            _ = term.recv() => break,
            _ = hangup.recv() => break,
        }
    }
    Ok(())
}

fn on_event(app: &mut App, rt: &mut Runtime, ev: Event) {
    let actions = match ev {
        Event::Key(k) if k.kind != KeyEventKind::Release => app.on_key(k),
        Event::Mouse(m) => app.on_mouse(m, &view::tab_spans(app), view::LIST_TOP),
        _ => Vec::new(),
    };
    carry_out_all(app, rt, actions);
}

fn carry_out_all(app: &mut App, rt: &mut Runtime, actions: Vec<Action>) {
    for a in actions {
        carry_out(app, rt, a);
    }
    show_jobs(app, rt);
}

fn carry_out(app: &mut App, rt: &mut Runtime, action: Action) {
    let started = match action {
        Action::StartJob(kind) => jobs::start(&rt.ws, &kind, rt.ended.clone()).map(Some),
        Action::Stop(run) => jobs::stop(&rt.ws, &run).map(|()| None),
        Action::LoadLatents(run) => {
            rt.pictures.clear();
            let _ = rt.explorer.send(Request::Latents(run));
            Ok(None)
        }
        Action::LoadCollage { run, latent } => {
            if rt.pictures.wants(&run, latent) {
                let _ = rt.explorer.send(Request::Collage { run, latent });
            }
            Ok(None)
        }
        Action::Steer(req) => {
            let _ = rt.explorer.send(Request::Steer(req));
            Ok(None)
        }
        Action::Explain(req) => {
            let _ = rt.explorer.send(Request::Explain(req));
            Ok(None)
        }
        Action::Generate(req) => start_generation(app, rt, req),
        // Routed between tabs by the app before they get here.
        Action::Quit | Action::Focus(_) | Action::SteerWith(_) | Action::ShowLatent(_) => Ok(None),
    };
    match started {
        Ok(Some(job)) => rt.jobs.push(job),
        Ok(None) => {}
        Err(e) => app.lab.message = Some(e.to_string()),
    }
}

fn on_reply(app: &mut App, rt: &mut Runtime, reply: Reply) {
    match reply {
        Reply::Latents(Ok(view)) => {
            app.lab.latents_loading = false;
            app.lab.latents = Some(view);
            let actions = app.refocus();
            carry_out_all(app, rt, actions);
        }
        Reply::Latents(Err(e)) => {
            app.lab.latents_loading = false;
            app.lab.message = Some(e.to_string());
        }
        Reply::Collage { run, latent, image } => match image {
            Ok(image) => rt.pictures.insert(&run, latent, image),
            Err(e) => rt.pictures.fail(&run, latent, e.to_string()),
        },
        Reply::Steer(result) => {
            let actions = app.on_notice(&Notice::Steered(result.map_err(|e| e.to_string())));
            carry_out_all(app, rt, actions);
        }
        Reply::Progress(text) => app.lab.message = Some(text),
        Reply::Explain(result) => {
            let actions = app.on_notice(&Notice::Explained(result.map_err(|e| e.to_string())));
            carry_out_all(app, rt, actions);
        }
    }
}

/// A job's process exited: a failure is shown with its last words; a finished triptych is
/// read for drawing.
fn on_job_end(app: &mut App, rt: &mut Runtime, end: Ended) {
    let Some(i) = rt.jobs.iter().position(|j| j.pid == end.pid) else {
        return;
    };
    let job = rt.jobs.remove(i);
    let failed = match job.outcome(end.code) {
        Outcome::Done => None,
        Outcome::Failed(why) => Some(why),
    };
    let done = failed.is_none();
    let actions = app.on_notice(&Notice::JobEnded {
        label: job.label.clone(),
        failed,
    });
    if done && job.generation {
        load_triptych(app, rt);
    }
    carry_out_all(app, rt, actions);
}

/// The status bar's job list, and the triptych's progress from its job's log.
fn show_jobs(app: &mut App, rt: &Runtime) {
    app.lab.running_jobs = rt.jobs.iter().map(Job::status).collect();
    let step = rt.jobs.iter().filter(|j| j.generation).find_map(Job::step);
    if let (Some(step), Some(g)) = (step, app.lab.generation.as_mut()) {
        g.step = Some(step);
    }
}

/// Starts a generation job into a fresh folder of the run's generated/ and shows its progress.
fn start_generation(
    app: &mut App,
    rt: &mut Runtime,
    req: GenerateRequest,
) -> crate::engine::Result<Option<Job>> {
    let Some(s) = app.lab.kandinsky.clone() else {
        return Ok(None);
    };
    if rt.jobs.iter().any(|j| j.generation) {
        app.lab.message =
            Some("a triptych is being generated already; it shows here when done".into());
        return Ok(None);
    }
    let dir = RunDir::new(&rt.ws, &req.run)
        .path("generated")
        .join(format!("lab-{}", now_unix()));
    let args = SteerArgs {
        run: req.run.clone(),
        image: Some(req.image.to_string()),
        latent: vec![req.latent],
        strength: req.strength,
        method: Some(req.method.into()),
        units: UnitsArg::Typical,
        ablate: false,
        task: None,
        check: None,
        generate: GenerateArgs {
            generate: true,
            decoder: s.decoder,
            prior: s.prior,
            steps: s.steps,
            size: s.size,
            out: Some(dir.clone()),
            ..GenerateArgs::default()
        },
    };
    let job = jobs::start(&rt.ws, &JobKind::Generate(args), rt.ended.clone())?;
    app.lab.generation = Some(GenerationView {
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
    let Some(g) = app.lab.generation.as_mut() else {
        return;
    };
    let key = g.dir.display().to_string();
    for (i, panel) in PANELS.iter().enumerate() {
        match image::open(g.dir.join(format!("{panel}.png"))) {
            Ok(picture) => rt.pictures.insert(&key, i, picture),
            Err(e) => {
                app.lab.message = Some(format!("the {panel} picture could not be read: {e}"));
                return;
            }
        }
    }
    g.ready = true;
}

/// Re-reads runs, tasks and sets off the loop's thread.
async fn refresh(app: &mut App, rt: &mut Runtime) {
    let ws = rt.ws.clone();
    let loaded = tokio::task::spawn_blocking(move || {
        let runs = data::load_runs(&ws).unwrap_or_default();
        let tasks = data::load_tasks(&ws, &runs);
        (runs, tasks, data::set_names(&ws), settings::load(&ws))
    })
    .await;
    if let Ok((runs, tasks, sets, kandinsky)) = loaded {
        app.lab.runs = runs;
        app.lab.tasks = tasks;
        app.lab.sets = sets;
        app.lab.kandinsky = kandinsky;
    }
    // Pictures are forgotten when the latents are reloaded; a finished triptych is read again.
    let lost = app
        .lab
        .generation
        .as_ref()
        .is_some_and(|g| g.ready && rt.pictures.wants(&g.dir.display().to_string(), 0));
    if lost {
        load_triptych(app, rt);
    }
}
