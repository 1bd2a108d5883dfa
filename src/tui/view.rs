//! The frame around the tabs: the tab bar, the status bar, the help overlay, and the message
//! for a terminal too small to hold the layout.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::app::App;
use super::shared::Shared;
use super::widgets::{centred, panel, Collages};

/// The smallest terminal the layout fits.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;
/// The frame's keys, on the tab bar where it has room.
const KEYS_HINT: &str = "  ? help  q quit";
/// Rows above a tab's first list row (tab bar, panel border, table header).
pub const LIST_TOP: u16 = 3;

/// Where each tab's title sits on the tab bar: (first column, past-the-end column).
pub fn tab_spans(app: &App) -> Vec<(u16, u16)> {
    let mut x = 1u16;
    app.tabs()
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let w = format!(" {} {} ", i + 1, t.title()).chars().count() as u16;
            let span = (x, x + w);
            x += w + 1;
            span
        })
        .collect()
}

pub fn draw(frame: &mut Frame, app: &App, pictures: &mut dyn Collages) {
    let area = frame.area();
    frame.render_widget(Block::default().style(app.lab.theme.base()), area);
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(frame, app, area);
        return;
    }
    let [bar, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    tab_bar(frame, app, bar);
    app.tab().draw(frame, body, &app.lab, pictures);
    status_bar(frame, &app.lab, status);
    if app.help {
        help(frame, app, body);
    }
    if app.confirm_quit {
        confirm(frame, app, body);
    }
}

fn too_small(frame: &mut Frame, app: &App, area: Rect) {
    let text = vec![
        Line::from(Span::styled("saelab", app.lab.theme.title())),
        Line::from(format!(
            "Make the window at least {MIN_WIDTH}×{MIN_HEIGHT} (it is {}×{}).",
            area.width, area.height
        )),
        Line::from(Span::styled("q quits", app.lab.theme.dimmed())),
    ];
    frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
}

fn tab_bar(frame: &mut Frame, app: &App, area: Rect) {
    let mut spans = vec![Span::raw(" ")];
    for (i, t) in app.tabs().iter().enumerate() {
        let label = format!(" {} {} ", i + 1, t.title());
        let style = if i == app.current {
            app.lab.theme.selected().fg(app.lab.theme.accent)
        } else {
            app.lab.theme.dimmed()
        };
        spans.push(Span::styled(label, style));
        spans.push(Span::raw(" "));
    }
    let mut line = Line::from(spans);
    // The hint goes where it fits whole (not beside six tabs at 80 columns).
    let hint = Span::styled(KEYS_HINT, app.lab.theme.dimmed());
    if line.width() + hint.width() <= area.width as usize {
        line.push_span(hint);
    }
    frame.render_widget(Paragraph::new(line), area);
}

fn status_bar(frame: &mut Frame, app: &Shared, area: Rect) {
    let running = app.running();
    let mut parts: Vec<String> = Vec::new();
    if !running.is_empty() {
        parts.push(format!("{} training", running.len()));
    }
    parts.extend(app.running_jobs.iter().cloned());
    let jobs = if parts.is_empty() {
        "idle".to_string()
    } else {
        parts.join(", ")
    };
    let text = match (&app.message, &app.typing) {
        (_, Some(t)) => format!(
            "{}{}▏{}",
            t.prompt,
            t.text,
            if t.hint {
                " (Enter keeps, Esc cancels)"
            } else {
                ""
            }
        ),
        (Some(m), None) => m.clone(),
        (None, None) => format!(
            "{}  ·  {}  ·  set {}  ·  {jobs}",
            app.workspace, app.device, app.set
        ),
    };
    frame.render_widget(
        Paragraph::new(text).style(
            Style::default()
                .fg(app.theme.text)
                .bg(app.theme.highlight_bg),
        ),
        area,
    );
}

fn help(frame: &mut Frame, app: &App, area: Rect) {
    let mut lines = vec![Line::from(Span::styled(
        format!("{} keys", app.tab().title()),
        app.lab.theme.title(),
    ))];
    for (k, what) in app.help_lines() {
        lines.push(Line::from(vec![
            Span::styled(
                format!("{k:>14} "),
                Style::default()
                    .fg(app.lab.theme.accent)
                    .add_modifier(Modifier::BOLD),
            ),
            Span::raw(what),
        ]));
    }
    lines.push(Line::from(Span::styled(
        "any key closes this",
        app.lab.theme.dimmed(),
    )));
    let popup = centred(area, fitting(&lines), lines.len() as u16 + 2);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .block(panel(" help "))
            .style(app.lab.theme.base()),
        popup,
    );
}

/// The width of a bordered popup that shows `lines` whole (`centred` keeps it on screen).
fn fitting(lines: &[Line]) -> u16 {
    let widest = lines.iter().map(Line::width).max().unwrap_or(0);
    widest as u16 + 2
}

fn confirm(frame: &mut Frame, app: &App, area: Rect) {
    let text = vec![
        Line::from("Jobs are running. They keep running headless after you quit;"),
        Line::from("`saelab` attaches to them again. Quit? (y / any key stays)"),
    ];
    let popup = centred(area, fitting(&text), text.len() as u16 + 2);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(text)
            .block(panel(" quit? "))
            .style(app.lab.theme.base().fg(app.lab.theme.warn)),
        popup,
    );
}

/// Pictures drawn with sixel, kitty or iTerm2 live in the terminal, not in ratatui's cells:
/// the cells a popup covered are never redrawn when it closes, so the screen is drawn whole
/// once after.
#[derive(Debug, Default)]
pub struct Repaint {
    covered: bool,
}

impl Repaint {
    /// Call before each frame: true when a popup closed since the last.
    pub fn after(&mut self, app: &App) -> bool {
        let covered = app.covered();
        let closed = self.covered && !covered;
        self.covered = covered;
        closed
    }
}
