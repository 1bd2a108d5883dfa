//! Pieces every tab draws with: the bordered panel, a centred box, a chart axis, and the front
//! door for pictures (collages and triptychs), which the runtime draws with ratatui-image and
//! tests leave out.

use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::{Axis, Block, Borders};
use ratatui::Frame;

/// How a picture stands when a tab asks to draw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Picture {
    Drawn,
    /// Asked for, not arrived yet.
    Pending,
    /// It could not be made; the reason is shown in its place.
    Failed(String),
}

/// Draws pictures inline: the collage of `latent` of `run`, or panel `latent` of a triptych
/// whose key is `run`.
pub trait Collages {
    fn collage(&mut self, frame: &mut Frame, area: Rect, run: &str, latent: usize) -> Picture;
}

/// No pictures: tabs draw their placeholders.
pub struct NoCollages;

impl Collages for NoCollages {
    fn collage(&mut self, _: &mut Frame, _: Rect, _: &str, _: usize) -> Picture {
        Picture::Pending
    }
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

/// A chart's x axis from 0 to `x_max` (steps, or L0), labelled at both ends.
pub fn x_axis_from_zero(x_max: f64) -> Axis<'static> {
    Axis::default()
        .bounds([0.0, x_max])
        .labels([Span::raw("0"), Span::raw(format!("{x_max:.0}"))])
}
