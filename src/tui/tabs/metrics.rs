//! Metrics: the study's table for every run, sortable, and the L0-against-R² trade-off.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::Span;
use ratatui::widgets::{Axis, Cell, Chart, Dataset, GraphType, Row, Table};
use ratatui::Frame;

use super::lambda;
use crate::tui::app::{App, METRIC_COLUMNS};
use crate::tui::data::RunView;
use crate::tui::view::{panel, x_axis_from_zero};

pub const KEYS: &[(&str, &str)] = &[
    ("↑/↓ j/k", "choose a run"),
    ("←/→ h/l", "choose the sort column"),
    ("s", "reverse the sort"),
    (
        "space",
        "mark the run for the trade-off plot (none marked: all)",
    ),
];

fn cells(r: &RunView) -> Vec<String> {
    let m = r.results.as_ref();
    let f = |v: Option<f64>, p: usize| v.map_or("–".into(), |v| format!("{v:.p$}"));
    let e = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:.3e}"));
    vec![
        r.name.clone(),
        lambda(r.lambda),
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
    trade_off(frame, app, plot);
}

fn trade_off(frame: &mut Frame, app: &App, area: Rect) {
    let points: Vec<(usize, [(f64, f64); 1])> = app
        .runs
        .iter()
        .enumerate()
        .filter(|(_, r)| app.compare.is_empty() || app.compare.contains(&r.name))
        .filter_map(|(i, r)| r.results.as_ref().map(|m| (i, [(m.avg_l0, m.r2)])))
        .collect();
    let (mut x_max, mut y_min) = (1.0f64, 1.0f64);
    for (_, [(x, y)]) in &points {
        x_max = x_max.max(*x * 1.1);
        y_min = y_min.min(*y - 0.01);
    }
    let datasets = points
        .iter()
        .map(|(i, p)| {
            Dataset::default()
                .name(app.runs[*i].name.clone())
                .marker(Marker::Dot)
                .graph_type(GraphType::Scatter)
                .style(Style::default().fg(app.theme.run(*i)))
                .data(p)
        })
        .collect();
    frame.render_widget(
        Chart::new(datasets)
            .block(panel(" trade-off: L0 (x) against R² (y) "))
            .x_axis(x_axis_from_zero(x_max))
            .y_axis(
                Axis::default()
                    .bounds([y_min, 1.0])
                    .labels([Span::raw(format!("{y_min:.3}")), Span::raw("1.000")]),
            ),
        area,
    );
}
