//! The `saelab` command line: parses arguments and calls the engine. Errors surface as
//! `anyhow` with the engine's messages; the binary maps them to exit statuses.

pub mod args;
mod bench;
mod demo;
mod embed;
mod generate;
mod latents;
mod picture;
mod progress;
mod steer;
mod tables;
mod train;
mod zeroshot;

use std::sync::atomic::{AtomicBool, Ordering};

use args::{Cli, Command, MethodArg};

use crate::engine::device::{describe, DeviceChoice};
use crate::engine::steer::ImageRef;
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
pub fn install_interrupt_handler() {
    let _ = ctrlc::set_handler(|| {
        if CANCEL.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\ninterrupted: saving checkpoints (press Ctrl-C again to quit now)");
    });
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    let root = cli
        .workspace
        .clone()
        .unwrap_or_else(Workspace::default_root);
    let ctx = Ctx {
        ws: Workspace::open(root)?,
        json: cli.json,
        quiet: cli.quiet,
        device: cli.device.into(),
    };
    let Some(command) = cli.command else {
        return demo::open_lab(&ctx, &cli.theme);
    };
    match command {
        Command::Demo { images, seed } => demo::create(&ctx, images, seed),
        Command::Embed(args) => embed::run(&ctx, args),
        Command::Sets => tables::sets(&ctx),
        Command::Image { set, id, out } => demo::image(&ctx, &set, id, &out),
        Command::Train {
            data,
            lambda,
            k,
            name,
            opts,
        } => train::train(&ctx, &data, lambda, k, name, &opts),
        Command::Sweep {
            data,
            lambdas,
            ks,
            prefix,
            opts,
        } => train::sweep_cmd(&ctx, &data, &lambdas, &ks, prefix, &opts),
        Command::Runs => tables::runs(&ctx),
        Command::Resume { runs, epochs } => train::resume(&ctx, &runs, epochs),
        Command::Metrics { runs } => tables::metrics(&ctx, &runs),
        Command::Latents {
            run,
            top,
            list,
            label,
            captioner,
            captioned,
            offline,
            csv,
            from,
            count,
        } => latents::run(
            &ctx,
            latents::LatentsArgs {
                run: &run,
                top,
                list,
                csv: csv.as_deref(),
                from,
                count,
                captions: matches!(label, args::LabelArg::Caption).then_some(
                    latents::CaptionArgs {
                        captioner: &captioner,
                        per_latent: captioned,
                        offline,
                    },
                ),
            },
        ),
        Command::Show { run, latent, top } => latents::show(&ctx, &run, latent, top),
        Command::Zeroshot {
            task,
            runs,
            set,
            classes,
            losses,
        } => zeroshot::run(
            &ctx,
            task.as_deref(),
            classes.as_deref(),
            set.as_deref(),
            &runs,
            losses,
        ),
        Command::Steer {
            run,
            image,
            latent,
            strength,
            method,
            units,
            ablate,
            task,
            check,
            generate,
        } => steer::run(
            &ctx,
            steer::SteerArgs {
                run: &run,
                image: image.as_deref().map(ImageRef::parse),
                latents: &latent,
                strength,
                method: method.unwrap_or(if generate.generate {
                    MethodArg::Add
                } else {
                    MethodArg::Edit
                }),
                units,
                ablate,
                task: task.as_deref(),
                check,
                generate,
            },
        ),
        Command::Report {
            runs,
            out,
            latents,
            latent_run,
            csv_latents,
        } => {
            let req = crate::engine::report::ReportRequest {
                runs: &runs,
                out: &out,
                latents: &latents,
                latent_run: latent_run.as_deref(),
                csv_latents,
            };
            let summary = crate::engine::report::write_report(&ctx.ws, &req)?;
            ctx.note(&format!("wrote {}", summary.path.display()));
            for line in &summary.missing {
                ctx.note(&format!("  left out: {line}"));
            }
            Ok(())
        }
        Command::Bench {
            steps,
            from,
            lambda,
            l1,
            arch,
            k,
            dead_after,
            aux_k,
            lr,
            decay_steps,
            b_dec_init,
        } => {
            let arch: crate::engine::sae::Arch = arch.into();
            let config = crate::engine::sae::TrainConfig {
                arch,
                lambda,
                l1: l1.into(),
                k,
                dead_after,
                aux_k,
                unit_norm_decoder: arch.uses_k(),
                b_dec_init: b_dec_init.into(),
                lr,
                decay_steps,
                ..Default::default()
            };
            bench::run(&ctx, steps, from.as_deref(), config)
        }
    }
}
