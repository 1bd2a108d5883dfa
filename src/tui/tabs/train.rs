//! Train: the sweep form, each run's progress, and live charts of its metrics log.

use clap::ValueEnum;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, Gauge, GraphType, LegendPosition, Paragraph};
use ratatui::Frame;

use crossterm::event::{KeyCode, KeyEvent};

use crate::cli::args::{ArchArg, SweepArgs, TrainOpts, DEFAULT_KS, DEFAULT_LAMBDAS};
use crate::engine::run::{MetricsRow, Status};
use crate::engine::sae::{Arch, TrainConfig};
use crate::protocol::JobKind;
use crate::tui::action::{Action, TabId};
use crate::tui::data::RunView;
use crate::tui::keys::{self, Binding, HelpLine};
use crate::tui::shared::Shared;
use crate::tui::tabs::TabComponent;
use crate::tui::widgets::{panel, x_axis_from_zero, Collages};

/// Reads one measure from a log row (NaN where the row lacks it).
type Read = fn(&MetricsRow) -> f64;
/// Writes an axis label.
type Label = fn(f64) -> String;

/// The charted measures: name, how to read it from a log row, how to label its axis. The
/// study's four: L0, MSE and R², with the loss they trade off in.
const MEASURES: [(&str, Read, Label); 4] = [
    ("loss", |r| r.loss, |v| format!("{v:.2e}")),
    ("L0", |r| r.avg_l0, |v| format!("{v:.1}")),
    ("MSE", |r| r.mse, |v| format!("{v:.2e}")),
    ("R²", |r| r.r2.unwrap_or(f64::NAN), |v| format!("{v:.4}")),
];

/// The lowest R² charted: a diverging first batch's −5 would leave the useful range one row.
const R2_FLOOR: f64 = 0.0;

/// In place of the loss once any run tracks dead latents (TopK family, JumpReLU): the losses
/// of different families are not comparable, their dead fractions are.
const DEAD: (&str, Read, Label) = (
    "dead",
    |r| r.dead_frac.map_or(f64::NAN, |f| 100.0 * f),
    |v| format!("{v:.1}%"),
);

pub const ID: TabId = "train";

/// The sweep form: what the user typed, checked when the sweep starts.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepForm {
    pub set: String,
    pub lambdas: String,
    pub epochs: String,
    pub dict: String,
    pub batch: String,
    /// `auto`: the family's default learning rate.
    pub lr: String,
    /// The SAE family: relu (λ list) or topk, batchtopk, matryoshka (k list), jumprelu (λ).
    pub arch: String,
    pub ks: String,
}

impl Default for SweepForm {
    fn default() -> Self {
        let config = TrainConfig::default();
        SweepForm {
            set: crate::engine::demo::SET_NAME.into(),
            lambdas: DEFAULT_LAMBDAS.into(),
            epochs: config.epochs.to_string(),
            dict: config.dict.to_string(),
            batch: config.batch.to_string(),
            lr: AUTO_LR.into(),
            arch: Arch::Relu.name().into(),
            ks: DEFAULT_KS.into(),
        }
    }
}

/// The form's learning rate when the family's default is meant.
const AUTO_LR: &str = "auto";

impl SweepForm {
    pub const FIELDS: [&'static str; 8] = [
        "set", "λ list", "epochs", "dict", "batch", "lr", "arch", "k list",
    ];

    pub fn field(&self, i: usize) -> &str {
        [
            &self.set,
            &self.lambdas,
            &self.epochs,
            &self.dict,
            &self.batch,
            &self.lr,
            &self.arch,
            &self.ks,
        ][i]
    }

    fn field_mut(&mut self, i: usize) -> &mut String {
        match i {
            0 => &mut self.set,
            1 => &mut self.lambdas,
            2 => &mut self.epochs,
            3 => &mut self.dict,
            4 => &mut self.batch,
            5 => &mut self.lr,
            6 => &mut self.arch,
            _ => &mut self.ks,
        }
    }

    /// The family typed, in any case.
    fn family(&self) -> Option<ArchArg> {
        ArchArg::from_str(self.arch.trim(), true).ok()
    }

    /// Whether the sweep runs over k (the TopK family) rather than λ.
    pub fn sweeps_k(&self) -> bool {
        self.family().is_some_and(|a| Arch::from(a).uses_k())
    }

