//! Keys typed while the terminal was being asked, as the key events crossterm would have read.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

const ESC: u8 = 0x1b;
const DEL: u8 = 0x7f;
const BACKSPACE: u8 = 0x08;
/// Ctrl+A to Ctrl+Z are bytes 1 to 26 (Tab, Enter and Backspace among them).
const CTRL_Z: u8 = 26;

/// Decodes raw key bytes; sequences it does not know (mouse reports) are dropped.
pub fn keys(bytes: &[u8]) -> Vec<KeyEvent> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let (key, len) = key_at(&bytes[i..]);
        out.extend(key);
        i += len.max(1);
    }
    out
}

fn plain(code: KeyCode) -> Option<KeyEvent> {
    Some(KeyEvent::new(code, KeyModifiers::NONE))
}

/// One key at the start of `b`, and how many bytes it took.
fn key_at(b: &[u8]) -> (Option<KeyEvent>, usize) {
    match b[0] {
        ESC => escaped(b),
        b'\r' | b'\n' => (plain(KeyCode::Enter), 1),
        b'\t' => (plain(KeyCode::Tab), 1),
        DEL | BACKSPACE => (plain(KeyCode::Backspace), 1),
        c @ 1..=CTRL_Z => (
            Some(KeyEvent::new(
                KeyCode::Char((b'a' + c - 1) as char),
                KeyModifiers::CONTROL,
            )),
            1,
        ),
        c if c < b' ' => (None, 1),
        _ => match char_at(b) {
            Some((c, len)) => (plain(KeyCode::Char(c)), len),
            None => (None, 1),
        },
    }
}

/// The UTF-8 character at the start of `b`.
fn char_at(b: &[u8]) -> Option<(char, usize)> {
    let len = match b[0] {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    };
    let c = std::str::from_utf8(b.get(..len)?).ok()?.chars().next()?;
    Some((c, len))
}

/// Esc alone, Alt+key, or a CSI or SS3 key sequence.
fn escaped(b: &[u8]) -> (Option<KeyEvent>, usize) {
    match b.get(1) {
        None | Some(&ESC) => (plain(KeyCode::Esc), 1),
        Some(b'[') => csi(b),
        Some(b'O') => match b.get(2) {
            Some(&f) => (named(f, "").and_then(plain), 3),
            None => (plain(KeyCode::Esc), 1),
        },
        Some(_) => match char_at(&b[1..]) {
            Some((c, len)) => (
                Some(KeyEvent::new(KeyCode::Char(c), KeyModifiers::ALT)),
                len + 1,
            ),
            None => (plain(KeyCode::Esc), 1),
        },
    }
}

fn csi(b: &[u8]) -> (Option<KeyEvent>, usize) {
    let Some(end) = b[2..].iter().position(|c| (0x40..=0x7e).contains(c)) else {
        return (None, b.len());
    };
    let len = end + 3;
    let params = std::str::from_utf8(&b[2..len - 1]).unwrap_or("");
    if b[len - 1] == b'Z' {
        return (
            Some(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT)),
            len,
        );
    }
    (named(b[len - 1], params).and_then(plain), len)
}

/// The key a sequence's final byte (and number, for `~`) names.
fn named(last: u8, params: &str) -> Option<KeyCode> {
    Some(match (last, params) {
        (b'A', _) => KeyCode::Up,
        (b'B', _) => KeyCode::Down,
        (b'C', _) => KeyCode::Right,
        (b'D', _) => KeyCode::Left,
        (b'H', _) | (b'~', "1" | "7") => KeyCode::Home,
        (b'F', _) | (b'~', "4" | "8") => KeyCode::End,
        (b'~', "2") => KeyCode::Insert,
        (b'~', "3") => KeyCode::Delete,
        (b'~', "5") => KeyCode::PageUp,
        (b'~', "6") => KeyCode::PageDown,
        _ => return None,
    })
}
