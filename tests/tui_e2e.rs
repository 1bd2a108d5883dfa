//! The real binary in tmux on a fresh workspace: the lab opens on the demo world, a short sweep
//! started from the Train tab grows its charts, tabs switch, a latent's collage renders as
//! halfblocks, and `q` leaves the terminal as it was.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::Lab;

struct Tmux {
    session: String,
}

impl Tmux {
    fn keys(&self, keys: &[&str]) {
        for k in keys {
            let ok = Command::new("tmux")
                .args(["send-keys", "-t", &self.session, k])
                .status()
                .unwrap();
            assert!(ok.success());
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.session])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen satisfies `ok`, or fails showing it.
    fn wait(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "never saw {what}:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.session])
            .status();
    }
}

/// The lab on `lab`'s workspace in a detached tmux session, 160×48.
fn open_lab(lab: &Lab) -> Tmux {
    static OPENED: AtomicUsize = AtomicUsize::new(0);
    let n = OPENED.fetch_add(1, Ordering::SeqCst);
    let session = format!("saelab-e2e-{}-{n}", std::process::id());
    let exe = env!("CARGO_BIN_EXE_saelab");
    let shell = format!(
        "HF_HOME={} {exe} --workspace {} 2>/dev/null; echo LAB-EXITED; sleep 60",
        lab.hf_home().display(),
        lab.ws().display()
    );
    let started = Command::new("tmux")
        .args([
            "new-session",
            "-d",
            "-s",
            &session,
            "-x",
            "160",
            "-y",
            "48",
            "bash",
            "--norc",
            "-c",
        ])
        .arg(format!("echo BEFORE-LAB; {shell}"))
        .status()
        .unwrap();
    assert!(started.success());
    Tmux { session }
}

#[test]
fn the_lab_opens_trains_explores_and_restores_the_terminal() {
    let lab = Lab::new();
    let t = open_lab(&lab);
    t.wait("the lab, ready", |s| {
        s.contains("1 Train") && s.contains("no runs yet") && !s.contains("starting: asking")
    });
    // The first key after the first frame counts: the terminal query (in a child process)
    // leaves no reader behind to eat it, even in tmux, which leaves the query unanswered.
    t.keys(&["2"]);
    t.wait("the Metrics tab at the first key", |s| {
        s.contains("frontier")
    });
    t.keys(&["1"]);
    t.wait("the Train tab again", |s| s.contains("no runs yet"));
    // A short sweep: 1 epoch, 256 latents.
    t.keys(&[
        "j", "j", "e", "BSpace", "1", "Enter", "j", "e", "BSpace", "BSpace", "BSpace", "BSpace",
        "2", "5", "6", "Enter", "s",
    ]);
    let s = t.wait("three runs training or done", |s| {
        s.matches("demo-lam").count() >= 3
    });
    assert!(s.contains("epochs 1"), "{s}");
    t.wait("the charts drawn", |s| {
        s.contains('⠀') || s.chars().any(|c| ('\u{2801}'..='\u{28ff}').contains(&c))
    });
    t.wait("the sweep done", |s| s.matches(" done").count() >= 3);
    t.keys(&["2"]);
    t.wait("the metrics table", |s| s.contains("frontier"));
    t.keys(&["4"]);
    let s = t.wait("a collage in halfblocks", |s| {
        s.contains("latents · by frequency") && s.matches('▄').count() + s.matches('▀').count() > 50
    });
    assert!(s.contains("latent "), "{s}");
    t.keys(&["t"]);
    t.wait("steering previews", |s| {
        s.contains("nearest images to the steered embedding") && s.contains("preview")
    });
    t.keys(&["q"]);
    let s = t.wait("the lab to exit", |s| s.contains("LAB-EXITED"));
    assert!(
        s.contains("BEFORE-LAB"),
        "the screen before the lab is back:\n{s}"
    );
    assert!(!s.contains("1 Train"), "no lab left on screen:\n{s}");
}

/// Explain's text mode: a text typed on the sixth tab lists the latent of its colour.
#[test]
fn the_explain_tab_explains_a_typed_text() {
    let lab = Lab::new();
    lab.ok(&["demo", "--images", "8000"]);
    lab.ok(&[
        "train", "--data", "demo", "--arch", "topk", "--k", "16", "--dict", "256", "--epochs", "3",
        "--name", "r",
    ]);
    let t = open_lab(&lab);
    t.wait("the lab, ready", |s| {
        s.contains("6 Explain") && !s.contains("starting: asking")
    });
    t.keys(&["6"]);
    t.wait("a picture explained", |s| {
        s.contains("image 0:") && s.contains("latent")
    });
    t.keys(&["/", "r", "e", "d", "Space", "s", "t", "a", "r", "Enter"]);
    let s = t.wait("the text explained", |s| s.contains("text \"red star\""));
    let listed: Vec<&str> = s
        .lines()
        .skip_while(|l| !l.contains("text \"red star\""))
        .take(6)
        .collect();
    assert!(listed.iter().any(|l| l.contains("red")), "{s}");
    t.keys(&["q"]);
    t.wait("the lab to exit", |s| s.contains("LAB-EXITED"));
}