    /// What the sweep varies, for messages: `λ 1e-3,1e-2` or `topk k 16,32`.
    pub fn swept(&self) -> String {
        let arch = self
            .family()
            .map_or(self.arch.clone(), |a| Arch::from(a).name().to_string());
        match (self.sweeps_k(), arch.as_str()) {
            (true, arch) => format!("{arch} k {}", self.ks),
            (false, "relu") => format!("λ {}", self.lambdas),
            (false, arch) => format!("{arch} λ {}", self.lambdas),
        }
    }

    /// The `saelab sweep` arguments the form asks for, or what is wrong with it.
    pub fn to_args(&self) -> Result<SweepArgs, String> {
        let arch = self.family().ok_or_else(|| {
            format!(
                "arch: '{}' is none of relu, topk, batchtopk, jumprelu, matryoshka",
                self.arch
            )
        })?;
        let number = |name: &str, v: &str| -> Result<usize, String> {
            v.trim()
                .parse()
                .map_err(|_| format!("{name}: '{v}' is not a whole number"))
        };
        let lr = match self.lr.trim() {
            AUTO_LR => None,
            v => Some(
                v.parse()
                    .map_err(|_| format!("lr: '{v}' is not a number (or auto)"))?,
            ),
        };
        let (lambdas, ks) = if self.sweeps_k() {
            let ks = list(&self.ks).map_err(|v| format!("k list: '{v}' is not a whole number"))?;
            if ks.is_empty() {
                return Err("k list: give at least one k, e.g. 16,32,64".into());
            }
            (list(DEFAULT_LAMBDAS).unwrap_or_default(), ks)
        } else {
            let lambdas =
                list(&self.lambdas).map_err(|v| format!("λ list: '{v}' is not a number"))?;
            if lambdas.is_empty() {
                return Err("λ list: give at least one λ, e.g. 1e-3,1e-2".into());
            }
            (lambdas, Vec::new())
        };
        Ok(SweepArgs {
            data: self.set.trim().to_string(),
            lambdas,
            ks,
            prefix: None,
            opts: TrainOpts {
                arch,
                dict: number("dict", &self.dict)?,
                epochs: number("epochs", &self.epochs)?,
                batch: number("batch", &self.batch)?,
                lr,
                ..TrainOpts::parsed_defaults()?
            },
        })
    }
}

/// A comma-separated list, or the item that does not parse.
fn list<T: std::str::FromStr>(text: &str) -> Result<Vec<T>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| v.parse().map_err(|_| v.to_string()))
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Does {
    PreviousField,
    NextField,
    Edit,
    Start,
    PreviousRun,
    NextRun,
    Stop,
    Resume,
}

const KEYS: &[Binding<Does>] = &[
    Binding {
        keys: &[KeyCode::Up, KeyCode::Char('k')],
        does: Does::PreviousField,
        help: "previous / next sweep field",
    },
    Binding {
        keys: &[KeyCode::Down, KeyCode::Char('j')],
        does: Does::NextField,
        help: "",
    },
    Binding {
        keys: &[KeyCode::Char('e'), KeyCode::Enter],
        does: Does::Edit,
        help: "edit the field",
    },
    Binding {
        keys: &[KeyCode::Char('s')],
        does: Does::Start,
        help: "start the sweep (runs headless; survives quitting)",
    },
    Binding {
        keys: &[KeyCode::Char('['), KeyCode::Left, KeyCode::Char('h')],
        does: Does::PreviousRun,
        help: "previous / next run",
    },
    Binding {
        keys: &[KeyCode::Char(']'), KeyCode::Right, KeyCode::Char('l')],
        does: Does::NextRun,
        help: "",
    },
    Binding {
        keys: &[KeyCode::Char('p'), KeyCode::Char('x')],
        does: Does::Stop,
        help: "stop the chosen run (a checkpoint is kept)",
    },
    Binding {
        keys: &[KeyCode::Char('r')],
        does: Does::Resume,
        help: "resume the chosen run",
    },
];

/// The Train tab: the sweep form, each run's progress, live charts of the metrics logs.
#[derive(Debug, Clone, Default)]
pub struct TrainTab {
    pub form: SweepForm,
    /// The form field chosen.
    pub field: usize,
    /// The run chosen in the runs list.
    pub run: usize,
}

