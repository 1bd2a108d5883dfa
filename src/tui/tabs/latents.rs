//! Latents: the list (sortable, searchable) and the chosen latent's collage, label and
//! activation histogram.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Sparkline, Table, TableState, Wrap};
use ratatui::Frame;

use std::cell::Cell as Remembered;

use crossterm::event::{KeyCode, KeyEvent};

use super::TabComponent;
use crate::tui::action::{Action, TabId};
use crate::tui::data::LatentRow;
use crate::tui::keys::{self, Binding, HelpLine};
use crate::tui::shared::Shared;
use crate::tui::widgets::{panel, Collages, Picture};

pub const ID: TabId = "latents";

/// Rows a PgUp or PgDn moves.
const PAGE: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatentSort {
    Frequency,
    MaxActivation,
    Confidence,
    Id,
}

impl LatentSort {
    fn next(self) -> Self {
        match self {
            LatentSort::Frequency => LatentSort::MaxActivation,
            LatentSort::MaxActivation => LatentSort::Confidence,
            LatentSort::Confidence => LatentSort::Id,
            LatentSort::Id => LatentSort::Frequency,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            LatentSort::Frequency => "frequency",
            LatentSort::MaxActivation => "max activation",
            LatentSort::Confidence => "confidence",
            LatentSort::Id => "id",
        }
    }
}

/// What the line being typed is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Typed {
    Search,
    Jump,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Does {
    Up,
    Down,
    PageUp,
    PageDown,
    First,
    Last,
    Sort,
    Search,
    Jump,
    PreviousRun,
    NextRun,
    Steer,
    ClearSearch,
}

const KEYS: &[Binding<Does>] = &[
    Binding {
        keys: &[KeyCode::Up, KeyCode::Char('k')],
        does: Does::Up,
        help: "previous / next latent",
    },
    Binding {
        keys: &[KeyCode::Down, KeyCode::Char('j')],
        does: Does::Down,
        help: "",
    },
    Binding {
        keys: &[KeyCode::PageUp],
        does: Does::PageUp,
        help: "ten latents up / down",
    },
    Binding {
        keys: &[KeyCode::PageDown],
        does: Does::PageDown,
        help: "",
    },
    Binding {
        keys: &[KeyCode::Home, KeyCode::Char('g')],
        does: Does::First,
        help: "first / last latent",
    },
    Binding {
        keys: &[KeyCode::End, KeyCode::Char('G')],
        does: Does::Last,
        help: "",
    },
    Binding {
        keys: &[KeyCode::Char('o')],
        does: Does::Sort,
        help: "sort by frequency, max activation, confidence or id",
    },
    Binding {
        keys: &[KeyCode::Char('/')],
        does: Does::Search,
        help: "search the labels",
    },
    Binding {
        keys: &[KeyCode::Char('#'), KeyCode::Char(':')],
        does: Does::Jump,
        help: "jump to a latent id",
    },
    Binding {
        keys: &[KeyCode::Char('[')],
        does: Does::PreviousRun,
        help: "explore the previous / next finished run",
    },
    Binding {
        keys: &[KeyCode::Char(']')],
        does: Does::NextRun,
        help: "",
    },
    Binding {
        keys: &[KeyCode::Char('t'), KeyCode::Enter],
        does: Does::Steer,
        help: "steer with this latent",
    },
    Binding {
        keys: &[KeyCode::Esc],
        does: Does::ClearSearch,
        help: "clear the search",
    },
];

/// The Latents tab: the explored run's latents (sortable, searchable) and the chosen one's
/// collage, label and activation histogram.
#[derive(Debug, Clone)]
pub struct LatentsTab {
    pub sort: LatentSort,
    pub query: String,
    /// The row chosen, in the shown order.
    pub row: usize,
    /// The first row the last frame showed (the table scrolls to keep the selection in view),
    /// so a click maps to the row under the pointer.
    pub offset: Remembered<usize>,
    typed: Typed,
}

impl Default for LatentsTab {
    fn default() -> Self {
        LatentsTab {
            sort: LatentSort::Frequency,
            query: String::new(),
            row: 0,
            offset: Remembered::new(0),
            typed: Typed::Search,
        }
    }
}

impl TabComponent for LatentsTab {
    fn id(&self) -> TabId {
        ID
    }