/// Steer's `g` on a run trained on the tiny random Kandinsky's image embeddings, with
/// `kandinsky.toml` written by hand: a generation job runs, its step gauge shows, then the
/// three pictures are drawn inline.
#[test]
fn the_steer_tab_generates_a_triptych() {
    let lab = Lab::new();
    let k = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/kandinsky-tiny");
    let pictures = lab.pictures(40);
    let data = format!("folder:{}", pictures.display());
    let encoder = format!("{k}/prior/image_encoder");
    lab.ok(&[
        "embed",
        "--model",
        &encoder,
        "--dataset",
        &data,
        "--name",
        "k",
    ]);
    lab.ok(&[
        "train", "--data", "k", "--lambda", "1e-3", "--dict", "16", "--epochs", "1", "--batch",
        "8", "--name", "kr",
    ]);
    std::fs::write(
        lab.ws().join("kandinsky.toml"),
        format!("decoder = \"{k}/decoder\"\nprior = \"{k}/prior\"\nsteps = 3\nsize = 64\n"),
    )
    .unwrap();
    let t = open_lab(&lab);
    t.wait("the lab, ready", |s| {
        s.contains("1 Train") && !s.contains("starting: asking")
    });
    t.keys(&["4"]);
    t.wait("the run's latents", |s| {
        s.contains("latents · by frequency")
    });
    t.keys(&["t"]);
    t.wait("steering previews", |s| {
        s.contains("nearest images to the steered embedding")
    });
    t.keys(&["g"]);
    let s = t.wait("the triptych drawn", |s| {
        s.contains("Kandinsky 2.2 · latent")
            && s.contains("minus")
            && s.matches('▀').count() + s.matches('▄').count() > 30
    });
    assert!(s.contains("orig") && s.contains("plus"), "{s}");
    let made = lab.run_dir("kr").join("generated");
    let folder = std::fs::read_dir(&made)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert!(folder.join("triptych.json").is_file());
    t.keys(&["q"]);
    t.wait("the lab to exit", |s| s.contains("LAB-EXITED"));
}

/// Issue 16, case 20: keys typed while the lab is still asking the terminal what it draws
/// are kept (tmux leaves the lab's picture question unanswered for seconds).
#[test]
fn case_20_keys_typed_at_start_are_kept() {
    let lab = Lab::new();
    lab.ok(&["demo", "--images", "400"]);
    let t = open_lab(&lab);
    t.wait("the lab's first frame", |s| s.contains("1 Train"));
    t.keys(&["2"]);
    t.wait("the Metrics tab", |s| s.contains("frontier"));
    t.keys(&["q"]);
    t.wait("the lab to exit", |s| s.contains("LAB-EXITED"));
}

/// Issue 16, case 21: `saelab show` in a terminal prints the collage and nothing of the
/// terminal's answers to its questions (`^[[?1;2c` from tmux).
#[test]
fn case_21_show_prints_no_terminal_answer() {
    let lab = Lab::new();
    lab.ok(&["demo", "--images", "2000"]);
    lab.ok(&[
        "train", "--data", "demo", "--arch", "topk", "--k", "16", "--dict", "64", "--epochs", "1",
        "--name", "r",
    ]);
    lab.ok(&["latents", "r"]);
    static SHOWN: AtomicUsize = AtomicUsize::new(0);
    let session = format!(
        "saelab-show-{}-{}",
        std::process::id(),
        SHOWN.fetch_add(1, Ordering::SeqCst)
    );
    let shell = format!(
        "{} --workspace {} show r 0; echo SHOW-EXITED; sleep 60",
        env!("CARGO_BIN_EXE_saelab"),
        lab.ws().display()
    );
    let started = Command::new("tmux")
        .args(["new-session", "-d", "-s", &session, "-x", "120", "-y", "60"])
        .args(["bash", "--norc", "-c", &shell])
        .status()
        .unwrap();
    assert!(started.success());
    let t = Tmux { session };
    let s = t.wait("show to finish", |s| s.contains("SHOW-EXITED"));
    assert!(s.matches('▄').count() + s.matches('▀').count() > 50, "{s}");
    assert!(!s.contains("[?"), "a terminal answer printed as text:\n{s}");
    assert!(
        !s.contains("1;2c"),
        "a terminal answer printed as text:\n{s}"
    );
}
