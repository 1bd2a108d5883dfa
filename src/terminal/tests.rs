//! Recorded answers of real terminals to the lab's questions (issue 16, cases 20, 24 and 26).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_image::picker::ProtocolType;

use super::recorded::{KITTY_026, KITTY_035, TMUX, XTERM};
use super::typed::keys;
use super::Answers;

fn with_keys(answer: &[u8], before: &[u8], middle: &[u8], after: &[u8]) -> Vec<u8> {
    let half = answer.iter().position(|&b| b == b'c').unwrap() + 1;
    [before, &answer[..half], middle, &answer[half..], after].concat()
}

#[test]
fn case_24_kitty_without_placeholders_gets_half_blocks() {
    let old = Answers::parse(KITTY_026);
    assert!(old.kitty_graphics);
    assert_eq!(old.terminal.as_deref(), Some("kitty(0.26.5)"));
    assert_eq!(old.lab_protocol(), None);
    assert_eq!(
        Answers::parse(KITTY_035).lab_protocol(),
        Some(ProtocolType::Kitty)
    );
    assert_eq!(
        Answers::parse(XTERM).lab_protocol(),
        Some(ProtocolType::Sixel)
    );
    assert_eq!(Answers::parse(TMUX).lab_protocol(), None);
    assert_eq!(Answers::parse(XTERM).cell, Some((8, 17)));
}

#[test]
fn case_26_the_background_colour_is_read() {
    assert_eq!(Answers::parse(XTERM).light_background(), Some(true));
    assert_eq!(Answers::parse(KITTY_026).light_background(), Some(false));
    assert_eq!(Answers::parse(KITTY_035).light_background(), Some(false));
    assert_eq!(Answers::parse(TMUX).light_background(), None);
}

#[test]
fn case_20_keys_typed_while_the_terminal_answers_are_kept() {
    let bytes = with_keys(XTERM, b"j", b"3", b"\x1b[Bq");
    let a = Answers::parse(&bytes);
    assert!(a.complete);
    assert_eq!(a.lab_protocol(), Some(ProtocolType::Sixel));
    assert_eq!(a.typed, b"j3\x1b[Bq");
    let plain = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
    assert_eq!(
        keys(&a.typed),
        vec![
            plain('j'),
            plain('3'),
            KeyEvent::new(KeyCode::Down, KeyModifiers::NONE),
            plain('q')
        ]
    );
    // Cut short before the status report: not complete, and what came is still read.
    let cut = Answers::parse(&with_keys(TMUX, b"2", b"", b"")[..12]);
    assert!(!cut.complete);
    assert_eq!(cut.typed, b"2");
}

#[test]
fn typed_bytes_become_the_keys_the_lab_reads() {
    let none = KeyModifiers::NONE;
    assert_eq!(
        keys(b"\r\t\x7f\x1b\x1b[5~\x1b[6~\x1bOA\x1b[H\x03\xc3\xa9"),
        vec![
            KeyEvent::new(KeyCode::Enter, none),
            KeyEvent::new(KeyCode::Tab, none),
            KeyEvent::new(KeyCode::Backspace, none),
            KeyEvent::new(KeyCode::Esc, none),
            KeyEvent::new(KeyCode::PageUp, none),
            KeyEvent::new(KeyCode::PageDown, none),
            KeyEvent::new(KeyCode::Up, none),
            KeyEvent::new(KeyCode::Home, none),
            KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL),
            KeyEvent::new(KeyCode::Char('é'), none),
        ]
    );
}
