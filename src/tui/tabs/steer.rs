//! Steer: one image, one or more latents, a strength moved with ←/→, and what the steered
//! embedding now resembles; with Kandinsky 2.2 set up, `g` generates the study's triptych
//! (orig, plus, minus), shown here with a gauge per denoising step, then inline.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Gauge, Paragraph, Wrap};
use ratatui::Frame;

use crate::engine::kandinsky::triptych::PANELS;
use crossterm::event::{KeyCode, KeyEvent};

use super::TabComponent;
use crate::cli::args::DEFAULT_STRENGTH;
use crate::engine::steer::{ImageRef, Method};
use crate::tui::action::{Action, Notice, TabId};
use crate::tui::data::{GenerateRequest, GenerationView, SteerRequest, SteerView};
use crate::tui::keys::{self, Binding, HelpLine};
use crate::tui::shared::Shared;
use crate::tui::widgets::{panel, Collages, Picture};

pub const ID: TabId = "steer";

/// Strength change per ←/→ press, in units of the latent's typical activation.
pub const STRENGTH_STEP: f32 = 0.5;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Does {
    Weaker,
    Stronger,
    PreviousImage,
    NextImage,
    TypeImage,
    ChooseLatent,
    Stack,
    Method,
    Reset,
    Generate,
}

const KEYS: &[Binding<Does>] = &[
    Binding {
        keys: &[KeyCode::Left, KeyCode::Char('h')],
        does: Does::Weaker,
        help: "strength down / up (units of typical activation)",
    },
    Binding {
        keys: &[KeyCode::Right, KeyCode::Char('l')],
        does: Does::Stronger,
        help: "",
    },
    Binding {
        keys: &[KeyCode::Up, KeyCode::Char('k')],
        does: Does::PreviousImage,
        help: "previous / next image of the set",
    },
    Binding {
        keys: &[KeyCode::Down, KeyCode::Char('j')],
        does: Does::NextImage,
        help: "",
    },
    Binding {
        keys: &[KeyCode::Char('i')],
        does: Does::TypeImage,
        help: "type an image id or a picture path",
    },
    Binding {
        keys: &[KeyCode::Char('t')],
        does: Does::ChooseLatent,
        help: "choose the latent on the Latents tab",
    },
    Binding {
        keys: &[KeyCode::Enter],
        does: Does::Stack,
        help: "stack this latent and choose another",
    },
    Binding {
        keys: &[KeyCode::Char('m')],
        does: Does::Method,
        help: "method: edit (error kept) or add direction",
    },
    Binding {
        keys: &[KeyCode::Char('r')],
        does: Does::Reset,
        help: "reset strength and stack",
    },
    Binding {
        keys: &[KeyCode::Char('g')],
        does: Does::Generate,
        help: "generate the Kandinsky 2.2 triptych: orig, ±strength",
    },
];

/// The Steer tab: one image, one or more latents, a strength moved with ←/→, and what the
/// steered embedding now resembles; with Kandinsky 2.2 set up, a generated triptych.
#[derive(Debug, Clone)]
pub struct SteerTab {
    pub image: ImageRef,
    /// The latent being adjusted.
    pub latent: Option<usize>,
    pub strength: f32,
    pub method: Method,
    /// Latents stacked before this one, with their strengths.
    pub stack: Vec<(usize, f32)>,
    /// The last preview.
    pub view: Option<SteerView>,
    /// Why the last preview failed.
    pub error: Option<String>,
}

impl Default for SteerTab {
    fn default() -> Self {
        SteerTab {
            image: ImageRef::Row(0),
            latent: None,
            strength: 0.0,
            method: Method::Edit,
            stack: Vec::new(),
            view: None,
            error: None,
        }
    }
}

impl TabComponent for SteerTab {
    fn id(&self) -> TabId {
        ID
    }

    fn title(&self) -> &'static str {
        "Steer"
    }

    fn help(&self) -> Vec<HelpLine> {
        keys::help(KEYS)
    }

    fn on_key(&mut self, key: KeyEvent, lab: &mut Shared) -> Vec<Action> {
        match keys::find(KEYS, &key) {
            Some(Does::Weaker) => self.strength -= STRENGTH_STEP,
            Some(Does::Stronger) => self.strength += STRENGTH_STEP,
            Some(Does::PreviousImage) => self.image = self.next_image(-1),
            Some(Does::NextImage) => self.image = self.next_image(1),
            Some(Does::TypeImage) => {
                lab.ask("image id or picture path: ", String::new(), false);
                return Vec::new();
            }
            Some(Does::Method) => {
                self.method = match self.method {
                    Method::Edit => Method::Add,
                    Method::Add => Method::Edit,
                }
            }
            Some(Does::Reset) => {
                self.strength = 0.0;
                self.stack.clear();
            }
            Some(Does::Stack) => {
                if let Some(j) = self.latent.take() {
                    self.stack.push((j, self.strength));
                    self.strength = 0.0;
                    lab.message =
                        Some(format!("latent {j} stacked; choose another in Latents (t)"));
                }
            }
            Some(Does::ChooseLatent) => return vec![Action::Focus(super::latents::ID)],
            Some(Does::Generate) => return self.generate(lab),
            None => return Vec::new(),
        }
        self.preview(lab)
    }

    fn on_typed(&mut self, text: &str, done: bool, lab: &mut Shared) -> Vec<Action> {
        if !done || text.trim().is_empty() {
            return Vec::new();
        }
        self.image = ImageRef::parse(text);
        self.preview(lab)
    }

    fn on_focus(&mut self, lab: &mut Shared) -> Vec<Action> {
        lab.ensure_latents().into_iter().collect()
    }

    fn on_action(&mut self, action: &Action, lab: &mut Shared) -> Vec<Action> {
        let Action::SteerWith(j) = action else {
            return Vec::new();
        };
        self.latent = Some(*j);
        self.strength = DEFAULT_STRENGTH;
        let mut actions = vec![Action::Focus(ID)];
        actions.extend(self.preview(lab));
        actions
    }

    fn on_notice(&mut self, notice: &Notice, lab: &mut Shared) -> Vec<Action> {
        let Notice::Steered(result) = notice else {
            return Vec::new();
        };
        match result {
            Ok(view) => {
                self.view = Some(view.clone());
                self.error = None;
            }
            Err(why) => {
                self.view = None;
                self.error = Some(why.clone());
                lab.message = Some(why.clone());
            }
        }
        Vec::new()
    }

    fn draw(&self, frame: &mut Frame, area: Rect, lab: &Shared, pictures: &mut dyn Collages) {
        draw(frame, self, lab, area, pictures)
    }
}

