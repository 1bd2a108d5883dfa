//! Reading the terminal's answers out of what arrives on stdin, which may also hold keys the
//! user typed meanwhile.

use ratatui_image::picker::ProtocolType;

const ESC: u8 = 0x1b;
const BEL: u8 = 0x07;

/// The questions, answered in order; the status report (`CSI 5 n`) comes last from every
/// terminal, so its answer says that nothing more is coming.
pub const QUESTIONS: &str = concat!(
    "\x1b_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\", // kitty graphics: a one-pixel query
    "\x1b[>0q",                                   // XTVERSION: name and version
    "\x1b[c",                                     // DA1: 4 among the attributes is sixel
    "\x1b[16t",                                   // a cell's size in pixels
    "\x1b]11;?\x1b\\",                            // the background colour
    "\x1b[5n",                                    // status report: the end
);

/// The first kitty that draws Unicode placeholders, which ratatui-image places pictures with.
const KITTY_PLACEHOLDERS: (u32, u32) = (0, 28);
/// Terminals that answer the kitty and sixel queries but draw neither well (ratatui-image's
/// compatibility list); they get iTerm2 pictures or half blocks.
const NEITHER: [&str; 2] = ["wezterm", "konsole"];
/// Relative luminance above which a background is light (ITU-R BT.709 weights).
const LIGHT: f64 = 0.5;

/// What the terminal said, and what the user typed meanwhile.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answers {
    /// It answered the kitty graphics query.
    pub kitty_graphics: bool,
    /// Its device attributes include sixel.
    pub sixel: bool,
    /// Its name and version, as XTVERSION gives them ("kitty(0.26.5)", "XTerm(379)").
    pub terminal: Option<String>,
    /// A cell's size in pixels: (width, height).
    pub cell: Option<(u16, u16)>,
    /// The background colour, 8 bits a channel.
    pub background: Option<[u8; 3]>,
    /// Bytes that were no answer: keys, in the order typed.
    pub typed: Vec<u8>,
    /// The last answer came, so nothing more is on its way.
    pub complete: bool,
}

/// One escape sequence at the start of the input.
enum Sequence {
    /// An answer, this many bytes long.
    Answer(Answer, usize),
    /// A key (an arrow, Alt+letter), this many bytes long.
    Key(usize),
    /// Cut off: the rest is still coming.
    Unfinished,
}

enum Answer {
    Kitty,
    Attributes(String),
    Version(String),
    Cell(u16, u16),
    Background([u8; 3]),
    Status,
    Other,
}

impl Answers {
    /// Reads every answer out of `bytes`; the rest is what was typed.
    pub fn parse(bytes: &[u8]) -> Answers {
        let mut a = Answers::default();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] != ESC {
                a.typed.push(bytes[i]);
                i += 1;
                continue;
            }
            match sequence(&bytes[i..]) {
                Sequence::Answer(answer, len) => {
                    a.take(answer);
                    i += len;
                }
                Sequence::Key(len) => {
                    a.typed.extend_from_slice(&bytes[i..i + len]);
                    i += len;
                }
                Sequence::Unfinished => break,
            }
        }
        a
    }

    fn take(&mut self, answer: Answer) {
        match answer {
            Answer::Kitty => self.kitty_graphics = true,
            Answer::Attributes(list) => self.sixel = list.split(';').any(|p| p == "4"),
            Answer::Version(v) => self.terminal = Some(v),
            Answer::Cell(w, h) => self.cell = Some((w, h)),
            Answer::Background(rgb) => self.background = Some(rgb),
            Answer::Status => self.complete = true,
            Answer::Other => {}
        }
    }

    /// The protocol the lab draws collages with, when the answers settle it; `None` leaves
    /// the choice to hints in the environment (iTerm2), else half blocks.
    pub fn lab_protocol(&self) -> Option<ProtocolType> {
        if self.draws_nothing_well() {
            return None;
        }
        if self.kitty_graphics && self.draws_placeholders() {
            Some(ProtocolType::Kitty)
        } else if self.sixel {
            Some(ProtocolType::Sixel)
        } else {
            None
        }
    }

    /// Whether kitty pictures placed directly (as viuer places them) and sixel are drawn.
    pub fn direct_protocols(&self) -> (bool, bool) {
        if self.draws_nothing_well() {
            return (false, false);
        }
        (self.kitty_graphics, self.sixel)
    }

    /// True on a light background, `None` when the terminal did not say.
    pub fn light_background(&self) -> Option<bool> {
        let [r, g, b] = self.background?;
        let luminance = (0.2126 * r as f64 + 0.7152 * g as f64 + 0.0722 * b as f64) / 255.0;
        Some(luminance > LIGHT)
    }

    /// The terminal's name in lower case and its version numbers, from XTVERSION.
    fn name_and_version(&self) -> Option<(String, Vec<u32>)> {
        let t = self.terminal.as_deref()?;
        let (name, rest) = t.split_once(['(', ' ']).unwrap_or((t, ""));
        let version = rest
            .trim_end_matches(')')
            .split('.')
            .map_while(|p| p.parse().ok())
            .collect();
        Some((name.to_lowercase(), version))
    }

    fn draws_placeholders(&self) -> bool {
        match self.name_and_version() {
            Some((name, v)) if name == "kitty" => {
                let (major, minor) = KITTY_PLACEHOLDERS;
                (v.first().copied(), v.get(1).copied()) >= (Some(major), Some(minor))
            }
            _ => true,
        }
    }

    fn draws_nothing_well(&self) -> bool {
        self.name_and_version()
            .is_some_and(|(name, _)| NEITHER.contains(&name.as_str()))
    }
}

