//! Key tables: each tab (and the frame) lists its keys once, as data; its handler looks the
//! pressed key up in the table and the help overlay is written from the same table, so the
//! two cannot drift.

use crossterm::event::{KeyCode, KeyEvent};

/// Keys that do one thing, and the words the help gives it. An empty `help` joins the keys to
/// the line above (a pair such as up and down, described once).
pub struct Binding<C: 'static> {
    pub keys: &'static [KeyCode],
    pub does: C,
    pub help: &'static str,
}

/// One line of the help overlay: the keys, and what they do.
pub type HelpLine = (String, &'static str);

/// What `key` does in `table`, if anything.
pub fn find<C: Copy>(table: &[Binding<C>], key: &KeyEvent) -> Option<C> {
    table
        .iter()
        .find(|b| b.keys.contains(&key.code))
        .map(|b| b.does)
}

/// The help lines of a table.
pub fn help<C>(table: &[Binding<C>]) -> Vec<HelpLine> {
    let mut lines: Vec<HelpLine> = Vec::new();
    for b in table {
        let keys = b.keys.iter().map(name).collect::<Vec<_>>().join(" ");
        match lines.last_mut() {
            Some(last) if b.help.is_empty() => last.0 = format!("{} / {keys}", last.0),
            _ => lines.push((keys, b.help)),
        }
    }
    lines
}

/// How the help writes a key.
pub fn name(code: &KeyCode) -> String {
    match code {
        KeyCode::Char(' ') => "space".into(),
        KeyCode::Char(c) => c.to_string(),
        KeyCode::Up => "↑".into(),
        KeyCode::Down => "↓".into(),
        KeyCode::Left => "←".into(),
        KeyCode::Right => "→".into(),
        KeyCode::PageUp => "PgUp".into(),
        KeyCode::PageDown => "PgDn".into(),
        KeyCode::BackTab => "S-Tab".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Does {
        Up,
        Quit,
    }

    const TABLE: &[Binding<Does>] = &[
        Binding {
            keys: &[KeyCode::Up, KeyCode::Char('k')],
            does: Does::Up,
            help: "up",
        },
        Binding {
            keys: &[KeyCode::Char('q'), KeyCode::Esc],
            does: Does::Quit,
            help: "quit",
        },
        Binding {
            keys: &[KeyCode::Char('x')],
            does: Does::Quit,
            help: "",
        },
    ];

    #[test]
    fn a_key_finds_its_binding_and_the_help_names_every_key() {
        assert_eq!(
            find(TABLE, &KeyEvent::from(KeyCode::Char('k'))),
            Some(Does::Up)
        );
        assert_eq!(find(TABLE, &KeyEvent::from(KeyCode::Esc)), Some(Does::Quit));
        assert_eq!(find(TABLE, &KeyEvent::from(KeyCode::Char('z'))), None);
        assert_eq!(
            help(TABLE),
            [("↑ k".to_string(), "up"), ("q Esc / x".to_string(), "quit")]
        );
    }
}