impl TabComponent for TrainTab {
    fn id(&self) -> TabId {
        ID
    }

    fn title(&self) -> &'static str {
        "Train"
    }

    fn help(&self) -> Vec<HelpLine> {
        keys::help(KEYS)
    }

    fn on_key(&mut self, key: KeyEvent, lab: &mut Shared) -> Vec<Action> {
        let selected = lab.runs.get(self.run).map(|r| (r.name.clone(), r.status));
        match keys::find(KEYS, &key) {
            Some(Does::PreviousField) => self.field = self.field.saturating_sub(1),
            Some(Does::NextField) => self.field = (self.field + 1).min(SweepForm::FIELDS.len() - 1),
            Some(Does::Edit) => {
                let name = SweepForm::FIELDS[self.field];
                lab.ask(
                    format!("{name}: "),
                    self.form.field(self.field).to_string(),
                    true,
                );
            }
            Some(Does::PreviousRun) => self.run = self.run.saturating_sub(1),
            Some(Does::NextRun) => self.run = (self.run + 1).min(lab.runs.len().saturating_sub(1)),
            Some(Does::Start) => return self.start(lab),
            Some(Does::Stop) => match selected {
                Some((run, Status::Running)) => {
                    lab.message = Some(format!(
                        "stopping {run} (it saves a checkpoint; `r` resumes)"
                    ));
                    return vec![Action::Stop(run)];
                }
                _ => lab.message = Some("the selected run is not training".into()),
            },
            Some(Does::Resume) => match selected {
                Some((run, Status::Interrupted | Status::Diverged)) => {
                    let args = crate::cli::args::ResumeArgs {
                        runs: vec![run],
                        epochs: None,
                    };
                    return vec![Action::StartJob(JobKind::Resume(args))];
                }
                _ => lab.message = Some("only an interrupted run can be resumed".into()),
            },
            None => {}
        }
        Vec::new()
    }

    fn on_typed(&mut self, text: &str, done: bool, lab: &mut Shared) -> Vec<Action> {
        if !done {
            return Vec::new();
        }
        // Checked as it is entered: a bad value is named and the field keeps its last good one.
        let mut candidate = self.form.clone();
        *candidate.field_mut(self.field) = text.to_string();
        match candidate.to_args() {
            Ok(_) => {
                self.form = candidate;
                lab.set = self.form.set.clone();
            }
            Err(why) => lab.message = Some(format!("the sweep form: {why}")),
        }
        Vec::new()
    }

    fn draw(&self, frame: &mut Frame, area: Rect, lab: &Shared, _: &mut dyn Collages) {
        draw(frame, self, lab, area)
    }
}

impl TrainTab {
    fn start(&self, lab: &mut Shared) -> Vec<Action> {
        match self.form.to_args() {
            Ok(args) => {
                lab.message = Some(format!(
                    "starting a sweep on '{}' ({})",
                    self.form.set,
                    self.form.swept()
                ));
                vec![Action::StartJob(JobKind::Sweep(args))]
            }
            Err(why) => {
                lab.message = Some(format!("the sweep form: {why}"));
                Vec::new()
            }
        }
    }
}

fn draw(frame: &mut Frame, tab: &TrainTab, app: &Shared, area: Rect) {
    let [left, right] =
        Layout::horizontal([Constraint::Length(38), Constraint::Min(0)]).areas(area);
    let [form, runs] = Layout::vertical([Constraint::Length(11), Constraint::Min(0)]).areas(left);
    draw_form(frame, tab, app, form);
    draw_runs(frame, tab, app, runs);
    let [top, bottom] = Layout::vertical([Constraint::Percentage(50); 2]).areas(right);
    let [a, b] = Layout::horizontal([Constraint::Percentage(50); 2]).areas(top);
    let [c, d] = Layout::horizontal([Constraint::Percentage(50); 2]).areas(bottom);
    let tracks_dead = app
        .runs
        .iter()
        .any(|r| r.series.iter().any(|row| row.dead_frac.is_some()));
    let mut measures = MEASURES;
    if tracks_dead {
        measures[0] = DEAD;
    }
    for (area, measure) in [a, b, c, d].into_iter().zip(measures) {
        chart(frame, app, area, measure);
    }
}

