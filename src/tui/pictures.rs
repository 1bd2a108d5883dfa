//! Collages drawn inline with ratatui-image: kitty (from 0.28, which draws its Unicode
//! placeholders), sixel or iTerm2 as the terminal answers, halfblocks otherwise (tmux, plain
//! SSH). Images arrive decoded from the explorer thread and are kept, so scrolling back to a
//! latent redraws without decoding.

use std::collections::HashMap;

use image::DynamicImage;
use ratatui::layout::Rect;
use ratatui::Frame;
use ratatui_image::picker::Picker;
use ratatui_image::protocol::StatefulProtocol;
use ratatui_image::{FontSize, Resize, StatefulImage};

use super::widgets::{Collages, Picture};
use crate::terminal::Answers;

/// Collages kept before the cache starts over.
const KEPT: usize = 64;

pub struct InlinePictures {
    picker: Picker,
    cache: HashMap<(String, usize), StatefulProtocol>,
    /// Pictures that could not be made, and why.
    failed: HashMap<(String, usize), String>,
}

impl InlinePictures {
    /// Draws as the terminal's answers allow.
    pub fn for_terminal(answers: &Answers) -> Self {
        InlinePictures {
            picker: picker(answers),
            cache: HashMap::new(),
            failed: HashMap::new(),
        }
    }

    /// Half blocks, which every terminal draws; no question asked.
    pub fn halfblocks() -> Self {
        InlinePictures {
            picker: Picker::halfblocks(),
            cache: HashMap::new(),
            failed: HashMap::new(),
        }
    }

    /// True when the collage is not cached (one that failed is asked for again).
    pub fn wants(&self, run: &str, latent: usize) -> bool {
        !self.cache.contains_key(&(run.to_string(), latent))
    }

    /// Remembers why a picture could not be made, to show in its place.
    pub fn fail(&mut self, run: &str, latent: usize, why: String) {
        self.failed.insert((run.to_string(), latent), why);
    }

    pub fn insert(&mut self, run: &str, latent: usize, image: DynamicImage) {
        if self.cache.len() >= KEPT {
            self.cache.clear();
        }
        let protocol = self.picker.new_resize_protocol(image);
        self.failed.remove(&(run.to_string(), latent));
        self.cache.insert((run.to_string(), latent), protocol);
    }

    pub fn clear(&mut self) {
        self.cache.clear();
        self.failed.clear();
    }
}

/// A picker for the answered protocol and cell size; with no cell size (from the answer or
/// the window's pixel size) pictures cannot be scaled, so half blocks. Without an answered
/// protocol ratatui-image's hints from the environment (iTerm2, tmux) stand.
fn picker(answers: &Answers) -> Picker {
    let Some(font) = answers
        .cell
        .map(|(w, h)| FontSize::new(w, h))
        .or_else(window_cell)
    else {
        return Picker::halfblocks();
    };
    #[allow(deprecated)] // the query was made here, not by ratatui-image
    let mut p = Picker::from_fontsize(font);
    if let Some(protocol) = answers.lab_protocol() {
        p.set_protocol_type(protocol);
    }
    p
}

/// A cell's size from the window's size in pixels, where the terminal reports it.
fn window_cell() -> Option<FontSize> {
    let w = crossterm::terminal::window_size().ok()?;
    (w.width > 0 && w.height > 0 && w.columns > 0 && w.rows > 0)
        .then(|| FontSize::new(w.width / w.columns, w.height / w.rows))
}

impl Collages for InlinePictures {
    fn collage(&mut self, frame: &mut Frame, area: Rect, run: &str, latent: usize) -> Picture {
        let key = (run.to_string(), latent);
        if let Some(why) = self.failed.get(&key) {
            return Picture::Failed(why.clone());
        }
        match self.cache.get_mut(&key) {
            Some(protocol) => {
                // Scaled up too: a small picture (a 64-px test triptych) fills its panel.
                let widget = StatefulImage::default().resize(Resize::Scale(None));
                frame.render_stateful_widget(widget, area, protocol);
                Picture::Drawn
            }
            None => Picture::Pending,
        }
    }
}
