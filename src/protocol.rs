//! The contract between the lab and the `saelab` jobs it starts: which jobs there are, the
//! argv each is started with (written from the CLI's own argument types), the progress lines
//! a job prints and the lab reads, and the exit statuses.

use std::fmt;

use crate::cli::args::{ResumeArgs, SteerArgs, SweepArgs, ToArgv, ZeroshotArgs};

/// Exit status of a command that finished.
pub const EXIT_OK: u8 = 0;
/// Exit status after bad input; the message says which and what to do.
pub const EXIT_USER_ERROR: u8 = 1;
/// Exit status after Ctrl-C (or SIGINT from the lab's stop) once the work was saved.
pub const EXIT_INTERRUPTED: u8 = 130;

/// A job the lab starts as a `saelab` child process.
#[derive(Debug, Clone, PartialEq)]
pub enum JobKind {
    Sweep(SweepArgs),
    Resume(ResumeArgs),
    Zeroshot(ZeroshotArgs),
    /// `saelab steer … --generate`: a Kandinsky 2.2 triptych.
    Generate(SteerArgs),
}

impl JobKind {
    /// The subcommand and its arguments.
    pub fn argv(&self) -> Vec<String> {
        match self {
            JobKind::Sweep(a) => a.to_argv(),
            JobKind::Resume(a) => a.to_argv(),
            JobKind::Zeroshot(a) => a.to_argv(),
            JobKind::Generate(a) => a.to_argv(),
        }
    }

    /// How the status bar names the job.
    pub fn label(&self) -> String {
        match self {
            JobKind::Sweep(_) => "sweep".into(),
            JobKind::Resume(a) => format!("resume {}", a.runs.join(" ")),
            JobKind::Zeroshot(a) => format!("zeroshot {}", a.task.as_deref().unwrap_or("")),
            JobKind::Generate(_) => "generate".into(),
        }
    }

    pub fn is_generation(&self) -> bool {
        matches!(self, JobKind::Generate(_))
    }
}

/// One denoising step of a generation job, printed a line each where stderr is no terminal:
/// `step 12/153 (plus)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepLine {
    pub done: usize,
    pub total: usize,
    /// The picture being made: prior, orig, plus or minus.
    pub panel: String,
}

impl fmt::Display for StepLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step {}/{} ({})", self.done, self.total, self.panel)
    }
}

impl StepLine {
    /// Reads a line written by `Display`; `None` for any other line.
    pub fn parse(line: &str) -> Option<Self> {
        let rest = line.strip_prefix("step ")?;
        let (counts, panel) = rest.split_once(' ')?;
        let (done, total) = counts.split_once('/')?;
        let panel = panel.strip_prefix('(')?.strip_suffix(')')?;
        Some(StepLine {
            done: done.parse().ok()?,
            total: total.parse().ok()?,
            panel: panel.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::args::{ArchArg, Cli, Command, GenerateArgs, MethodArg, TrainOpts, UnitsArg};

    fn parse(kind: &JobKind) -> Command {
        let argv = std::iter::once("saelab".to_string()).chain(kind.argv());
        match Cli::try_parse_from(argv) {
            Ok(cli) => cli.command.expect("a subcommand"),
            Err(e) => panic!("{:?} does not parse: {e}", kind.argv()),
        }
    }

    fn sweep(arch: ArchArg, lr: Option<f64>) -> SweepArgs {
        SweepArgs {
            data: "demo".into(),
            lambdas: vec![1e-3, 0.01, 3e-2],
            ks: vec![16, 32],
            prefix: Some("p".into()),
            opts: TrainOpts {
                arch,
                lr,
                dict: 64,
                prefixes: vec![2, 8, 64],
                untied_init: true,
                ..TrainOpts::parsed_defaults().unwrap()
            },
        }
    }

    fn generate(image: &str, method: Option<MethodArg>) -> SteerArgs {
        SteerArgs {
            run: "demo-lam1e-2".into(),
            image: Some(image.into()),
            latent: vec![3, 7],
            strength: -1.5,
            method,
            units: UnitsArg::Max,
            ablate: false,
            task: None,
            check: None,
            generate: GenerateArgs {
                generate: true,
                steps: 4,
                size: 64,
                decoder: "/k/decoder".into(),
                out: Some("/w/runs/x/generated/lab-1".into()),
                ..GenerateArgs::default()
            },
        }
    }

    /// Every job the lab can start parses back, with the real parser, to the arguments it
    /// was written from.
    #[test]
    fn every_job_argv_parses_back_to_its_arguments() {
        let kinds = [
            JobKind::Sweep(sweep(ArchArg::Relu, None)),
            JobKind::Sweep(sweep(ArchArg::Topk, Some(2e-3))),
            JobKind::Resume(ResumeArgs {
                runs: vec!["a".into(), "b".into()],
                epochs: Some(7),
            }),
            JobKind::Zeroshot(ZeroshotArgs::task("demo100")),
            JobKind::Generate(generate("12", Some(MethodArg::Add))),
            JobKind::Generate(generate("/pictures/a cat.png", None)),
        ];
        for kind in kinds {
            let parsed = parse(&kind);
            let same = match (&kind, &parsed) {
                (JobKind::Sweep(a), Command::Sweep(b)) => a == b,
                (JobKind::Resume(a), Command::Resume(b)) => a == b,
                (JobKind::Zeroshot(a), Command::Zeroshot(b)) => a == b,
                (JobKind::Generate(a), Command::Steer(b)) => a == b,
                _ => false,
            };
            assert!(same, "{kind:?}\nparsed back as\n{parsed:?}");
        }
    }

    #[test]
    fn default_train_options_are_the_parsers() {
        let Ok(Cli {
            command: Some(Command::Sweep(parsed)),
            ..
        }) = Cli::try_parse_from(["saelab", "sweep", "--data", "demo"])
        else {
            panic!("sweep --data demo does not parse");
        };
        assert_eq!(parsed.opts, TrainOpts::parsed_defaults().unwrap());
        assert_eq!(parsed.opts.dict, 4096);
    }

    #[test]
    fn step_lines_round_trip_and_others_are_not_steps() {
        let line = StepLine {
            done: 12,
            total: 153,
            panel: "plus".into(),
        };
        assert_eq!(line.to_string(), "step 12/153 (plus)");
        assert_eq!(StepLine::parse(&line.to_string()), Some(line));
        for other in [
            "step 3 of 4",
            "on the CPU: 2.0 s a step",
            "step x/4 (orig)",
            "",
        ] {
            assert_eq!(StepLine::parse(other), None, "{other}");
        }
    }
}
