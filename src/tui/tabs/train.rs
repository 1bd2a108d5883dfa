//! Train: the sweep form, each run's progress, and live charts of its metrics log.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, Gauge, GraphType, Paragraph};
use ratatui::Frame;

use crate::engine::run::MetricsRow;
use crate::tui::app::{App, SweepForm};
use crate::tui::data::RunView;
use crate::tui::view::{panel, x_axis_from_zero};

pub const KEYS: &[(&str, &str)] = &[
    ("↑/↓ j/k", "choose a sweep field"),
    ("e Enter", "edit the field"),
    ("s", "start the sweep (runs headless; survives quitting)"),
    ("[/] ←/→", "choose a run"),
    ("p x", "stop the chosen run (a checkpoint is kept)"),
    ("r", "resume the chosen run"),
];

pub fn field_name(app: &App) -> &'static str {
    SweepForm::FIELDS[app.field]
}

/// Reads one measure from a log row (NaN where the row lacks it).
type Read = fn(&MetricsRow) -> f64;
/// Writes an axis label.
type Label = fn(f64) -> String;

/// The charted measures: name, how to read it from a log row, how to label its axis. The
/// study's four: L0, MSE and R², with the loss they trade off in.
const MEASURES: [(&str, Read, Label); 4] = [
    ("loss", |r| r.loss, |v| format!("{v:.3e}")),
    ("L0", |r| r.avg_l0, |v| format!("{v:.1}")),
    ("MSE", |r| r.mse, |v| format!("{v:.3e}")),
    ("R²", |r| r.r2.unwrap_or(f64::NAN), |v| format!("{v:.4}")),
];

/// In place of the loss once any run tracks dead latents (TopK family, JumpReLU): the losses
/// of different families are not comparable, their dead fractions are.
const DEAD: (&str, Read, Label) = (
    "dead",
    |r| r.dead_frac.map_or(f64::NAN, |f| 100.0 * f),
    |v| format!("{v:.1}%"),
);

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let [left, right] =
        Layout::horizontal([Constraint::Length(38), Constraint::Min(0)]).areas(area);
    let [form, runs] = Layout::vertical([Constraint::Length(11), Constraint::Min(0)]).areas(left);
    draw_form(frame, app, form);
    draw_runs(frame, app, runs);
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

fn draw_form(frame: &mut Frame, app: &App, area: Rect) {
    let lines: Vec<Line> = SweepForm::FIELDS
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let style = if i == app.field {
                app.theme.selected()
            } else {
                Style::default()
            };
            Line::from(vec![
                Span::styled(format!("{name:>7} "), app.theme.dimmed()),
                Span::styled(app.form.field(i).to_string(), style),
            ])
        })
        .chain([Line::from(Span::styled(
            "e edits · s starts the sweep",
            app.theme.dimmed(),
        ))])
        .collect();
    frame.render_widget(Paragraph::new(lines).block(panel(" sweep ")), area);
}

fn draw_runs(frame: &mut Frame, app: &App, area: Rect) {
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
    let first = app.train_run.saturating_sub(shown.saturating_sub(1));
    for (slot, (i, run)) in app
        .runs
        .iter()
        .enumerate()
        .skip(first)
        .take(shown)
        .enumerate()
    {
        let y = inner.y + slot as u16 * per;
        let name_style = if i == app.train_run {
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

fn chart(frame: &mut Frame, app: &App, area: Rect, (name, read, label): (&str, Read, Label)) {
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
    if y_max - y_min < 1e-12 {
        y_max = y_min + 1.0;
    }
    let datasets = series
        .iter()
        .map(|(i, s)| {
            Dataset::default()
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
            .x_axis(x_axis_from_zero(x_max))
            .y_axis(
                Axis::default()
                    .bounds([y_min, y_max])
                    .labels([label(y_min), label(y_max)]),
            ),
        area,
    );
}
