//! Asking the terminal which picture protocol it speaks, in a child process.
//!
//! ratatui-image reads the terminal's answer on a thread of its own. When a terminal leaves
//! the query unanswered (tmux does), that thread stays blocked on stdin after the timeout and
//! eats the next key the user presses. A child process takes its blocked read with it when it
//! exits, so the lab asks through `saelab __query-terminal` and builds its picker from the
//! child's answer.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ratatui_image::picker::{Picker, ProtocolType};
use ratatui_image::FontSize;

/// The hidden first argument that makes `saelab` answer the query and exit.
pub const ARG: &str = "__query-terminal";
/// How long the lab waits for the child (ratatui-image gives up on the terminal after 2 s).
const PATIENCE: Duration = Duration::from_secs(4);
const POLL: Duration = Duration::from_millis(20);

fn protocol_name(p: ProtocolType) -> &'static str {
    match p {
        ProtocolType::Halfblocks => "halfblocks",
        ProtocolType::Sixel => "sixel",
        ProtocolType::Kitty => "kitty",
        ProtocolType::Iterm2 => "iterm2",
    }
}

fn protocol_named(name: &str) -> Option<ProtocolType> {
    [
        ProtocolType::Halfblocks,
        ProtocolType::Sixel,
        ProtocolType::Kitty,
        ProtocolType::Iterm2,
    ]
    .into_iter()
    .find(|&p| protocol_name(p) == name)
}

/// In the child: queries the terminal (stdin and stdout are the lab's) and writes
/// "PROTOCOL WIDTH HEIGHT" on stderr, which the lab reads through a pipe.
pub fn answer() {
    let picker = Picker::from_query_stdio().unwrap_or_else(|_| Picker::halfblocks());
    let font = picker.font_size();
    eprintln!(
        "{} {} {}",
        protocol_name(picker.protocol_type()),
        font.width,
        font.height
    );
}

/// Parses the child's answer.
fn parse(text: &str) -> Option<(ProtocolType, FontSize)> {
    let mut parts = text.split_whitespace();
    let protocol = protocol_named(parts.next()?)?;
    let w = parts.next()?.parse().ok()?;
    let h = parts.next()?.parse().ok()?;
    Some((protocol, FontSize::new(w, h)))
}

/// In the lab, with the screen set up: the picker the terminal asks for, halfblocks when the
/// child cannot tell.
pub fn picker() -> Picker {
    ask_child()
        .map(|(protocol, font)| {
            #[allow(deprecated)] // the query's result, made in another process
            let mut p = Picker::from_fontsize(font);
            p.set_protocol_type(protocol);
            p
        })
        .unwrap_or_else(Picker::halfblocks)
}

fn ask_child() -> Option<(ProtocolType, FontSize)> {
    let exe = std::env::current_exe().ok()?;
    let mut child = Command::new(exe)
        .arg(ARG)
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let start = Instant::now();
    while child.try_wait().ok()?.is_none() {
        if start.elapsed() > PATIENCE {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(POLL);
    }
    let mut text = String::new();
    child.stderr.take()?.read_to_string(&mut text).ok()?;
    parse(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_round_trip_and_nonsense_is_refused() {
        for p in [
            ProtocolType::Halfblocks,
            ProtocolType::Sixel,
            ProtocolType::Kitty,
            ProtocolType::Iterm2,
        ] {
            let line = format!("{} 9 18\n", protocol_name(p));
            let (q, font) = parse(&line).unwrap();
            assert_eq!((q, font.width, font.height), (p, 9, 18));
        }
        assert!(parse("").is_none());
        assert!(parse("kitty nine 18").is_none());
        assert!(parse("braille 9 18").is_none());
    }
}
