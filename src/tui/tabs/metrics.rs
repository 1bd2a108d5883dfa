//! Metrics: the study's table for every run, sortable, and the frontier the field plots: FVU
//! against L0, both on log scales, one series per SAE family.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::Span;
use ratatui::widgets::{Axis, Cell, Chart, Dataset, GraphType, Row, Table};
use ratatui::Frame;

use crossterm::event::{KeyCode, KeyEvent};

use super::{lambda, TabComponent};
use crate::engine::sae::Arch;
use crate::tui::action::{Action, TabId};
use crate::tui::data::RunView;
use crate::tui::keys::{self, Binding, HelpLine};
use crate::tui::shared::Shared;
use crate::tui::widgets::{panel, Collages};

pub const ID: TabId = "metrics";

/// The columns the table sorts by.
pub const METRIC_COLUMNS: [&str; 10] = [
    "run", "λ", "L0", "MSE", "L1", "R²", "FVU", "dead", "dense", "gt",
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Does {
    PreviousRun,
    NextRun,
    PreviousColumn,
    NextColumn,
    Reverse,
    Mark,
}

const KEYS: &[Binding<Does>] = &[
    Binding {
        keys: &[KeyCode::Up, KeyCode::Char('k')],
        does: Does::PreviousRun,
        help: "previous / next run",
    },
    Binding {
        keys: &[KeyCode::Down, KeyCode::Char('j')],
        does: Does::NextRun,
        help: "",
    },
    Binding {
        keys: &[KeyCode::Left, KeyCode::Char('h')],
        does: Does::PreviousColumn,
        help: "sort by the column to the left / right",
    },
    Binding {
        keys: &[KeyCode::Right, KeyCode::Char('l')],
        does: Does::NextColumn,
        help: "",
    },
    Binding {
        keys: &[KeyCode::Char('s')],
        does: Does::Reverse,
        help: "reverse the sort",
    },
    Binding {
        keys: &[KeyCode::Char(' ')],
        does: Does::Mark,
        help: "mark the run for the frontier plot (none marked: all)",
    },
];

/// The Metrics tab: the study's table for every run, sortable, and the L0–FVU frontier.
#[derive(Debug, Clone)]
pub struct MetricsTab {
    pub sort_column: usize,
    pub sort_descending: bool,
    /// The row chosen, in the sorted order.
    pub row: usize,
    /// Runs marked for the frontier plot.
    pub compare: Vec<String>,
}

impl Default for MetricsTab {
    fn default() -> Self {
        MetricsTab {
            // By λ: the study's order.
            sort_column: 1,
            sort_descending: false,
            row: 0,
            compare: Vec::new(),
        }
    }
}

impl TabComponent for MetricsTab {
    fn id(&self) -> TabId {
        ID
    }

    fn title(&self) -> &'static str {
        "Metrics"
    }

    fn help(&self) -> Vec<HelpLine> {
        keys::help(KEYS)
    }

    fn on_key(&mut self, key: KeyEvent, lab: &mut Shared) -> Vec<Action> {
        let last_row = lab.runs.len().saturating_sub(1);
        match keys::find(KEYS, &key) {
            Some(Does::PreviousRun) => self.row = self.row.saturating_sub(1),
            Some(Does::NextRun) => self.row = (self.row + 1).min(last_row),
            Some(Does::PreviousColumn) => self.sort_column = self.sort_column.saturating_sub(1),
            Some(Does::NextColumn) => {
                self.sort_column = (self.sort_column + 1).min(METRIC_COLUMNS.len() - 1)
            }
            Some(Does::Reverse) => self.sort_descending = !self.sort_descending,
            Some(Does::Mark) => {
                let chosen = self
                    .sorted_runs(&lab.runs)
                    .get(self.row)
                    .map(|r| r.name.clone());
                if let Some(name) = chosen {
                    match self.compare.iter().position(|c| *c == name) {
                        Some(i) => {
                            self.compare.remove(i);
                        }
                        None => self.compare.push(name),
                    }
                }
            }
            None => {}
        }
        Vec::new()
    }

    fn on_click(&mut self, row: usize, lab: &mut Shared) -> Vec<Action> {
        self.row = row.min(lab.runs.len().saturating_sub(1));
        Vec::new()
    }

    fn draw(&self, frame: &mut Frame, area: Rect, lab: &Shared, _: &mut dyn Collages) {
        draw(frame, self, lab, area)
    }
}

