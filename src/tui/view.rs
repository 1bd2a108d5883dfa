//! The frame around the tabs: the tab bar, the status bar, the help overlay, and the message
//! for a terminal too small to hold the layout.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::app::{App, Input, Tab};
use super::tabs;

/// The smallest terminal the layout fits.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;
/// Rows above a tab's first list row (tab bar, panel border, table header).
pub const LIST_TOP: u16 = 3;

/// Draws collages inline; the runtime's is ratatui-image, tests use none.
pub trait Collages {
    /// Draws the collage of `latent` of `run` into `area`; false while it is not ready.
    fn collage(&mut self, frame: &mut Frame, area: Rect, run: &str, latent: usize) -> bool;
}

/// No collages: a placeholder is drawn instead.
pub struct NoCollages;

impl Collages for NoCollages {
    fn collage(&mut self, _: &mut Frame, _: Rect, _: &str, _: usize) -> bool {
        false
    }
}

/// Where each tab's title sits on the tab bar: (first column, past-the-end column).
pub fn tab_spans() -> Vec<(u16, u16)> {
    let mut x = 1u16;
    Tab::ALL
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
    frame.render_widget(Block::default().style(app.theme.base()), area);
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
    match app.tab {
        Tab::Train => tabs::train::draw(frame, app, body),
        Tab::Metrics => tabs::metrics::draw(frame, app, body),
        Tab::Zeroshot => tabs::zeroshot::draw(frame, app, body),
        Tab::Latents => tabs::latents::draw(frame, app, body, pictures),
        Tab::Steer => tabs::steer::draw(frame, app, body, pictures),
    }
    status_bar(frame, app, status);
    if app.help {
        help(frame, app, body);
    }
    if app.confirm_quit {
        confirm(frame, app, body);
    }
}

fn too_small(frame: &mut Frame, app: &App, area: Rect) {
    let text = vec![
        Line::from(Span::styled("saelab", app.theme.title())),
        Line::from(format!(
            "Make the window at least {MIN_WIDTH}×{MIN_HEIGHT} (it is {}×{}).",
            area.width, area.height
        )),
        Line::from(Span::styled("q quits", app.theme.dimmed())),
    ];
    frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
}

fn tab_bar(frame: &mut Frame, app: &App, area: Rect) {
    let mut spans = vec![Span::raw(" ")];
    for (i, t) in Tab::ALL.iter().enumerate() {
        let label = format!(" {} {} ", i + 1, t.title());
        let style = if *t == app.tab {
            app.theme.selected().fg(app.theme.accent)
        } else {
            app.theme.dimmed()
        };
        spans.push(Span::styled(label, style));
        spans.push(Span::raw(" "));
    }
    spans.push(Span::styled("  ? help  q quit", app.theme.dimmed()));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn status_bar(frame: &mut Frame, app: &App, area: Rect) {
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
    let text = match (&app.message, app.input) {
        (_, Input::Field) => format!(
            "{}: {}▏ (Enter keeps, Esc cancels)",
            tabs::train::field_name(app),
            app.typed
        ),
        (_, Input::Search) => format!("/{}▏ (Enter keeps, Esc cancels)", app.typed),
        (_, Input::Jump) => format!("latent id: {}▏", app.typed),
        (_, Input::SteerImage) => format!("image id or picture path: {}▏", app.typed),
        (Some(m), _) => m.clone(),
        (None, _) => format!(
            "{}  ·  {}  ·  set {}  ·  {jobs}",
            app.workspace, app.device, app.form.set
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

/// A bordered panel with a title, as every pane of the lab is drawn.
pub fn panel<'a>(title: impl Into<ratatui::text::Line<'a>>) -> Block<'a> {
    Block::default().borders(Borders::ALL).title(title)
}

/// A box of `w`×`h` in the middle of `area`.
pub fn centred(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

fn help(frame: &mut Frame, app: &App, area: Rect) {
    let mut lines = vec![Line::from(Span::styled(
        format!("{} keys", app.tab.title()),
        app.theme.title(),
    ))];
    let keys = tabs::keys(app.tab).iter().chain(GLOBAL_KEYS.iter());
    for (k, what) in keys {
        lines.push(Line::from(vec![
            Span::styled(
                format!("{k:>12}  "),
                Style::default()
                    .fg(app.theme.accent)
                    .add_modifier(Modifier::BOLD),
            ),
            Span::raw(*what),
        ]));
    }
    lines.push(Line::from(Span::styled(
        "any key closes this",
        app.theme.dimmed(),
    )));
    let popup = centred(area, 64, lines.len() as u16 + 2);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .block(panel(" help "))
            .style(app.theme.base()),
        popup,
    );
}

const GLOBAL_KEYS: [(&str, &str); 4] = [
    ("1-5 Tab S-Tab", "switch tabs (or click a tab)"),
    ("?", "this help"),
    ("q Ctrl-C", "quit (asks while jobs run; they keep running)"),
    ("mouse", "click tabs and list rows, wheel scrolls"),
];

fn confirm(frame: &mut Frame, app: &App, area: Rect) {
    let popup = centred(area, 60, 5);
    frame.render_widget(Clear, popup);
    let text = vec![
        Line::from("Jobs are running. They keep running headless after you quit;"),
        Line::from("`saelab` attaches to them again. Quit? (y / any key stays)"),
    ];
    frame.render_widget(
        Paragraph::new(text)
            .block(panel(" quit? "))
            .style(app.theme.base().fg(app.theme.warn)),
        popup,
    );
}

/// A chart's x axis from 0 to `x_max` (steps, or L0), labelled at both ends.
pub fn x_axis_from_zero(x_max: f64) -> Axis<'static> {
    Axis::default()
        .bounds([0.0, x_max])
        .labels([Span::raw("0"), Span::raw(format!("{x_max:.0}"))])
}