    fn title(&self) -> &'static str {
        "Latents"
    }

    fn help(&self) -> Vec<HelpLine> {
        keys::help(KEYS)
    }

    fn on_key(&mut self, key: KeyEvent, lab: &mut Shared) -> Vec<Action> {
        let last = self.rows(lab).len().saturating_sub(1);
        match keys::find(KEYS, &key) {
            Some(Does::Up) => self.row = self.row.saturating_sub(1),
            Some(Does::Down) => self.row = (self.row + 1).min(last),
            Some(Does::PageUp) => self.row = self.row.saturating_sub(PAGE),
            Some(Does::PageDown) => self.row = (self.row + PAGE).min(last),
            Some(Does::First) => self.row = 0,
            Some(Does::Last) => self.row = last,
            Some(Does::Sort) => {
                self.sort = self.sort.next();
                self.row = 0;
            }
            Some(Does::Search) => {
                self.typed = Typed::Search;
                lab.ask("/", self.query.clone(), true);
                return Vec::new();
            }
            Some(Does::Jump) => {
                self.typed = Typed::Jump;
                lab.ask("latent id: ", String::new(), false);
                return Vec::new();
            }
            Some(step @ (Does::PreviousRun | Does::NextRun)) => {
                let done = lab.done_runs().len();
                lab.explored = if step == Does::PreviousRun {
                    lab.explored.saturating_sub(1)
                } else {
                    (lab.explored + 1).min(done.saturating_sub(1))
                };
                self.row = 0;
                return self.on_focus(lab);
            }
            Some(Does::Steer) => {
                return self
                    .selected(lab)
                    .map(Action::SteerWith)
                    .into_iter()
                    .collect();
            }
            Some(Does::ClearSearch) => self.query.clear(),
            None => return Vec::new(),
        }
        self.collage(lab)
    }

    fn on_typed(&mut self, text: &str, done: bool, lab: &mut Shared) -> Vec<Action> {
        match (self.typed, done) {
            (Typed::Search, false) => {
                self.query = text.to_string();
                self.row = 0;
                Vec::new()
            }
            (Typed::Search, true) => {
                self.query = text.to_string();
                self.collage(lab)
            }
            (Typed::Jump, false) => Vec::new(),
            (Typed::Jump, true) => match text.trim().parse::<usize>() {
                Ok(id) => {
                    self.query.clear();
                    self.sort = LatentSort::Id;
                    self.row = id;
                    self.collage(lab)
                }
                Err(_) => {
                    lab.message = Some(format!("'{text}' is not a latent id"));
                    Vec::new()
                }
            },
        }
    }

    fn on_click(&mut self, row: usize, lab: &mut Shared) -> Vec<Action> {
        let row = row + self.offset.get();
        self.row = row.min(self.rows(lab).len().saturating_sub(1));
        self.collage(lab)
    }

    fn on_focus(&mut self, lab: &mut Shared) -> Vec<Action> {
        match lab.ensure_latents() {
            Some(load) => vec![load],
            None => self.collage(lab),
        }
    }

    fn on_action(&mut self, action: &Action, lab: &mut Shared) -> Vec<Action> {
        let Action::ShowLatent(j) = action else {
            return Vec::new();
        };
        // Every latent, in id order: latent j is row j.
        self.query.clear();
        self.sort = LatentSort::Id;
        self.row = *j;
        let mut actions = vec![Action::Focus(ID)];
        actions.extend(self.collage(lab));
        actions
    }

    fn draw(&self, frame: &mut Frame, area: Rect, lab: &Shared, pictures: &mut dyn Collages) {
        draw(frame, self, lab, area, pictures)
    }
}

impl LatentsTab {
    /// Latent rows in the chosen order, filtered by the search.
    pub fn rows<'a>(&self, lab: &'a Shared) -> Vec<&'a LatentRow> {
        let Some(view) = &lab.latents else {
            return Vec::new();
        };
        let q = self.query.to_lowercase();
        let mut rows: Vec<_> = view
            .rows
            .iter()
            .filter(|r| {
                q.is_empty()
                    || r.description.to_lowercase().contains(&q)
                    || r.top_words.iter().any(|w| w.to_lowercase().contains(&q))
            })
            .collect();
        match self.sort {
            LatentSort::Frequency => rows.sort_by(|a, b| b.frequency.total_cmp(&a.frequency)),
            LatentSort::MaxActivation => {
                rows.sort_by(|a, b| b.max_activation.total_cmp(&a.max_activation))
            }
            LatentSort::Confidence => rows.sort_by(|a, b| b.confidence.total_cmp(&a.confidence)),
            LatentSort::Id => rows.sort_by_key(|r| r.id),
        }
        rows
    }

    /// The chosen latent's id.
    pub fn selected(&self, lab: &Shared) -> Option<usize> {
        let rows = self.rows(lab);
        rows.get(self.row.min(rows.len().saturating_sub(1)))
            .map(|r| r.id)
    }

    /// Asks for the chosen latent's collage.
    fn collage(&self, lab: &Shared) -> Vec<Action> {
        match (lab.latents.as_ref(), self.selected(lab)) {
            (Some(view), Some(latent)) => vec![Action::LoadCollage {
                run: view.run.clone(),
                latent,
            }],
            _ => Vec::new(),
        }
    }
}

