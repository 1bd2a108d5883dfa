//! Zero-shot: CLIP alone against each run's SAE, per task, with bars and the classes that lost.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Cell, Paragraph, Row, Table};
use ratatui::Frame;

use super::lambda;
use crate::tui::app::App;
use crate::tui::view::panel;

pub const KEYS: &[(&str, &str)] = &[
    ("←/→ h/l", "choose a task"),
    ("↑/↓ j/k", "choose a run (its biggest losses show below)"),
    ("e", "score the task again for every finished run"),
    ("d / D", "score demo10 / demo100"),
];

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let Some(task) = app
        .tasks
        .get(app.task.min(app.tasks.len().saturating_sub(1)))
    else {
        let text = "No zero-shot results yet. Press d to score demo10 (or D for demo100) for every finished run.";
        frame.render_widget(Paragraph::new(text).block(panel(" zero-shot ")), area);
        return;
    };
    let names: Vec<Span> = app
        .tasks
        .iter()
        .map(|t| {
            let style = if t.task == task.task {
                app.theme.selected()
            } else {
                app.theme.dimmed()
            };
            Span::styled(format!(" {} ", t.task), style)
        })
        .collect();
    let [tabs, top, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Percentage(55),
        Constraint::Min(0),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(Line::from(names)), tabs);
    let [table, bars] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(top);
    let mut rows = vec![Row::new(vec![
        Cell::from("CLIP alone"),
        Cell::from("–"),
        Cell::from(format!("{:.4}", task.baseline.0)),
        Cell::from(format!("{:.4}", task.baseline.1)),
        Cell::from(""),
    ])];
    for (i, r) in task.runs.iter().enumerate() {
        let colour = app.runs.iter().position(|x| x.name == r.run).unwrap_or(i);
        let style = if i == app.task_run {
            app.theme.selected()
        } else {
            Style::default()
        };
        rows.push(
            Row::new(vec![
                Cell::from(r.run.clone()).style(Style::default().fg(app.theme.run(colour))),
                Cell::from(lambda(r.lambda)),
                Cell::from(format!("{:.4}", r.top1)),
                Cell::from(format!("{:.4}", r.top5)),
                Cell::from(format!("{:.4}", r.control_top1)),
            ])
            .style(style),
        );
    }
    let header = Row::new(["", "λ", "top-1", "top-5", "control"]).style(app.theme.title());
    frame.render_widget(
        Table::new(
            rows,
            [
                Constraint::Min(14),
                Constraint::Length(7),
                Constraint::Length(8),
                Constraint::Length(8),
                Constraint::Length(8),
            ],
        )
        .header(header)
        .block(panel(format!(" {} ", task.task))),
        table,
    );
    let mut all = vec![Bar::default()
        .label(Line::from("CLIP"))
        .value((task.baseline.0 * 1000.0) as u64)
        .text_value(format!("{:.3}", task.baseline.0))
        .style(Style::default().fg(app.theme.accent))];
    for (i, r) in task.runs.iter().enumerate() {
        let colour = app.runs.iter().position(|x| x.name == r.run).unwrap_or(i);
        all.push(
            Bar::default()
                .label(Line::from(lambda(r.lambda)))
                .value((r.top1 * 1000.0) as u64)
                .text_value(format!("{:.3}", r.top1))
                .style(Style::default().fg(app.theme.run(colour))),
        );
    }
    frame.render_widget(
        BarChart::default()
            .block(panel(" top-1 "))
            .data(BarGroup::default().bars(&all))
            .bar_width(7)
            .bar_gap(1)
            .max(1000),
        bars,
    );
    let losses: Vec<Line> = match task.runs.get(app.task_run) {
        Some(r) if !r.losses.is_empty() => r
            .losses
            .iter()
            .map(|(c, b, a)| {
                Line::from(vec![
                    Span::raw(format!("{c:<24}")),
                    Span::raw(format!("{b:.3} → ")),
                    Span::styled(
                        format!("{a:.3}"),
                        Style::default().fg(if a < b { app.theme.bad } else { app.theme.good }),
                    ),
                ])
            })
            .collect(),
        _ => vec![Line::from(Span::styled(
            "no class lost accuracy",
            app.theme.dimmed(),
        ))],
    };
    let title = task
        .runs
        .get(app.task_run)
        .map_or(" classes ".to_string(), |r| {
            format!(" classes {} lost most ", r.run)
        });
    frame.render_widget(Paragraph::new(losses).block(panel(title)), bottom);
}
