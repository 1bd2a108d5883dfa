//! Training progress on stderr: an indicatif bar per run on a terminal, and plain log lines
//! when stderr is a file (a sweep under `nohup`).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Instant;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::run::{MetricsRow, Observer};

/// Plain log lines are written about this many times per run.
const PLAIN_LINES_PER_RUN: u64 = 20;

pub struct Progress {
    multi: MultiProgress,
    /// Each run's bar and the step of its last plain log line.
    bars: Mutex<HashMap<String, (ProgressBar, u64)>>,
    mode: Mode,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Bars,
    Lines,
    Quiet,
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Bars
        } else {
            Mode::Lines
        };
        let target = match mode {
            Mode::Bars => ProgressDrawTarget::stderr(),
            _ => ProgressDrawTarget::hidden(),
        };
        Progress {
            multi: MultiProgress::with_draw_target(target),
            bars: Mutex::new(HashMap::new()),
            mode,
        }
    }

    /// Finishes every bar, leaving its last state on screen.
    pub fn finish(&self) {
        for (bar, _) in self.bars.lock().expect("progress lock").values() {
            bar.abandon();
        }
    }
}

fn describe(row: &MetricsRow) -> String {
    let r2 = row.r2.map_or(String::new(), |r| format!("  R² {r:.4}"));
    format!(
        "loss {:.3e}  mse {:.3e}  L0 {:.0}{r2}  {:.0} ex/s",
        row.loss, row.mse, row.avg_l0, row.examples_per_sec
    )
}

impl Observer for Progress {
    fn started(&self, run: &str, step: u64, total: u64) {
        if self.mode == Mode::Lines {
            eprintln!("{run}: training from step {step} of {total}");
        }
        let bar = self.multi.add(ProgressBar::new(total));
        bar.set_style(
            ProgressStyle::with_template("{prefix:>20} [{bar:28}] {pos}/{len} {eta:>4} {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(run.to_string());
        bar.set_position(step);
        self.bars
            .lock()
            .expect("progress lock")
            .insert(run.into(), (bar, step));
    }

    fn warned(&self, run: &str, message: &str) {
        self.multi
            .suspend(|| eprintln!("warning: {run}: {message}"));
    }

    fn logged(&self, run: &str, row: &MetricsRow, total: u64) {
        let mut bars = self.bars.lock().expect("progress lock");
        let Some((bar, last_line)) = bars.get_mut(run) else {
            return;
        };
        bar.set_position(row.step);
        bar.set_message(describe(row));
        let every = (total / PLAIN_LINES_PER_RUN).max(1);
        if self.mode == Mode::Lines && (row.step >= *last_line + every || row.step == total) {
            eprintln!("{run}: step {}/{total}  {}", row.step, describe(row));
            *last_line = row.step;
        }
    }
}

/// Seconds between plain progress lines when stderr is not a terminal.
const PLAIN_EVERY_SECS: f64 = 10.0;

/// Progress of a job over items (images embedded, pictures captioned): a bar on a terminal,
/// a line every few seconds otherwise, nothing with --quiet.
pub struct Counter {
    bar: ProgressBar,
    quiet: bool,
    unit: &'static str,
    started: Instant,
    last_line: f64,
}

impl Counter {
    pub fn new(quiet: bool, verb: &str, unit: &'static str) -> Self {
        let bar = ProgressBar::new(0);
        if quiet || !std::io::stderr().is_terminal() {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        bar.set_style(
            ProgressStyle::with_template(&format!(
                "{verb} [{{bar:30}}] {{pos}}/{{len}} {{per_sec}} {{eta}}"
            ))
            .expect("valid template")
            .progress_chars("=> "),
        );
        Counter {
            bar,
            quiet,
            unit,
            started: Instant::now(),
            last_line: 0.0,
        }
    }

    pub fn update(&mut self, done: usize, total: usize) {
        self.bar.set_length(total as u64);
        self.bar.set_position(done as u64);
        let t = self.started.elapsed().as_secs_f64();
        if self.bar.is_hidden()
            && !self.quiet
            && (t - self.last_line >= PLAIN_EVERY_SECS || done == total)
        {
            eprintln!("{done}/{total} {}", self.unit);
            self.last_line = t;
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