impl MetricsTab {
    /// Runs in the table's order.
    pub fn sorted_runs<'a>(&self, runs: &'a [RunView]) -> Vec<&'a RunView> {
        let mut runs: Vec<&RunView> = runs.iter().collect();
        let key = |r: &RunView| -> f64 {
            let m = r.results.as_ref();
            match self.sort_column {
                1 => r.lambda,
                2 => m.map_or(f64::NAN, |m| m.avg_l0),
                3 => m.map_or(f64::NAN, |m| m.mse),
                4 => m.map_or(f64::NAN, |m| m.l1),
                5 => m.map_or(f64::NAN, |m| m.r2),
                6 => m.map_or(f64::NAN, |m| m.fvu),
                7 => m.map_or(f64::NAN, |m| m.dead_frac),
                8 => m.map_or(f64::NAN, |m| m.dense_frac),
                9 => m.and_then(|m| m.gt_recovery).unwrap_or(f64::NAN),
                _ => 0.0,
            }
        };
        if self.sort_column == 0 {
            runs.sort_by(|a, b| a.name.cmp(&b.name));
        } else {
            runs.sort_by(|a, b| key(a).total_cmp(&key(b)));
        }
        if self.sort_descending {
            runs.reverse();
        }
        runs
    }
}

fn cells(r: &RunView) -> Vec<String> {
    let m = r.results.as_ref();
    let f = |v: Option<f64>, p: usize| v.map_or("–".into(), |v| format!("{v:.p$}"));
    // Short enough that the table keeps every digit at 80 columns.
    let e = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:.2e}"));
    vec![
        r.name.clone(),
        r.k.map_or_else(|| lambda(r.lambda), |k| format!("k{k}")),
        f(m.map(|m| m.avg_l0), 1),
        e(m.map(|m| m.mse)),
        f(m.map(|m| m.l1), 3),
        f(m.map(|m| m.r2), 4),
        f(m.map(|m| m.fvu), 4),
        f(m.map(|m| m.dead_frac), 3),
        f(m.map(|m| m.dense_frac), 3),
        f(m.and_then(|m| m.gt_recovery), 3),
    ]
}

fn draw(frame: &mut Frame, tab: &MetricsTab, app: &Shared, area: Rect) {
    let [table, plot] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    let runs = tab.sorted_runs(&app.runs);
    let header = Row::new(METRIC_COLUMNS.iter().enumerate().map(|(i, c)| {
        let arrow = match (i == tab.sort_column, tab.sort_descending) {
            (true, false) => "↑",
            (true, true) => "↓",
            _ => "",
        };
        Cell::from(format!("{c}{arrow}")).style(app.theme.title())
    }));
    let rows = runs.iter().enumerate().map(|(i, r)| {
        let colour = app.runs.iter().position(|x| x.name == r.name).unwrap_or(0);
        let marked = if tab.compare.contains(&r.name) {
            "● "
        } else {
            ""
        };
        let mut cells = cells(r);
        cells[0] = format!("{marked}{}", cells[0]);
        let style = if i == tab.row {
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
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(8),
        Constraint::Length(7),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Length(5),
    ];
    frame.render_widget(
        Table::new(rows, widths)
            .header(header)
            .block(panel(" runs ")),
        table,
    );
    frontier(frame, tab, app, plot);
}

/// log10 of FVU against log10 of L0, a series per family; lower and further left is better.
fn frontier(frame: &mut Frame, tab: &MetricsTab, app: &Shared, area: Rect) {
    let shown = app
        .runs
        .iter()
        .filter(|r| tab.compare.is_empty() || tab.compare.contains(&r.name));
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