fn draw(
    frame: &mut Frame,
    tab: &LatentsTab,
    app: &Shared,
    area: Rect,
    pictures: &mut dyn Collages,
) {
    let run = app.explored_run().map(|r| r.name.clone());
    let Some(view) = app.latents.as_ref() else {
        let text = match run {
            None => {
                "No finished run yet: train one on the Train tab (s), then come back.".to_string()
            }
            Some(r) => format!("Building the latent index and labels of {r}…"),
        };
        frame.render_widget(Paragraph::new(text).block(panel(" latents ")), area);
        return;
    };
    let [list, detail] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(area);
    let rows = tab.rows(app);
    let selected = tab.row.min(rows.len().saturating_sub(1));
    let table_rows = rows.iter().map(|r| {
        Row::new(vec![
            Cell::from(format!("{:>4}", r.id)),
            Cell::from(format!("{:.3}", r.frequency)),
            Cell::from(format!("{:.2}", r.max_activation)),
            Cell::from(format!("{:.1}", r.confidence)),
            Cell::from(
                r.top_words
                    .first()
                    .cloned()
                    .unwrap_or_else(|| r.category.name().into()),
            ),
        ])
    });
    let title = format!(
        " {} · {} latents · by {}{} ",
        view.run,
        rows.len(),
        tab.sort.name(),
        if tab.query.is_empty() {
            String::new()
        } else {
            format!(" · /{}", tab.query)
        }
    );
    let mut state = TableState::default()
        .with_offset(tab.offset.get())
        .with_selected(Some(selected));
    frame.render_stateful_widget(
        Table::new(
            table_rows,
            [
                Constraint::Length(5),
                Constraint::Length(6),
                Constraint::Length(6),
                Constraint::Length(5),
                Constraint::Min(8),
            ],
        )
        .header(Row::new(["id", "freq", "max", "conf", "label"]).style(app.theme.title()))
        .row_highlight_style(app.theme.selected())
        .block(panel(title)),
        list,
        &mut state,
    );
    tab.offset.set(state.offset());
    let Some(row) = rows.get(selected) else {
        frame.render_widget(
            Paragraph::new("no latent matches").block(Block::default().borders(Borders::ALL)),
            detail,
        );
        return;
    };
    let [picture, label, hist] = Layout::vertical([
        Constraint::Percentage(60),
        Constraint::Min(4),
        Constraint::Length(5),
    ])
    .areas(detail);
    let block = panel(format!(" latent {} ", row.id));
    let inner = block.inner(picture);
    frame.render_widget(block, picture);
    let placeholder = match pictures.collage(frame, inner, &view.run, row.id) {
        Picture::Drawn => None,
        Picture::Pending => Some("drawing the collage…".to_string()),
        Picture::Failed(why) => Some(format!("no collage: {why}")),
    };
    if let Some(text) = placeholder {
        frame.render_widget(
            Paragraph::new(text)
                .wrap(Wrap { trim: true })
                .style(app.theme.dimmed()),
            inner,
        );
    }
    let mut text = vec![
        Line::from(vec![
            Span::styled(
                format!("{} ", row.category.name()),
                Style::default().fg(app.theme.accent),
            ),
            Span::styled(
                format!("confidence {:.1}", row.confidence),
                app.theme.dimmed(),
            ),
        ]),
        Line::from(row.description.clone()),
        Line::from(Span::styled(
            format!("top words: {}", row.top_words.join(", ")),
            app.theme.dimmed(),
        )),
    ];
    if let Some(caption) = &row.caption {
        text.push(Line::from(vec![
            Span::styled("BLIP captions: ", app.theme.dimmed()),
            Span::raw(caption.clone()),
        ]));
    }
    frame.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: true })
            .block(panel(" label ")),
        label,
    );
    frame.render_widget(
        Sparkline::default()
            .data(&row.histogram)
            .style(Style::default().fg(app.theme.accent))
            .block(panel(format!(
                " activations (log₂ bins) · fires on {:.1}% ",
                row.frequency * 100.0
            ))),
        hist,
    );
}
