//! Collages drawn inline with ratatui-image: kitty, sixel or iTerm2 when the terminal answers
//! the query, halfblocks otherwise (tmux, plain SSH). Images arrive decoded from the explorer
//! thread and are kept, so scrolling back to a latent redraws without decoding.

use std::collections::HashMap;

use image::DynamicImage;
use ratatui::layout::Rect;
use ratatui::Frame;
use ratatui_image::picker::Picker;
use ratatui_image::protocol::StatefulProtocol;
use ratatui_image::{Resize, StatefulImage};

use super::view::Collages;

/// Collages kept before the cache starts over.
const KEPT: usize = 64;

pub struct InlinePictures {
    picker: Picker,
    cache: HashMap<(String, usize), StatefulProtocol>,
}

impl InlinePictures {
    /// Asks the terminal what it can draw (call with the screen already set up).
    pub fn detect() -> Self {
        InlinePictures {
            picker: super::terminal_query::picker(),
            cache: HashMap::new(),
        }
    }

    /// Half blocks, which every terminal draws; no question asked.
    pub fn halfblocks() -> Self {
        InlinePictures {
            picker: Picker::halfblocks(),
            cache: HashMap::new(),
        }
    }

    /// True when the collage is not cached yet.
    pub fn wants(&self, run: &str, latent: usize) -> bool {
        !self.cache.contains_key(&(run.to_string(), latent))
    }

    pub fn insert(&mut self, run: &str, latent: usize, image: DynamicImage) {
        if self.cache.len() >= KEPT {
            self.cache.clear();
        }
        let protocol = self.picker.new_resize_protocol(image);
        self.cache.insert((run.to_string(), latent), protocol);
    }

    pub fn clear(&mut self) {
        self.cache.clear();
    }
}

impl Collages for InlinePictures {
    fn collage(&mut self, frame: &mut Frame, area: Rect, run: &str, latent: usize) -> bool {
        match self.cache.get_mut(&(run.to_string(), latent)) {
            Some(protocol) => {
                // Scaled up too: a small picture (a 64-px test triptych) fills its panel.
                let widget = StatefulImage::default().resize(Resize::Scale(None));
                frame.render_stateful_widget(widget, area, protocol);
                true
            }
            None => false,
        }
    }
}
