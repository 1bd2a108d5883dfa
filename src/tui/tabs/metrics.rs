//! Metrics: the study's table for every run, sortable, and the frontier the field plots: FVU
//! against L0, both on log scales, one series per SAE family.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::Span;
use ratatui::widgets::{Axis, Cell, Chart, Dataset, GraphType, Row, Table};
use ratatui::Frame;

use super::lambda;
use crate::engine::sae::Arch;
use crate::tui::app::{App, METRIC_COLUMNS};
use crate::tui::data::RunView;
use crate::tui::view::panel;

pub const KEYS: &[(&str, &str)] = &[
    ("↑/↓ j/k", "choose a run"),
    ("←/→ h/l", "choose the sort column"),
    ("s", "reverse the sort"),
    (
        "space",
        "mark the run for the frontier plot (none marked: all)",
    ),
];

fn cells(r: &RunView) -> Vec<String> {
    let m = r.results.as_ref();
    let f = |v: Option<f64>, p: usize| v.map_or("–".into(), |v| format!("{v:.p$}"));
    let e = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:.3e}"));
    vec![
        r.name.clone(),
        r.k.map_or_else(|| lambda(r.lambda), |k| format!("k{k}")),
        f(m.map(|m| m.avg_l0), 1),
        e(m.map(|m| m.mse)),
        e(m.map(|m| m.l1)),
        f(m.map(|m| m.r2), 4),
        f(m.map(|m| m.fvu), 4),
        f(m.map(|m| m.dead_frac), 3),
        f(m.map(|m| m.dense_frac), 3),
        f(m.and_then(|m| m.gt_recovery), 3),
    ]
}

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let [table, plot] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    let runs = app.sorted_runs();
    let header = Row::new(METRIC_COLUMNS.iter().enumerate().map(|(i, c)| {
        let arrow = match (i == app.sort_column, app.sort_descending) {
            (true, false) => "↑",
            (true, true) => "↓",
            _ => "",
        };
        Cell::from(format!("{c}{arrow}")).style(app.theme.title())
    }));
    let rows = runs.iter().enumerate().map(|(i, r)| {
        let colour = app.runs.iter().position(|x| x.name == r.name).unwrap_or(0);
        let marked = if app.compare.contains(&r.name) {
            "● "
        } else {
            ""
        };
        let mut cells = cells(r);
        cells[0] = format!("{marked}{}", cells[0]);
        let style = if i == app.metrics_row {
            app.theme.selected()
        } else {
            Style::default()
        };
        Row::new(cells.into_iter().enumerate().map(move |(c, v)| {
            let cell = Cell::from(v);
            if c == 0 {
                cell.style(Style::default().fg(app.theme.run(colour)))
            } else {
                cell
            }
        }))
        .style(style)
    });
    let widths = [
        Constraint::Min(14),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(10),
        Constraint::Length(10),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(6),
    ];
    frame.render_widget(
        Table::new(rows, widths)
            .header(header)
            .block(panel(" runs ")),
        table,
    );
    frontier(frame, app, plot);
}

/// log10 of FVU against log10 of L0, a series per family; lower and further left is better.
fn frontier(frame: &mut Frame, app: &App, area: Rect) {
    let shown = app
        .runs
        .iter()
        .filter(|r| app.compare.is_empty() || app.compare.contains(&r.name));
    let mut series: Vec<(Arch, Vec<(f64, f64)>)> = Vec::new();
    for r in shown {
        let Some(m) = &r.results else { continue };
        if !(m.avg_l0 > 0.0 && m.fvu > 0.0) {
            continue;
        }
        let point = (m.avg_l0.log10(), m.fvu.log10());
        match series.iter_mut().find(|(a, _)| *a == r.arch) {
            Some((_, points)) => points.push(point),
            None => series.push((r.arch, vec![point])),
        }
    }
    let all = series.iter().flat_map(|(_, p)| p);
    let (mut x, mut y) = (
        [f64::INFINITY, f64::NEG_INFINITY],
        [f64::INFINITY, f64::NEG_INFINITY],
    );
    for &(px, py) in all {
        x = [x[0].min(px), x[1].max(px)];
        y = [y[0].min(py), y[1].max(py)];
    }
    // Whole decades, at least one.
    let pad = |[lo, hi]: [f64; 2]| {
        if lo.is_finite() {
            [lo.floor(), hi.ceil().max(lo.floor() + 1.0)]
        } else {
            [0.0, 1.0]
        }
    };
    let (x, y) = (pad(x), pad(y));
    for (_, points) in &mut series {
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let datasets = series
        .iter()
        .map(|(arch, p)| {
            let colour = Arch::ALL.iter().position(|a| a == arch).unwrap_or(0);
            Dataset::default()
                .name(arch.name())
                .marker(if p.len() > 1 {
                    Marker::Braille
                } else {
                    Marker::Dot
                })
                .graph_type(if p.len() > 1 {
                    GraphType::Line
                } else {
                    GraphType::Scatter
                })
                .style(Style::default().fg(app.theme.run(colour)))
                .data(p)
        })
        .collect();
    let power = |v: f64| Span::raw(format!("{:.0e}", 10f64.powf(v)));
    frame.render_widget(
        Chart::new(datasets)
            .block(panel(" frontier: L0 (x, log) against FVU (y, log) "))
            .hidden_legend_constraints((Constraint::Ratio(1, 3), Constraint::Ratio(2, 3)))
            .x_axis(Axis::default().bounds(x).labels([power(x[0]), power(x[1])]))
            .y_axis(Axis::default().bounds(y).labels([power(y[0]), power(y[1])])),
        area,
    );
}
