//! Pictures printed into a plain terminal with viuer (never while the lab owns the screen),
//! with the protocol the terminal answers it speaks: kitty, sixel, iTerm2, else half blocks.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use crate::terminal::{self, Answers, QuietInput};

/// How long the terminal is given to answer.
const PATIENCE: Duration = Duration::from_secs(1);

/// Draws the picture at `path`, `width` cells wide, when stdout is a terminal; says where the
/// `what` is when it cannot be drawn.
pub fn show(path: &Path, width: u32, what: &str) {
    if !std::io::stdout().is_terminal() {
        return;
    }
    let config = viuer_config(width, &terminal::ask(PATIENCE));
    // viuer asks again where a protocol was answered; its answer must not be echoed.
    let _quiet = QuietInput::new();
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

/// Only the protocols the terminal answered for, so viuer asks nothing that was not answered.
fn viuer_config(width: u32, answers: &Answers) -> viuer::Config {
    let (kitty, sixel) = answers.direct_protocols();
    viuer::Config {
        width: Some(width),
        absolute_offset: false,
        use_kitty: kitty,
        use_sixel: sixel,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::terminal::recorded::{KITTY_026, TMUX, XTERM};
    use crate::terminal::Answers;

    /// Issue 16, case 21: `show` draws sixel where the terminal speaks it, and asks viuer no
    /// question the lab has already asked (its probe's answer was printed as text).
    #[test]
    fn case_21_show_draws_with_the_protocol_the_terminal_speaks() {
        let xterm = viuer_config(40, &Answers::parse(XTERM));
        assert!(xterm.use_sixel && !xterm.use_kitty);
        // viuer places kitty pictures directly, which kitty 0.26 draws.
        let kitty = viuer_config(40, &Answers::parse(KITTY_026));
        assert!(kitty.use_kitty && !kitty.use_sixel);
        let tmux = viuer_config(40, &Answers::parse(TMUX));
        assert!(!tmux.use_kitty && !tmux.use_sixel);
        assert_eq!(tmux.width, Some(40));
    }
}
