//! Pictures printed into a plain terminal with viuer (never while the lab owns the screen).

use std::io::IsTerminal;
use std::path::Path;

/// Draws the picture at `path`, `width` cells wide, when stdout is a terminal; says where the
/// `what` is when it cannot be drawn.
pub fn show(path: &Path, width: u32, what: &str) {
    if !std::io::stdout().is_terminal() {
        return;
    }
    let config = viuer::Config {
        width: Some(width),
        absolute_offset: false,
        ..Default::default()
    };
    let drawn = image::open(path)
        .map_err(|e| e.to_string())
        .and_then(|img| viuer::print(&img, &config).map_err(|e| e.to_string()));
    if let Err(e) = drawn {
        eprintln!(
            "warning: could not draw the {what} here ({e}); it is at {}",
            path.display()
        );
    }
}
