//! Explain: an image, a text or a class of the explored run's set in terms of its latents, the
//! chosen latent's collage beside the list. `t` steers with the latent, Enter opens it in
//! Latents.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;

use super::TabComponent;
use crate::engine::steer::ImageRef;
use crate::tui::action::{Action, Notice, TabId};
use crate::tui::data::{ExplainQuery, ExplainRequest, ExplainView};
use crate::tui::keys::{self, Binding, HelpLine};
use crate::tui::shared::Shared;
use crate::tui::widgets::{panel, Collages, Picture};

pub const ID: TabId = "explain";

/// Rows above the list: the modes, then the explanation's totals, wrapped.
const HEAD: u16 = 5;

/// What is explained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Image,
    Text,
    Class,
}

impl Mode {
    fn next(self) -> Self {
        match self {
            Mode::Image => Mode::Text,
            Mode::Text => Mode::Class,
            Mode::Class => Mode::Image,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Mode::Image => "image",
            Mode::Text => "text",
            Mode::Class => "class",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Does {
    Mode,
    TypeImage,
    TypeText,
    Previous,
    Next,
    Up,
    Down,
    Steer,
    Open,
}

const KEYS: &[Binding<Does>] = &[
    Binding {
        keys: &[KeyCode::Char('m')],
        does: Does::Mode,
        help: "explain an image, a text or a class",
    },
    Binding {
        keys: &[KeyCode::Char('i')],
        does: Does::TypeImage,
        help: "type an image id or a picture path",
    },
    Binding {
        keys: &[KeyCode::Char('/')],
        does: Does::TypeText,
        help: "type a text",
    },
    Binding {
        keys: &[KeyCode::Char('['), KeyCode::Left, KeyCode::Char('h')],
        does: Does::Previous,
        help: "previous / next image or class",
    },
    Binding {
        keys: &[KeyCode::Char(']'), KeyCode::Right, KeyCode::Char('l')],
        does: Does::Next,
        help: "",
    },
    Binding {
        keys: &[KeyCode::Up, KeyCode::Char('k')],
        does: Does::Up,
        help: "previous / next latent of the list",
    },
    Binding {
        keys: &[KeyCode::Down, KeyCode::Char('j')],
        does: Does::Down,
        help: "",
    },
    Binding {
        keys: &[KeyCode::Char('t')],
        does: Does::Steer,
        help: "steer with the latent",
    },
    Binding {
        keys: &[KeyCode::Enter],
        does: Does::Open,
        help: "open the latent in Latents",
    },
];

/// The Explain tab.
#[derive(Debug, Clone)]
pub struct ExplainTab {
    pub mode: Mode,
    pub image: ImageRef,
    pub text: String,
    /// The class chosen, by its place in the task.
    pub class: usize,
    /// The latent chosen in the list.
    pub row: usize,
    pub view: Option<ExplainView>,
    /// The line being typed is an image (else a text).
    typing_image: bool,
}

impl Default for ExplainTab {
    fn default() -> Self {
        ExplainTab {
            mode: Mode::Image,
            image: ImageRef::Row(0),
            text: String::new(),
            class: 0,
            row: 0,
            view: None,
            typing_image: true,
        }
    }
}

impl TabComponent for ExplainTab {
    fn id(&self) -> TabId {
        ID
    }

    fn title(&self) -> &'static str {
        "Explain"
    }

    fn help(&self) -> Vec<HelpLine> {
        keys::help(KEYS)
    }

    fn on_key(&mut self, key: KeyEvent, lab: &mut Shared) -> Vec<Action> {
        let rows = self.view.as_ref().map_or(0, |v| v.rows.len());
        match keys::find(KEYS, &key) {
            Some(Does::Mode) => self.mode = self.mode.next(),
            Some(Does::TypeImage) => {
                self.typing_image = true;
                lab.ask("image id or picture path: ", String::new(), false);
                return Vec::new();
            }
            Some(Does::TypeText) => {
                self.typing_image = false;
                lab.ask("explain the text: ", self.text.clone(), true);
                return Vec::new();
            }
            Some(step @ (Does::Previous | Does::Next)) => self.step(step == Does::Next),
            Some(Does::Up) => {
                self.row = self.row.saturating_sub(1);
                return Vec::new();
            }
            Some(Does::Down) => {
                self.row = (self.row + 1).min(rows.saturating_sub(1));
                return Vec::new();
            }
            Some(Does::Steer) => return self.chosen().map(Action::SteerWith).into_iter().collect(),
            Some(Does::Open) => return self.chosen().map(Action::ShowLatent).into_iter().collect(),
            None => return Vec::new(),
        }
        self.ask(lab)
    }

    fn on_typed(&mut self, text: &str, done: bool, lab: &mut Shared) -> Vec<Action> {
        if !done || text.trim().is_empty() {
            return Vec::new();
        }
        if self.typing_image {
            self.image = ImageRef::parse(text);
            self.mode = Mode::Image;
        } else {
            self.text = text.trim().to_string();
            self.mode = Mode::Text;
        }
        self.ask(lab)
    }

    fn on_focus(&mut self, lab: &mut Shared) -> Vec<Action> {
        let mut actions: Vec<Action> = lab.ensure_latents().into_iter().collect();
        actions.extend(self.ask(lab));
        actions
    }

    fn on_notice(&mut self, notice: &Notice, lab: &mut Shared) -> Vec<Action> {
        let Notice::Explained(result) = notice else {
            return Vec::new();
        };
        match result {
            Ok(view) => {
                self.row = self.row.min(view.rows.len().saturating_sub(1));
                self.view = Some(view.clone());
            }
            Err(why) => {
                self.view = None;
                lab.message = Some(why.clone());
            }
        }
        Vec::new()
    }

    fn on_click(&mut self, row: usize, _: &mut Shared) -> Vec<Action> {
        let rows = self.view.as_ref().map_or(0, |v| v.rows.len());
        self.row = row.min(rows.saturating_sub(1));
        Vec::new()
    }

    fn draw(&self, frame: &mut Frame, area: Rect, lab: &Shared, pictures: &mut dyn Collages) {
        draw(frame, self, lab, area, pictures)
    }
}

impl ExplainTab {
    /// The next or previous image row or class.
    fn step(&mut self, forward: bool) {
        match self.mode {
            Mode::Image => {
                self.image = match self.image {
                    ImageRef::Row(r) if forward => ImageRef::Row(r + 1),
                    ImageRef::Row(r) => ImageRef::Row(r.saturating_sub(1)),
                    ImageRef::File(_) => ImageRef::Row(0),
                }
            }
            Mode::Class => {
                let n = self.view.as_ref().map_or(0, |v| v.classes.len());
                self.class = if forward {
                    (self.class + 1).min(n.saturating_sub(1))
                } else {
                    self.class.saturating_sub(1)
                };
            }
            Mode::Text => {}
        }
    }

    /// Asks the explorer for the current mode's explanation.
    fn ask(&self, lab: &Shared) -> Vec<Action> {
        let Some(run) = lab.explored_run().map(|r| r.name.clone()) else {
            return Vec::new();
        };
        let query = match self.mode {
            Mode::Image => ExplainQuery::Image(self.image.clone()),
            Mode::Text if self.text.is_empty() => return Vec::new(),
            Mode::Text => ExplainQuery::Text(self.text.clone()),
            Mode::Class => ExplainQuery::Class(self.class),
        };
        vec![Action::Explain(ExplainRequest { run, query })]
    }

    fn chosen(&self) -> Option<usize> {
        self.view.as_ref()?.rows.get(self.row).map(|r| r.latent)
    }
}

fn draw(frame: &mut Frame, tab: &ExplainTab, lab: &Shared, area: Rect, pictures: &mut dyn Collages) {
    let [head, body] = Layout::vertical([Constraint::Length(HEAD), Constraint::Min(0)]).areas(area);
    draw_head(frame, tab, lab, head);
    let Some(view) = &tab.view else {
        let text = match (lab.explored_run(), tab.mode) {
            (None, _) => "No finished run yet: train one on the Train tab (s), then come back.",
            (Some(_), Mode::Text) if tab.text.is_empty() => "Type a text with /.",
            _ => "Explaining…",
        };
        frame.render_widget(Paragraph::new(text).block(panel(" latents ")), body);
        return;
    };
    let [list, detail] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(body);
    let rows = view.rows.iter().map(|r| {
        Row::new(vec![
            Cell::from(format!("{:>5}", r.latent)),
            Cell::from(format!("{:.3}", r.score)),
            Cell::from(r.extra.clone()),
            Cell::from(r.label.clone()),
        ])
    });
    let mut state = TableState::default().with_selected(Some(tab.row));
    frame.render_stateful_widget(
        Table::new(
            rows,
            [
                Constraint::Length(6),
                Constraint::Length(7),
                Constraint::Length(12),
                Constraint::Min(10),
            ],
        )
        .header(Row::new(["latent", "score", "", "label"]).style(lab.theme.title()))
        .row_highlight_style(lab.theme.selected())
        .block(panel(format!(" {} ", view.title))),
        list,
        &mut state,
    );
    let Some(chosen) = view.rows.get(tab.row) else {
        return;
    };
    let block = panel(format!(" latent {} ", chosen.latent));
    let inner = block.inner(detail);
    frame.render_widget(block, detail);
    let placeholder = match lab.latents.as_ref() {
        Some(l) => match pictures.collage(frame, inner, &l.run, chosen.latent) {
            Picture::Drawn => None,
            Picture::Pending => Some("drawing the collage…".to_string()),
            Picture::Failed(why) => Some(format!("no collage: {why}")),
        },
        None => Some("loading the latents…".to_string()),
    };
    if let Some(text) = placeholder {
        frame.render_widget(
            Paragraph::new(text)
                .wrap(Wrap { trim: true })
                .style(lab.theme.dimmed()),
            inner,
        );
    }
}

fn draw_head(frame: &mut Frame, tab: &ExplainTab, lab: &Shared, area: Rect) {
    let mut modes = vec![Span::styled("explain ", lab.theme.dimmed())];
    for mode in [Mode::Image, Mode::Text, Mode::Class] {
        let style = if mode == tab.mode {
            lab.theme.selected()
        } else {
            lab.theme.dimmed()
        };
        modes.push(Span::styled(format!(" {} ", mode.name()), style));
    }
    let run = lab
        .explored_run()
        .map_or("no finished run".to_string(), |r| format!("run {}", r.name));
    modes.push(Span::styled(format!("  · {run}"), lab.theme.dimmed()));
    if let Some(v) = &tab.view {
        modes.push(Span::styled(
            format!(" · {:.1} ms", v.millis),
            Style::default().fg(lab.theme.accent),
        ));
    }
    let mut lines = vec![Line::from(modes)];
    if let Some(v) = &tab.view {
        lines.extend(v.lines.iter().map(|l| Line::from(l.clone())));
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), area);
}
