//! Writing the questions and reading the answers without a blocked reader left behind: stdin
//! is polled with a deadline, so a terminal that never answers (or a tmux pane with no client)
//! costs the wait and nothing more, and every byte read is either an answer or a kept key.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use super::answers::{Answers, QUESTIONS};

const STDIN: libc::c_int = 0;
/// Inside tmux the kitty query goes to the terminal outside it, whose answer may come after
/// tmux's own status report: this much longer is waited for it.
const TMUX_GRACE: Duration = Duration::from_millis(150);
const READ: usize = 256;

/// Echo and line buffering off on stdin while it lives, so answers are neither printed nor
/// held back until Enter; output is untouched (unlike raw mode), so printing goes on as usual.
pub struct QuietInput {
    saved: Option<libc::termios>,
}

impl QuietInput {
    pub fn new() -> Self {
        // SAFETY: termios is plain data; tcgetattr fills it or fails, and it is used only
        // after success.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        if unsafe { libc::tcgetattr(STDIN, &mut t) } != 0 {
            return QuietInput { saved: None };
        }
        let saved = t;
        t.c_lflag &= !(libc::ICANON | libc::ECHO);
        t.c_cc[libc::VMIN] = 1;
        t.c_cc[libc::VTIME] = 0;
        // SAFETY: t is a valid termios from tcgetattr.
        let set = unsafe { libc::tcsetattr(STDIN, libc::TCSANOW, &t) } == 0;
        QuietInput {
            saved: set.then_some(saved),
        }
    }
}

impl Default for QuietInput {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for QuietInput {
    fn drop(&mut self) {
        if let Some(saved) = self.saved {
            // SAFETY: saved came from tcgetattr on the same descriptor.
            unsafe { libc::tcsetattr(STDIN, libc::TCSANOW, &saved) };
        }
    }
}

fn in_tmux() -> bool {
    std::env::var_os("TMUX").is_some_and(|v| !v.is_empty())
}

/// The questions as sent: inside tmux the kitty query is passed through to the terminal
/// outside, and tmux answers the rest itself.
fn questions() -> String {
    if !in_tmux() {
        return QUESTIONS.to_string();
    }
    let _ = std::process::Command::new("tmux")
        .args(["set", "-p", "allow-passthrough", "on"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    let kitty = "\x1b_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\";
    let wrapped = format!("\x1bPtmux;{}\x1b\\", kitty.replace('\x1b', "\x1b\x1b"));
    format!("{wrapped}{}", QUESTIONS.replacen(kitty, "", 1))
}

/// Waits until stdin has bytes or `wait` passes.
fn readable(wait: Duration) -> bool {
    let mut fd = libc::pollfd {
        fd: STDIN,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = wait.as_millis().min(i32::MAX as u128) as libc::c_int;
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut fd, 1, ms) > 0 }
}

fn read_some(into: &mut Vec<u8>) -> bool {
    let mut buf = [0u8; READ];
    // SAFETY: buf is READ bytes long.
    let n = unsafe { libc::read(STDIN, buf.as_mut_ptr().cast(), READ) };
    if n <= 0 {
        return false;
    }
    into.extend_from_slice(&buf[..n as usize]);
    true
}

/// Asks the terminal on stdout and reads its answers from stdin for at most `patience`.
/// Not a terminal, or no answer: empty answers (half blocks, the default theme).
pub fn ask(patience: Duration) -> Answers {
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Answers::default();
    }
    let _quiet = QuietInput::new();
    let mut out = std::io::stdout();
    if out
        .write_all(questions().as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        return Answers::default();
    }
    let start = Instant::now();
    let mut deadline = patience;
    let mut bytes = Vec::new();
    loop {
        let answers = Answers::parse(&bytes);
        if answers.complete && (answers.kitty_graphics || !in_tmux()) {
            return answers;
        }
        if answers.complete && deadline == patience {
            deadline = start.elapsed() + TMUX_GRACE;
        }
        let left = deadline.saturating_sub(start.elapsed());
        if left.is_zero() || !readable(left) || !read_some(&mut bytes) {
            return Answers::parse(&bytes);
        }
    }
}