fn sequence(s: &[u8]) -> Sequence {
    match s.get(1) {
        None => Sequence::Key(1),
        Some(&ESC) => Sequence::Key(1),
        Some(b'[') => control(s),
        Some(b'P' | b'_' | b']') => string(s),
        Some(b'O') if s.len() < 3 => Sequence::Unfinished,
        Some(b'O') => Sequence::Key(3),
        Some(_) => Sequence::Key(2),
    }
}

/// `ESC [ params final`: an answer to DA1, the cell size or the status report, else a key.
fn control(s: &[u8]) -> Sequence {
    let Some(end) = s[2..].iter().position(|b| (0x40..=0x7e).contains(b)) else {
        return Sequence::Unfinished;
    };
    let len = end + 3;
    let body = String::from_utf8_lossy(&s[2..len - 1]).into_owned();
    let answer = match s[len - 1] {
        b'c' if body.starts_with('?') => Answer::Attributes(body[1..].to_string()),
        b't' if body.starts_with("6;") => {
            let mut p = body[2..].split(';').map(|n| n.parse::<u16>().ok());
            match (p.next().flatten(), p.next().flatten()) {
                (Some(h), Some(w)) if h > 0 && w > 0 => Answer::Cell(w, h),
                _ => Answer::Other,
            }
        }
        b'n' if body == "0" => Answer::Status,
        _ => return Sequence::Key(len),
    };
    Sequence::Answer(answer, len)
}

/// `ESC P|_|] … ST` (or BEL for OSC): a version, a kitty reply, a colour, or an answer
/// to nothing asked.
fn string(s: &[u8]) -> Sequence {
    let body_and_len = (2..s.len()).find_map(|i| match s[i] {
        BEL => Some((&s[2..i], i + 1)),
        ESC if s.get(i + 1) == Some(&b'\\') => Some((&s[2..i], i + 2)),
        _ => None,
    });
    let Some((body, len)) = body_and_len else {
        return Sequence::Unfinished;
    };
    let body = String::from_utf8_lossy(body);
    let answer = if let Some(v) = body.strip_prefix(">|") {
        Answer::Version(v.to_string())
    } else if body == "Gi=31;OK" {
        Answer::Kitty
    } else if let Some(rgb) = body.strip_prefix("11;rgb:").and_then(colour) {
        Answer::Background(rgb)
    } else {
        Answer::Other
    };
    Sequence::Answer(answer, len)
}

/// `RRRR/GGGG/BBBB`, each channel 1 to 4 hex digits.
fn colour(text: &str) -> Option<[u8; 3]> {
    let mut out = [0u8; 3];
    let mut parts = text.split('/');
    for c in &mut out {
        let hex = parts.next()?;
        if hex.is_empty() || hex.len() > 4 {
            return None;
        }
        let v = u32::from_str_radix(hex, 16).ok()?;
        let max = (1u32 << (4 * hex.len())) - 1;
        *c = (v * 255 / max) as u8;
    }
    parts.next().is_none().then_some(out)
}
