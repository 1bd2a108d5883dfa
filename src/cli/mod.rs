//! The `saelab` command line: parses arguments and calls the engine. Errors surface as
//! `anyhow` with the engine's messages; the binary maps them to exit statuses.

pub mod args;
mod bench;
mod demo;
mod embed;
mod eval;
mod explain;
mod generate;
mod interop;
mod latents;
mod picture;
mod progress;
mod sets;
mod steer;
mod tables;
mod train;
mod zeroshot;

use std::sync::atomic::{AtomicBool, Ordering};

use args::{Cli, Command, SetsAction, SetsArgs};

use crate::engine::device::{describe, DeviceChoice};
use crate::engine::workspace::Workspace;

/// Set by Ctrl-C (or SIGTERM/SIGHUP); training loops save a checkpoint and stop when they see it.
pub static CANCEL: AtomicBool = AtomicBool::new(false);

/// What every command needs.
pub struct Ctx {
    pub ws: Workspace,
    pub json: bool,
    pub quiet: bool,
    pub device: DeviceChoice,
}

impl Ctx {
    /// An informational line on stderr (silenced by --quiet).
    pub fn note(&self, msg: &str) {
        if !self.quiet {
            eprintln!("{msg}");
        }
    }

    pub fn device_name(&self) -> String {
        match self.device.open() {
            Ok(d) => describe(&d),
            Err(e) => format!("unavailable ({e})"),
        }
    }
}

/// Installs the Ctrl-C handler: the first press asks running jobs to save and stop, the
/// second exits at once.
/// SIGTERM and SIGHUP (a closed SSH session) are handled the same way, except that a process
/// started with SIGHUP ignored (`nohup`) keeps ignoring it.
pub fn install_interrupt_handler() {
    let nohup = hangup_ignored();
    let _ = ctrlc::set_handler(|| {
        if CANCEL.swap(true, Ordering::SeqCst) {
            std::process::exit(i32::from(crate::protocol::EXIT_INTERRUPTED));
        }
        eprintln!("\ninterrupted: saving checkpoints (press Ctrl-C again to quit now)");
    });
    if nohup {
        // SAFETY: restores the disposition the process started with; no handler is involved.
        unsafe {
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
        }
    }
}

/// Whether SIGHUP was ignored when the process started, as `nohup` leaves it.
fn hangup_ignored() -> bool {
    // SAFETY: with a null new action, sigaction only reads the current one into `old`.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGHUP, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_IGN
    }
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    let root = cli
        .workspace
        .clone()
        .unwrap_or_else(Workspace::default_root);
    let reads_only = matches!(
        cli.command,
        Some(
            Command::Sets(SetsArgs {
                action: None | Some(SetsAction::Verify { .. })
            }) | Command::Runs
                | Command::Metrics(_)
                | Command::Report(_)
        )
    );
    let ws = if reads_only {
        Workspace::for_reading(root)?
    } else {
        Workspace::open(root)?
    };
    let ctx = Ctx {
        ws,
        json: cli.json,
        quiet: cli.quiet,
        device: cli.device.into(),
    };
    let Some(command) = cli.command else {
        return demo::open_lab(&ctx, cli.theme.as_deref());
    };
    match command {
        Command::Demo(a) => demo::create(&ctx, a.images, a.seed),
        Command::Embed(a) => embed::run(&ctx, a),
        Command::Sets(SetsArgs { action: None }) => tables::sets(&ctx),
        Command::Sets(SetsArgs {
            action: Some(SetsAction::Merge { name }),
        }) => sets::merge(&ctx, &name),
        Command::Sets(SetsArgs {
            action: Some(SetsAction::Verify { name }),
        }) => sets::verify(&ctx, &name),
        Command::Sets(SetsArgs {
            action: Some(SetsAction::Index { name }),
        }) => sets::index(&ctx, &name),
        Command::Image(a) => demo::image(&ctx, &a.set, a.id, &a.out),
        Command::Train(a) => train::train(&ctx, &a.data, a.lambda, a.k, a.name, &a.opts),
        Command::Sweep(a) => train::sweep_cmd(&ctx, &a.data, &a.lambdas, &a.ks, a.prefix, &a.opts),
        Command::Runs => tables::runs(&ctx),
        Command::Resume(a) => train::resume(&ctx, &a.runs, a.epochs),
        Command::Metrics(a) => tables::metrics(&ctx, &a.runs),
        Command::Latents(a) => latents::run(&ctx, &a),
        Command::Show(a) => latents::show(&ctx, &a.run, a.latent, a.top),
        Command::Zeroshot(a) => zeroshot::run(
            &ctx,
            a.task.as_deref(),
            a.classes.as_deref(),
            a.set.as_deref(),
            &a.runs,
            a.losses,
        ),
        Command::Steer(a) => steer::run(&ctx, &a),
        Command::Report(a) => {
            let req = crate::engine::report::ReportRequest {
                runs: &a.runs,
                out: &a.out,
                latents: &a.latents,
                latent_run: a.latent_run.as_deref(),
                csv_latents: a.csv_latents,
            };
            let summary = crate::engine::report::write_report(&ctx.ws, &req)?;
            ctx.note(&format!("wrote {}", summary.path.display()));
            for line in &summary.missing {
                ctx.note(&format!("  left out: {line}"));
            }
            Ok(())
        }
        Command::Explain(a) => explain::run(&ctx, &a),
        Command::Eval(a) => eval::run(&ctx, &a.runs),
        Command::Export(a) => interop::export(&ctx, &a),
        Command::Import(a) => interop::import(&ctx, &a),
        Command::ImportSet(a) => interop::import_set_cmd(&ctx, &a),
        Command::Bench(a) => bench::run(&ctx, a.steps, a.from.as_deref(), a.config()),
    }
}
