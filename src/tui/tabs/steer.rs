//! Steer: one image, one or more latents, a strength moved with ←/→, and what the steered
//! embedding now resembles; with Kandinsky 2.2 set up, `g` generates the study's triptych
//! (orig, plus, minus), shown here with a gauge per denoising step, then inline.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Gauge, Paragraph};
use ratatui::Frame;

use crate::engine::kandinsky::triptych::PANELS;
use crate::engine::steer::{ImageRef, Method};
use crate::tui::app::{App, GenerationView, STRENGTH_STEP};
use crate::tui::view::{panel, Collages};

pub const KEYS: &[(&str, &str)] = &[
    (
        "←/→ h/l",
        "strength down / up (units of typical activation)",
    ),
    ("↑/↓ j/k", "previous / next image of the set"),
    ("i", "type an image id or a picture path"),
    ("t", "choose the latent on the Latents tab"),
    ("Enter", "stack this latent and choose another"),
    ("m", "method: edit (error kept) or add direction"),
    ("r", "reset strength and stack"),
    (
        "g",
        "generate the Kandinsky 2.2 triptych: orig, +strength, −strength",
    ),
];

/// The strength gauge spans ±this many units.
const GAUGE_SPAN: f32 = 10.0;

pub fn draw(frame: &mut Frame, app: &App, area: Rect, pictures: &mut dyn Collages) {
    let [head, body] = Layout::vertical([Constraint::Length(5), Constraint::Min(0)]).areas(area);
    draw_head(frame, app, head);
    let shown = app.explored_run().map(|r| r.name.as_str());
    let body = match app
        .generation
        .as_ref()
        .filter(|g| Some(g.run.as_str()) == shown)
    {
        Some(g) => {
            let [top, bottom] =
                Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)])
                    .areas(body);
            draw_generation(frame, app, g, bottom, pictures);
            top
        }
        None => body,
    };
    let Some(view) = app.steer_view.as_ref() else {
        let text = match app.steer_latent {
            None => "Choose a latent on the Latents tab and press t.",
            Some(_) => "Computing the preview…",
        };
        frame.render_widget(
            Paragraph::new(text).block(Block::default().borders(Borders::ALL)),
            body,
        );
        return;
    };
    let [left, right] = Layout::horizontal([Constraint::Percentage(50); 2]).areas(body);
    let [near, labels] =
        Layout::vertical([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(left);
    let [classes, concepts] =
        Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(right);
    let lines: Vec<Line> = view
        .neighbours
        .iter()
        .map(|(row, cos, caption)| Line::from(format!("{row:>6}  {cos:.3}  {caption}")))
        .collect();
    frame.render_widget(
        Paragraph::new(lines).block(panel(" nearest images to the steered embedding ")),
        near,
    );
    let labels_text = vec![
        Line::from(vec![
            Span::styled("before ", app.theme.dimmed()),
            Span::raw(view.labels_before.join(", ")),
        ]),
        Line::from(vec![
            Span::styled("after  ", app.theme.dimmed()),
            Span::raw(view.labels_after.join(", ")),
        ]),
    ];
    frame.render_widget(
        Paragraph::new(labels_text).block(panel(" closest words ")),
        labels,
    );
    let class_lines: Vec<Line> = view
        .classes
        .iter()
        .map(|(c, b, a)| {
            let colour = if a >= b {
                app.theme.good
            } else {
                app.theme.bad
            };
            Line::from(vec![
                Span::raw(format!("{c:<22} {b:.3} → ")),
                Span::styled(format!("{a:.3}"), Style::default().fg(colour)),
            ])
        })
        .collect();
    frame.render_widget(
        Paragraph::new(class_lines).block(panel(" zero-shot classes: biggest movers ")),
        classes,
    );
    let mut concept_lines: Vec<Line> = view
        .rose
        .iter()
        .map(|(c, d)| {
            Line::from(Span::styled(
                format!("▲ {c:<20} {d:+.3}"),
                Style::default().fg(app.theme.good),
            ))
        })
        .collect();
    concept_lines.extend(view.fell.iter().map(|(c, d)| {
        Line::from(Span::styled(
            format!("▼ {c:<20} {d:+.3}"),
            Style::default().fg(app.theme.bad),
        ))
    }));
    if concept_lines.is_empty() {
        concept_lines.push(Line::from(Span::styled(
            "ground truth is known on demo sets only",
            app.theme.dimmed(),
        )));
    }
    frame.render_widget(
        Paragraph::new(concept_lines).block(panel(" ground-truth concepts ")),
        concepts,
    );
}

/// The triptych: a gauge while the job denoises, then the three pictures side by side.
fn draw_generation(
    frame: &mut Frame,
    app: &App,
    g: &GenerationView,
    area: Rect,
    pictures: &mut dyn Collages,
) {
    let block = panel(format!(
        " Kandinsky 2.2 · latent {} · ±{:.1} · {} ",
        g.latent,
        g.strength,
        g.dir.display()
    ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if !g.ready {
        let [line, _] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
        let (ratio, label) = match &g.step {
            Some((done, total, picture)) => (
                *done as f64 / (*total).max(1) as f64,
                format!("generating {picture}: step {done}/{total}"),
            ),
            None => (0.0, "loading Kandinsky 2.2…".to_string()),
        };
        frame.render_widget(
            Gauge::default()
                .ratio(ratio.clamp(0.0, 1.0))
                .label(label)
                .gauge_style(
                    Style::default()
                        .fg(app.theme.accent)
                        .bg(app.theme.highlight_bg),
                ),
            line,
        );
        return;
    }
    let key = g.dir.display().to_string();
    let columns = Layout::horizontal([Constraint::Ratio(1, 3); 3]).areas::<3>(inner);
    for (i, (name, cell)) in PANELS.iter().zip(columns).enumerate() {
        let [title, picture] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(cell);
        frame.render_widget(
            Paragraph::new(Span::styled(*name, app.theme.dimmed())),
            title,
        );
        if !pictures.collage(frame, picture, &key, i) {
            frame.render_widget(Paragraph::new(format!("{name}.png")), picture);
        }
    }
}

fn draw_head(frame: &mut Frame, app: &App, area: Rect) {
    let block = panel(" steer ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [line1, line2, line3] = Layout::vertical([Constraint::Length(1); 3]).areas(inner);
    let caption = app
        .steer_view
        .as_ref()
        .map(|v| v.image_caption.clone())
        .unwrap_or_default();
    let latent = app
        .steer_latent
        .map_or("none".to_string(), |j| j.to_string());
    let method = match app.steer_method {
        Method::Edit => "edit (error kept)",
        Method::Add => "add direction",
    };
    let stack: Vec<String> = app
        .steer_stack
        .iter()
        .map(|(j, s)| format!("{j}:{s:+.1}"))
        .collect();
    let millis = app
        .steer_view
        .as_ref()
        .map_or(String::new(), |v| format!(" · preview {:.1} ms", v.millis));
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("image ", app.theme.dimmed()),
            Span::raw(match &app.steer_image {
                ImageRef::Row(r) => format!("{r} {caption}"),
                file => file.to_string(),
            }),
        ])),
        line1,
    );
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("latent ", app.theme.dimmed()),
            Span::raw(latent),
            Span::styled("  method ", app.theme.dimmed()),
            Span::raw(method),
            Span::styled("  stacked ", app.theme.dimmed()),
            Span::raw(if stack.is_empty() {
                "–".into()
            } else {
                stack.join(" ")
            }),
            Span::styled(millis, app.theme.dimmed()),
        ])),
        line2,
    );
    let ratio = ((app.steer_strength / GAUGE_SPAN + 1.0) / 2.0).clamp(0.0, 1.0);
    frame.render_widget(
        Gauge::default()
            .ratio(ratio as f64)
            .label(format!(
                "strength {:+.1} (±{STRENGTH_STEP} per ←/→)",
                app.steer_strength
            ))
            .gauge_style(
                Style::default()
                    .fg(app.theme.accent)
                    .bg(app.theme.highlight_bg),
            ),
        line3,
    );
}