impl SteerTab {
    /// The steering edits now in force: the stack plus the latent being adjusted.
    pub fn edits(&self) -> Vec<(usize, f32)> {
        let mut edits = self.stack.clone();
        if let Some(j) = self.latent {
            edits.push((j, self.strength));
        }
        edits
    }

    /// The row after (or before) the steered one; from a picture file, the set's first row.
    fn next_image(&self, step: isize) -> ImageRef {
        match self.image {
            ImageRef::Row(r) => ImageRef::Row(r.saturating_add_signed(step)),
            ImageRef::File(_) => ImageRef::Row(0),
        }
    }

    fn preview(&self, lab: &Shared) -> Vec<Action> {
        match lab.explored_run() {
            Some(run) => vec![Action::Steer(SteerRequest {
                run: run.name.clone(),
                image: self.image.clone(),
                edits: self.edits(),
                method: self.method,
            })],
            None => Vec::new(),
        }
    }

    /// A Kandinsky triptych of the steered image, or a message saying what is missing.
    fn generate(&self, lab: &mut Shared) -> Vec<Action> {
        let Some(run) = lab.explored_run().map(|r| r.name.clone()) else {
            return Vec::new();
        };
        let Some(latent) = self.latent else {
            lab.message = Some("choose a latent to steer first (t)".into());
            return Vec::new();
        };
        if lab.kandinsky.is_none() {
            lab.message = Some("Kandinsky 2.2 is not set up in this workspace: run `saelab steer RUN --latent J --generate` once, or write kandinsky.toml (see docs/kandinsky.md)".into());
            return Vec::new();
        }
        let strength = match self.strength.abs() {
            s if s > 0.0 => s,
            _ => DEFAULT_STRENGTH,
        };
        vec![Action::Generate(GenerateRequest {
            run,
            image: self.image.clone(),
            latent,
            strength,
            method: self.method,
        })]
    }
}

/// The strength gauge spans ±this many units.
const GAUGE_SPAN: f32 = 10.0;

fn draw(frame: &mut Frame, tab: &SteerTab, app: &Shared, area: Rect, pictures: &mut dyn Collages) {
    let [head, body] = Layout::vertical([Constraint::Length(5), Constraint::Min(0)]).areas(area);
    draw_head(frame, tab, app, head);
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
    let Some(view) = tab.view.as_ref() else {
        let text = match (&tab.error, tab.latent) {
            (Some(why), _) => format!("No preview: {why}"),
            (None, None) => "Choose a latent on the Latents tab and press t.".into(),
            (None, Some(_)) => "Computing the preview…".into(),
        };
        frame.render_widget(
            Paragraph::new(text)
                .wrap(Wrap { trim: true })
                .block(Block::default().borders(Borders::ALL)),
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
    app: &Shared,
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
            Some(s) => (
                s.done as f64 / s.total.max(1) as f64,
                format!("generating {}: step {}/{}", s.panel, s.done, s.total),
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
        let placeholder = match pictures.collage(frame, picture, &key, i) {
            Picture::Drawn => None,
            Picture::Pending => Some(format!("{name}.png")),
            Picture::Failed(why) => Some(format!("{name}.png: {why}")),
        };
        if let Some(text) = placeholder {
            frame.render_widget(Paragraph::new(text), picture);
        }
    }
}

fn draw_head(frame: &mut Frame, tab: &SteerTab, app: &Shared, area: Rect) {
    let run = app
        .explored_run()
        .map_or(String::new(), |r| format!(" · {}", r.name));
    let block = panel(format!(" steer{run} "));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [line1, line2, line3] = Layout::vertical([Constraint::Length(1); 3]).areas(inner);
    let caption = tab
        .view
        .as_ref()
        .map(|v| v.image_caption.clone())
        .unwrap_or_default();
    let latent = tab.latent.map_or("none".to_string(), |j| j.to_string());
    let method = match tab.method {
        Method::Edit => "edit (error kept)",
        Method::Add => "add direction",
    };
    let stack: Vec<String> = tab
        .stack
        .iter()
        .map(|(j, s)| format!("{j}:{s:+.1}"))
        .collect();
    let millis = tab
        .view
        .as_ref()
        .map_or(String::new(), |v| format!(" · preview {:.1} ms", v.millis));
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("image ", app.theme.dimmed()),
            Span::raw(match &tab.image {
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
    let ratio = ((tab.strength / GAUGE_SPAN + 1.0) / 2.0).clamp(0.0, 1.0);
    frame.render_widget(
        Gauge::default()
            .ratio(ratio as f64)
            .label(format!(
                "strength {:+.1} (±{STRENGTH_STEP} per ←/→)",
                tab.strength
            ))
            .gauge_style(
                Style::default()
                    .fg(app.theme.accent)
                    .bg(app.theme.highlight_bg),
            ),
        line3,
    );
}
