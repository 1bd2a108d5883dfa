//! Latents: the list (sortable, searchable) and the chosen latent's collage, label and
//! activation histogram.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Sparkline, Table, TableState, Wrap};
use ratatui::Frame;

use crate::tui::app::App;
use crate::tui::view::{panel, Collages};

pub const KEYS: &[(&str, &str)] = &[
    ("↑/↓ j/k", "choose a latent (PgUp/PgDn, g/G)"),
    ("o", "sort by frequency, max activation, confidence or id"),
    ("/", "search the labels"),
    ("# :", "jump to a latent id"),
    ("[ / ]", "explore another finished run"),
    ("t Enter", "steer with this latent"),
];

pub fn draw(frame: &mut Frame, app: &App, area: Rect, pictures: &mut dyn Collages) {
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
    let rows = app.latent_rows();
    let selected = app.latent_row.min(rows.len().saturating_sub(1));
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
        app.latent_sort.name(),
        if app.latent_query.is_empty() {
            String::new()
        } else {
            format!(" · /{}", app.latent_query)
        }
    );
    let mut state = TableState::default()
        .with_offset(app.latent_offset.get())
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
    app.latent_offset.set(state.offset());
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
    if !pictures.collage(frame, inner, &view.run, row.id) {
        frame.render_widget(
            Paragraph::new("drawing the collage…").style(app.theme.dimmed()),
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
