//! What real terminals answered to the lab's questions, for tests.

/// xterm 379 started with `-ti vt340` (sixel), black on white.
pub const XTERM: &[u8] = b"\x1bP>|XTerm(379)\x1b\\\x1b[?63;1;2;4;6;9;15;16;22;28c\x1b[6;17;8t\x1b]11;rgb:ffff/ffff/ffff\x1b\\\x1b[0n";
/// Debian 12's kitty: it answers the graphics query but draws no Unicode placeholders.
pub const KITTY_026: &[u8] = b"\x1b_Gi=31;OK\x1b\\\x1bP>|kitty(0.26.5)\x1b\\\x1b[?62;c\x1b[6;20;10t\x1b]11;rgb:0000/0000/0000\x07\x1b[0n";
/// A kitty that draws them.
pub const KITTY_035: &[u8] = b"\x1b_Gi=31;OK\x1b\\\x1bP>|kitty(0.35.2)\x1b\\\x1b[?62;c\x1b[6;20;10t\x1b]11;rgb:1e1e/1e1e/2e2e\x1b\\\x1b[0n";
/// tmux answers for itself: no pictures, no cell size, no colour.
pub const TMUX: &[u8] = b"\x1bP>|tmux 3.3a\x1b\\\x1b[?1;2c\x1b[0n";