fn draw_form(frame: &mut Frame, tab: &TrainTab, app: &Shared, area: Rect) {
    let lines: Vec<Line> = SweepForm::FIELDS
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let style = if i == tab.field {
                app.theme.selected()
            } else {
                Style::default()
            };
            Line::from(vec![
                Span::styled(format!("{name:>7} "), app.theme.dimmed()),
                Span::styled(tab.form.field(i).to_string(), style),
            ])
        })
        .chain([Line::from(Span::styled(
            "e edits · s starts the sweep",
            app.theme.dimmed(),
        ))])
        .collect();
    frame.render_widget(Paragraph::new(lines).block(panel(" sweep ")), area);
}

fn draw_runs(frame: &mut Frame, tab: &TrainTab, app: &Shared, area: Rect) {
    let block = panel(" runs ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if app.runs.is_empty() {
        frame.render_widget(
            Paragraph::new("no runs yet: press s").style(app.theme.dimmed()),
            inner,
        );
        return;
    }
    let per = 2u16;
    let shown = (inner.height / per) as usize;
    let first = tab.run.saturating_sub(shown.saturating_sub(1));
    for (slot, (i, run)) in app
        .runs
        .iter()
        .enumerate()
        .skip(first)
        .take(shown)
        .enumerate()
    {
        let y = inner.y + slot as u16 * per;
        let name_style = if i == tab.run {
            app.theme.selected()
        } else {
            Style::default()
        };
        let title = Line::from(vec![
            Span::styled("■ ", Style::default().fg(app.theme.run(i))),
            Span::styled(run.name.clone(), name_style),
            Span::styled(format!("  {}", run.status.name()), app.theme.dimmed()),
        ]);
        frame.render_widget(Paragraph::new(title), Rect::new(inner.x, y, inner.width, 1));
        frame.render_widget(
            Gauge::default()
                .ratio(run.progress())
                .label(gauge_label(run))
                .gauge_style(
                    Style::default()
                        .fg(app.theme.run(i))
                        .bg(app.theme.highlight_bg),
                ),
            Rect::new(inner.x, y + 1, inner.width, 1),
        );
    }
}

fn gauge_label(run: &RunView) -> String {
    let eta = run
        .eta_secs()
        .map(|s| format!(" · ETA {}", clock(s)))
        .unwrap_or_default();
    format!(
        "{}/{} · {:.0} ex/s{eta}",
        run.step,
        run.total_steps,
        run.examples_per_sec()
    )
}

fn clock(secs: f64) -> String {
    let s = secs.round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

fn chart(frame: &mut Frame, app: &Shared, area: Rect, (name, read, label): (&str, Read, Label)) {
    let series: Vec<(usize, Vec<(f64, f64)>)> = app
        .runs
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.series.is_empty())
        .map(|(i, r)| {
            (
                i,
                r.series
                    .iter()
                    .map(|row| (row.step as f64, read(row)))
                    .filter(|p| p.1.is_finite())
                    .collect(),
            )
        })
        .collect();
    let points = series.iter().flat_map(|(_, s)| s.iter());
    let (mut x_max, mut y_min, mut y_max) = (1.0f64, f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in points {
        x_max = x_max.max(x);
        if y.is_finite() {
            y_min = y_min.min(y);
            y_max = y_max.max(y);
        }
    }
    if !y_min.is_finite() {
        (y_min, y_max) = (0.0, 1.0);
    }
    if name == "R²" {
        y_min = y_min.max(R2_FLOOR);
        y_max = y_max.max(y_min);
    }
    if y_max - y_min < 1e-12 {
        y_max = y_min + 1.0;
    }
    let datasets = series
        .iter()
        .map(|(i, s)| {
            Dataset::default()
                .name(app.runs[*i].name.clone())
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::default().fg(app.theme.run(*i)))
                .data(s)
        })
        .collect();
    let label = |v: f64| Span::styled(label(v), app.theme.dimmed());
    frame.render_widget(
        Chart::new(datasets)
            .block(panel(format!(" {name} ")))
            .legend_position(Some(LegendPosition::BottomRight))
            .hidden_legend_constraints((Constraint::Ratio(2, 3), Constraint::Ratio(1, 2)))
            .x_axis(x_axis_from_zero(x_max))
            .y_axis(
                Axis::default()
                    .bounds([y_min, y_max])
                    .labels([label(y_min), label(y_max)]),
            ),
        area,
    );
}
