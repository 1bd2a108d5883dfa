//! Zero-shot: CLIP alone against each run's SAE, per task, with bars and the classes that lost.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Cell, Paragraph, Row, Table};
use ratatui::Frame;

use crossterm::event::{KeyCode, KeyEvent};

use super::{lambda, TabComponent};
use crate::cli::args::ZeroshotArgs;
use crate::protocol::JobKind;
use crate::tui::action::{Action, TabId};
use crate::tui::keys::{self, Binding, HelpLine};
use crate::tui::shared::Shared;
use crate::tui::widgets::{panel, Collages};

pub const ID: TabId = "zeroshot";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Does {
    PreviousTask,
    NextTask,
    PreviousRun,
    NextRun,
    Rescore,
    Demo10,
    Demo100,
}

const KEYS: &[Binding<Does>] = &[
    Binding {
        keys: &[KeyCode::Left, KeyCode::Char('h')],
        does: Does::PreviousTask,
        help: "previous / next task",
    },
    Binding {
        keys: &[KeyCode::Right, KeyCode::Char('l')],
        does: Does::NextTask,
        help: "",
    },
    Binding {
        keys: &[KeyCode::Up, KeyCode::Char('k')],
        does: Does::PreviousRun,
        help: "previous / next run (its biggest losses show below)",
    },
    Binding {
        keys: &[KeyCode::Down, KeyCode::Char('j')],
        does: Does::NextRun,
        help: "",
    },
    Binding {
        keys: &[KeyCode::Char('e')],
        does: Does::Rescore,
        help: "score the task again for every finished run",
    },
    Binding {
        keys: &[KeyCode::Char('d')],
        does: Does::Demo10,
        help: "score demo10",
    },
    Binding {
        keys: &[KeyCode::Char('D')],
        does: Does::Demo100,
        help: "score demo100",
    },
];

/// The Zero-shot tab: CLIP alone against each run's SAE, per task, and the classes that lost.
#[derive(Debug, Clone, Default)]
pub struct ZeroshotTab {
    /// The task shown.
    pub task: usize,
    /// The run whose losses are listed.
    pub run: usize,
}

impl TabComponent for ZeroshotTab {
    fn id(&self) -> TabId {
        ID
    }

    fn title(&self) -> &'static str {
        "Zero-shot"
    }

    fn help(&self) -> Vec<HelpLine> {
        keys::help(KEYS)
    }

    fn on_key(&mut self, key: KeyEvent, lab: &mut Shared) -> Vec<Action> {
        let runs = lab.tasks.get(self.task).map_or(0, |t| t.runs.len());
        let score = match keys::find(KEYS, &key) {
            Some(Does::PreviousTask) => {
                self.task = self.task.saturating_sub(1);
                None
            }
            Some(Does::NextTask) => {
                self.task = (self.task + 1).min(lab.tasks.len().saturating_sub(1));
                None
            }
            Some(Does::PreviousRun) => {
                self.run = self.run.saturating_sub(1);
                None
            }
            Some(Does::NextRun) => {
                self.run = (self.run + 1).min(runs.saturating_sub(1));
                None
            }
            Some(Does::Rescore) => Some(
                lab.tasks
                    .get(self.task)
                    .map_or(DEMO10.to_string(), |t| t.task.clone()),
            ),
            Some(Does::Demo10) => Some(DEMO10.to_string()),
            Some(Does::Demo100) => Some(DEMO100.to_string()),
            None => None,
        };
        match score {
            Some(task) => {
                lab.message = Some(format!("scoring {task}…"));
                vec![Action::StartJob(JobKind::Zeroshot(ZeroshotArgs::task(
                    &task,
                )))]
            }
            None => Vec::new(),
        }
    }

    fn draw(&self, frame: &mut Frame, area: Rect, lab: &Shared, _: &mut dyn Collages) {
        draw(frame, self, lab, area)
    }
}

/// The demo world's tasks, scored with one key each.
const DEMO10: &str = "demo10";
const DEMO100: &str = "demo100";

fn draw(frame: &mut Frame, tab: &ZeroshotTab, app: &Shared, area: Rect) {
    let Some(task) = app
        .tasks
        .get(tab.task.min(app.tasks.len().saturating_sub(1)))
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
        let style = if i == tab.run {
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
    let losses: Vec<Line> = match task.runs.get(tab.run) {
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
        Some(_) => vec![Line::from(Span::styled(
            "no class lost accuracy",
            app.theme.dimmed(),
        ))],
        None => vec![Line::from(Span::styled(
            "no finished run scored yet: train one on the Train tab, then press e here",
            app.theme.dimmed(),
        ))],
    };
    let title = task.runs.get(tab.run).map_or(" classes ".to_string(), |r| {
        format!(" classes {} lost most ", r.run)
    });
    frame.render_widget(Paragraph::new(losses).block(panel(title)), bottom);
}
