//! The failure cases found by fault injection (issue 16), each reproduced on the binary: no
//! panic, no abort, no exit 0 on corrupt data, nothing outside the workspace, and one bad run
//! never hides the others. Numbers refer to the issue's list.

#![allow(clippy::unwrap_used)]

mod common;

use common::Lab;

fn no_panic(err: &str) {
    assert!(!err.contains("panicked"), "{err}");
}

fn trained(lab: &Lab) {
    lab.ok(&["demo", "--images", "300"]);
    lab.ok(&[
        "train", "--data", "demo", "--lambda", "1e-2", "--dict", "32", "--epochs", "1", "--batch",
        "64",
    ]);
}

/// Case 2: A set with fewer rows than a batch is refused; a run whose files are damaged is skipped
/// with a warning by every reader, which go on with the others.
#[test]
fn case_02_one_bad_run_never_hides_the_others() {
    let lab = Lab::new();
    lab.ok(&["demo", "--images", "1"]);
    let err = lab.fails(
        &[
            "train", "--data", "demo", "--lambda", "1e-2", "--dict", "64", "--epochs", "1",
        ],
        1,
    );
    assert!(err.contains("--batch") && err.contains("1 row"), "{err}");
    assert!(!lab.ws().join("runs/demo-lam1e-2").exists());

    let lab = Lab::new();
    trained(&lab);
    lab.ok(&[
        "train", "--data", "demo", "--lambda", "3e-2", "--dict", "32", "--epochs", "1", "--batch",
        "64",
    ]);
    std::fs::write(lab.run_dir("demo-lam1e-2").join("state.json"), "x").unwrap();
    for args in [&["runs"][..], &["metrics"][..]] {
        let out = lab.run(args);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(out.status.success(), "{args:?}: {stderr}");
        assert!(stdout.contains("demo-lam3e-2"), "{args:?}: {stdout}");
        assert!(
            stderr.contains("skipped run 'demo-lam1e-2'") && stderr.contains("state.json"),
            "{args:?}: {stderr}"
        );
    }
    let rows = lab.json(&["metrics"]);
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    let report = lab.dir.path().join("report");
    lab.ok(&["report", "--out", report.to_str().unwrap()]);
}

/// Case 3: A set whose `set.toml` says 0 dimensions is named, not a panic.
#[test]
fn case_03_a_set_of_zero_dimensions_is_refused() {
    let lab = Lab::new();
    lab.ok(&["demo", "--images", "50"]);
    let toml = lab.ws().join("sets/demo/set.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(&toml, text.replace("dim = 512", "dim = 0")).unwrap();
    let err = lab.fails(
        &[
            "train", "--data", "demo", "--lambda", "1e-3", "--dict", "16",
        ],
        1,
    );
    no_panic(&err);
    assert!(err.contains("set.toml") && err.contains("dim"), "{err}");
    // Listing goes on, with a warning naming the set.
    let out = lab.run(&["sets"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("set 'demo' cannot be read"));
}

/// Case 9: An epoch count that overflows the step count is refused.
#[test]
fn case_09_huge_epochs_are_refused() {
    let lab = Lab::new();
    lab.ok(&["demo", "--images", "50"]);
    let err = lab.fails(
        &[
            "train",
            "--data",
            "demo",
            "--lambda",
            "1e-3",
            "--dict",
            "16",
            "--batch",
            "8",
            "--epochs",
            "4611686018427387904",
        ],
        1,
    );
    no_panic(&err);
    assert!(err.contains("--epochs"), "{err}");
}

/// Case 10: Run and set arguments are names, never paths out of the workspace: a run copied
/// outside it is not reached through `..`.
#[test]
fn case_10_names_are_names() {
    let lab = Lab::new();
    trained(&lab);
    let outside = lab.dir.path().join("out/evil");
    std::fs::create_dir_all(outside.parent().unwrap()).unwrap();
    let copied = std::process::Command::new("cp")
        .args(["-r"])
        .arg(lab.run_dir("demo-lam1e-2"))
        .arg(&outside)
        .status()
        .unwrap();
    assert!(copied.success());
    let evil = "../../out/evil";
    for args in [
        vec!["latents", evil],
        vec!["show", evil, "0"],
        vec!["steer", evil, "--image", "0", "--latent", "0"],
        vec!["resume", evil],
        vec!["explain", evil, "--text", "red"],
        vec!["train", "--data", "../sets/demo", "--lambda", "1e-3"],
        vec!["metrics", evil],
    ] {
        let err = lab.fails(&args, 1);
        no_panic(&err);
        assert!(err.contains("must be letters"), "{args:?}: {err}");
    }
    assert!(
        !outside.join("latents").exists(),
        "nothing was written outside"
    );
}

/// Case 11: A strength that is not a finite number is refused, and nothing is saved.
#[test]
fn case_11_infinite_strength_is_refused() {
    let lab = Lab::new();
    trained(&lab);
    for s in ["inf", "NaN", "-inf"] {
        // `=` keeps clap from reading "-inf" as a flag.
        let strength = format!("--strength={s}");
        let err = lab.fails(
            &[
                "steer",
                "demo-lam1e-2",
                "--image",
                "0",
                "--latent",
                "0",
                &strength,
            ],
            1,
        );
        assert!(err.contains("--strength"), "{s}: {err}");
    }
    let report = lab.dir.path().join("report");
    lab.ok(&["report", "--out", report.to_str().unwrap()]);
}

/// Case 13: A sweep with one bad λ leaves no run behind, however the list is written; spaces after
/// commas are accepted.
#[test]
fn case_13_a_bad_sweep_leaves_nothing_and_spaces_are_fine() {
    let lab = Lab::new();
    lab.ok(&["demo", "--images", "50"]);
    let err = lab.fails(
        &[
            "sweep",
            "--data",
            "demo",
            "--lambdas=1e-2,-1",
            "--dict",
            "16",
        ],
        1,
    );
    assert!(err.contains("--lambda"), "{err}");
    assert!(
        !lab.ws().join("runs/demo-lam1e-2").exists(),
        "no run is left behind"
    );
    lab.ok(&[
        "sweep",
        "--data",
        "demo",
        "--lambdas",
        "1e-2, 3e-2",
        "--dict",
        "16",
        "--epochs",
        "1",
        "--batch",
        "16",
    ]);
    assert!(lab.ws().join("runs/demo-lam3e-2").exists());
}

/// Case 22: Every option says what it is, global options are apart, and the top-level help says
/// that `saelab` alone opens the lab and names no file outside the repository.
#[test]
fn case_22_the_help_describes_every_option() {
    let lab = Lab::new();
    let top = lab.ok(&["--help"]);
    assert!(top.contains("opens the lab"), "{top}");
    assert!(!top.contains("shared/"), "{top}");
    for sub in [
        "sweep", "train", "image", "show", "embed", "steer", "explain", "bench",
    ] {
        // The short help: one line an option.
        let help = lab.ok(&[sub, "-h"]);
        assert!(help.contains("Global options"), "{sub}:\n{help}");
        let lines: Vec<&str> = help.lines().collect();
        for (n, line) in lines.iter().enumerate() {
            if !line.trim_start().starts_with("--") {
                continue;
            }
            // A description beside the option, or on the next line (not a bare default).
            let beside = line
                .trim()
                .split("  ")
                .filter(|p| !p.trim().is_empty())
                .count()
                > 1;
            let below = lines.get(n + 1).is_some_and(|next| {
                let t = next.trim();
                !t.is_empty() && !t.starts_with('-') && !t.starts_with('[')
            });
            assert!(
                beside || below,
                "{sub}: an option without a description: {line}\n{help}"
            );
        }
    }
}

/// Case 23: `metrics` shows each run's epochs and lists a set's runs by λ.
#[test]
fn case_23_metrics_show_epochs_and_sort_by_lambda() {
    let lab = Lab::new();
    lab.ok(&["demo", "--images", "100"]);
    for (lambda, epochs) in [("3e-2", "1"), ("1e-3", "2"), ("1e-2", "1")] {
        lab.ok(&[
            "train", "--data", "demo", "--lambda", lambda, "--dict", "16", "--epochs", epochs,
            "--batch", "32",
        ]);
    }
    let table = lab.ok(&["metrics"]);
    assert!(table.contains("epochs"), "{table}");
    let order: Vec<usize> = ["demo-lam1e-3", "demo-lam1e-2", "demo-lam3e-2"]
        .iter()
        .map(|r| table.find(r).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{table}");
    let rows = lab.json(&["metrics"]);
    assert_eq!(rows[0]["epochs"], 2, "{rows}");
}

/// Case 4: a set re-created under a finished run, with another dimension or the same shape but
/// other rows, is named by every command that reads the run, and `resume` refuses new data.
#[test]
fn case_04_a_set_re_created_under_a_run_is_refused() {
    use saelab::engine::set::{write_set, Item, SetFiles, SetMeta};
    let lab = Lab::new();
    trained(&lab);
    lab.ok(&["latents", "demo-lam1e-2"]);
    // The same shape, other rows: a finished run extended on it must refuse.
    lab.ok(&["demo", "--images", "300", "--seed", "9"]);
    let err = lab.fails(&["resume", "demo-lam1e-2", "--epochs", "2"], 1);
    assert!(err.contains("re-created"), "{err}");
    // Another dimension.
    let meta = SetMeta {
        name: "demo".into(),
        source: "test".into(),
        model: "demo-concept-encoder".into(),
        dim: 16,
        count: 300,
        preprocessing: "none".into(),
        created: 0,
        ..Default::default()
    };
    let items: Vec<Item> = (0..300)
        .map(|id| Item {
            id,
            ..Item::default()
        })
        .collect();
    write_set(
        &lab.ws().join("sets"),
        &SetFiles {
            meta,
            embeddings: &vec![0.25; 300 * 16],
            items: &items,
            ground_truth: None,
            report: None,
        },
    )
    .unwrap();
    for args in [
        vec!["latents", "demo-lam1e-2"],
        vec!["show", "demo-lam1e-2", "0"],
        vec!["steer", "demo-lam1e-2", "--image", "0", "--latent", "0"],
        vec!["explain", "demo-lam1e-2", "--image", "0"],
    ] {
        let err = lab.fails(&args, 1);
        no_panic(&err);
        assert!(err.contains("16") && err.contains("512"), "{args:?}: {err}");
    }
    let report = lab.dir.path().join("report");
    let out = lab.run(&["report", "--out", report.to_str().unwrap()]);
    no_panic(&String::from_utf8_lossy(&out.stderr));
}

/// Case 7: a latent index with impossible entries (rows out of range, counts above the set's
/// rows) is rebuilt on load, not trusted.
#[test]
fn case_07_a_damaged_latent_index_is_rebuilt() {
    use saelab::engine::tensorfile::{self, Named, TensorFile};
    let lab = Lab::new();
    trained(&lab);
    lab.ok(&["latents", "demo-lam1e-2"]);
    let path = lab
        .run_dir("demo-lam1e-2")
        .join("latents/index.safetensors");
    let f = TensorFile::read(&path).unwrap();
    let (m, k): (usize, usize) = (32, f.meta("k").unwrap());
    let values = f.f32("top_values", &[m, k]).unwrap();
    let rows = vec![1_000_000u32; m * k];
    let active = vec![600_000_000u32; m];
    let mean = f.f32("mean_active", &[m]).unwrap();
    let max = f.f32("max", &[m]).unwrap();
    let hist = f.u32("histogram", &[m, 16]).unwrap();
    let bins = hist.len() / m;
    tensorfile::write(
        &path,
        &[
            Named::new("top_values", vec![m, k], &values),
            Named::u32("top_rows", vec![m, k], &rows),
            Named::u32("active", vec![m], &active),
            Named::new("mean_active", vec![m], &mean),
            Named::new("max", vec![m], &max),
            Named::u32("histogram", vec![m, bins], &hist),
        ],
        f.metadata(),
    )
    .unwrap();
    for args in [
        vec!["latents", "demo-lam1e-2", "--json"],
        vec!["show", "demo-lam1e-2", "0", "--json"],
        vec!["steer", "demo-lam1e-2", "--image", "0", "--latent", "0"],
    ] {
        let out = lab.run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        no_panic(&err);
        assert!(out.status.success(), "{args:?}: {err}");
    }
    let shown = lab.json(&["show", "demo-lam1e-2", "0"]);
    let freq = shown["frequency"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&freq), "{shown}");
}

/// A process id no process holds: above every Linux `pid_max`.
const DEAD_PID: u32 = 4_194_400;

/// Case 1: a run folder holding only the temporary file of a creation that was killed does
/// not hold the name; orphan temporary files whose process is gone are cleaned.
#[test]
fn case_01_a_killed_creation_leaves_no_stuck_name_or_orphan_files() {
    let lab = Lab::new();
    lab.ok(&["demo", "--images", "50"]);
    let stuck = lab.run_dir("x");
    std::fs::create_dir_all(&stuck).unwrap();
    std::fs::write(stuck.join(format!(".run.toml.tmp-{DEAD_PID}")), "name = ").unwrap();
    let orphan = lab
        .ws()
        .join(format!("sets/demo/.items.jsonl.tmp-{DEAD_PID}"));
    std::fs::write(&orphan, vec![0u8; 1 << 20]).unwrap();
    let live = lab
        .ws()
        .join(format!("sets/demo/.items.jsonl.tmp-{}", std::process::id()));
    std::fs::write(&live, b"mine").unwrap();
    lab.ok(&[
        "train", "--data", "demo", "--lambda", "1e-3", "--dict", "16", "--epochs", "1", "--batch",
        "16", "--name", "x",
    ]);
    assert!(lab.run_dir("x").join("run.toml").is_file());
    assert!(!orphan.exists(), "the orphan of a dead process is cleaned");
    assert!(
        live.exists(),
        "a live process's temporary file is left alone"
    );
}

/// Case 5: a dictionary or batch too large for this machine's memory is refused up front with
/// the figure, and leaves no run behind.
#[test]
fn case_05_too_large_for_memory_is_refused_with_the_figure() {
    let lab = Lab::new();
    lab.ok(&["demo", "--images", "50"]);
    let err = lab.fails(
        &[
            "train",
            "--data",
            "demo",
            "--lambda",
            "1e-3",
            "--dict",
            "100000000",
            "--batch",
            "16",
            "--name",
            "big",
        ],
        1,
    );
    no_panic(&err);
    assert!(err.contains("GiB") && err.contains("--dict"), "{err}");
    assert!(!lab.run_dir("big").exists());
}

/// Case 6: a checkpoint whose tensors were changed, or whose step lies past the run's end, is
/// refused by name.
#[test]
fn case_06_a_damaged_checkpoint_is_refused() {
    let lab = Lab::new();
    lab.ok(&["demo", "--images", "300"]);
    lab.ok(&[
        "train", "--data", "demo", "--lambda", "1e-2", "--dict", "32", "--epochs", "1", "--batch",
        "64", "--name", "c",
    ]);
    let ckpt = lab.run_dir("c").join("checkpoint.safetensors");
    let mut bytes = std::fs::read(&ckpt).unwrap();
    let last = bytes.len() - 9;
    bytes[last] ^= 0x10;
    std::fs::write(&ckpt, &bytes).unwrap();
    let prev = lab.run_dir("c").join("checkpoint.prev.safetensors");
    let _ = std::fs::remove_file(&prev);
    let err = lab.fails(&["resume", "c", "--epochs", "2"], 1);
    assert!(
        err.contains("checkpoint") && err.contains("checksum"),
        "{err}"
    );

    // A checkpoint whose tensors are whole but whose step lies past the run's end.
    bytes[last] ^= 0x10;
    std::fs::write(&ckpt, &bytes).unwrap();
    let f = saelab::engine::tensorfile::TensorFile::read(&ckpt).unwrap();
    let mut meta = f.metadata();
    meta.insert("step".into(), "999".into());
    let names = ["W_enc", "b_enc", "W_dec", "b_dec"];
    let shapes = [vec![512, 32], vec![32], vec![32, 512], vec![512]];
    let mut tensors = Vec::new();
    for (n, shape) in names.iter().zip(&shapes) {
        for prefix in ["", "adam_m.", "adam_v."] {
            let name = format!("{prefix}{n}");
            let values = f.f32(&name, shape).unwrap();
            tensors.push((name, shape.clone(), values));
        }
    }
    let named: Vec<saelab::engine::tensorfile::Named> = tensors
        .iter()
        .map(|(n, s, v)| saelab::engine::tensorfile::Named::new(n.clone(), s.clone(), v))
        .collect();
    saelab::engine::tensorfile::write(&ckpt, &named, meta).unwrap();
    let err = lab.fails(&["resume", "c", "--epochs", "2"], 1);
    assert!(err.contains("step") && err.contains("checkpoint"), "{err}");
}

/// A training long enough to be signalled while it runs.
fn long_training(lab: &Lab, prefix: &[&str]) -> std::process::Child {
    lab.ok(&["demo", "--images", "2000"]);
    let args = [
        "train",
        "--data",
        "demo",
        "--lambda",
        "1e-3",
        "--dict",
        "256",
        "--epochs",
        "400",
        "--batch",
        "64",
        "--checkpoint-every",
        "20",
        "--name",
        "long",
    ];
    let child = if prefix.is_empty() {
        lab.spawn(&args)
    } else {
        std::process::Command::new(prefix[0])
            .args(&prefix[1..])
            .arg(env!("CARGO_BIN_EXE_saelab"))
            .arg("--workspace")
            .arg(lab.ws())
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    common::wait_for(&lab.run_dir("long").join("checkpoint.safetensors"));
    child
}

/// Case 12: SIGTERM and SIGHUP stop training as Ctrl-C does (a checkpoint, the lock released,
/// exit 130), but a process started under `nohup` keeps ignoring SIGHUP.
#[test]
fn case_12_sigterm_and_sighup_save_but_nohup_survives_the_hangup() {
    for sig in ["-TERM", "-HUP"] {
        let lab = Lab::new();
        let child = long_training(&lab, &[]);
        common::signal(&child, sig);
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(130), "{sig}: {out:?}");
        assert!(!lab.run_dir("long").join("train.lock").exists(), "{sig}");
        let runs = lab.json(&["runs"]);
        assert_eq!(runs[0]["status"], "interrupted", "{sig}: {runs}");
    }
    let lab = Lab::new();
    let mut child = long_training(&lab, &["nohup"]);
    common::signal(&child, "-HUP");
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "nohup's process survives SIGHUP"
    );
    common::signal(&child, "-INT");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{out:?}");
}

/// Case 8: the training lock is the OS's: a lock file naming a live but unrelated process does
/// not block, and of two resumes started together exactly one trains. Temporary files carry
/// the host's name, so another machine's on a shared folder are left alone.
#[test]
fn case_08_the_training_lock_is_the_operating_systems() {
    let lab = Lab::new();
    trained(&lab);
    let run = lab.run_dir("demo-lam1e-2");
    std::fs::write(run.join("train.lock"), std::process::id().to_string()).unwrap();
    lab.ok(&["resume", "demo-lam1e-2", "--epochs", "2"]);

    let a = lab.spawn(&["resume", "demo-lam1e-2", "--epochs", "40"]);
    let b = lab.spawn(&["resume", "demo-lam1e-2", "--epochs", "40"]);
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let codes = [a.status.code(), b.status.code()];
    assert!(
        codes.contains(&Some(0)) && codes.contains(&Some(1)),
        "{a:?}\n{b:?}"
    );
    let steps = lab.logged_steps("demo-lam1e-2");
    assert!(
        steps.windows(2).all(|w| w[0] < w[1]),
        "duplicate metrics lines: {steps:?}"
    );

    let elsewhere = lab
        .ws()
        .join(format!("sets/demo/.items.jsonl.tmp-otherhost-{DEAD_PID}"));
    std::fs::write(&elsewhere, b"theirs").unwrap();
    lab.ok(&["runs"]);
    assert!(
        elsewhere.exists(),
        "another machine's temporary file is left alone"
    );
}

/// Case 13, the smaller ones: a failed run's error is printed once; a TOML error is a line or
/// two; a sweep repeated on the same set and settings is refused, naming the runs it would
/// repeat; zero-shot refuses a set whose items.jsonl is shorter than its rows.
#[test]
fn case_13_errors_once_short_toml_repeated_sweeps_and_short_items() {
    let lab = Lab::new();
    trained(&lab);
    let run = lab.run_dir("demo-lam1e-2");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(run.join("train.lock"))
        .unwrap();
    lock.try_lock().unwrap();
    let err = lab.fails(&["resume", "demo-lam1e-2", "--epochs", "2"], 1);
    assert_eq!(err.matches("already being trained").count(), 1, "{err}");
    drop(lock);

    std::fs::write(run.join("run.toml"), "name = [\n").unwrap();
    let err = lab.fails(&["resume", "demo-lam1e-2"], 1);
    assert!(
        err.contains("run.toml") && err.trim().lines().count() <= 2,
        "{err}"
    );

    let lab = Lab::new();
    lab.ok(&["demo", "--images", "100"]);
    let sweep = [
        "sweep",
        "--data",
        "demo",
        "--lambdas",
        "1e-2,3e-2",
        "--dict",
        "16",
        "--epochs",
        "1",
        "--batch",
        "32",
    ];
    lab.ok(&sweep);
    let err = lab.fails(&sweep, 1);
    assert!(
        err.contains("demo-lam1e-2") && err.contains("--prefix"),
        "{err}"
    );
    assert!(!lab.run_dir("demo-lam1e-2-2").exists());

    let items = lab.ws().join("sets/demo/items.jsonl");
    let text = std::fs::read_to_string(&items).unwrap();
    let short: String = text.lines().take(10).map(|l| format!("{l}\n")).collect();
    std::fs::write(&items, short).unwrap();
    // A task of the set's own labels scores the set itself (demo tasks score a held-out set).
    let classes = lab.dir.path().join("mine.toml");
    std::fs::write(
        &classes,
        "classes = [\"red star\", \"blue circle\"]\ntemplates = [\"a photo of a {c}.\"]\n",
    )
    .unwrap();
    let err = lab.fails(
        &[
            "zeroshot",
            "--classes",
            classes.to_str().unwrap(),
            "--set",
            "demo",
        ],
        1,
    );
    assert!(
        err.contains("items.jsonl") && err.contains("10 items"),
        "{err}"
    );
}

/// Case 6, the rest: the previous checkpoint is kept, and a damaged last one falls back to it
/// (saying so); the metrics log then continues from its step without repeating one.
#[test]
fn case_06_a_damaged_checkpoint_falls_back_to_the_previous_one() {
    let lab = Lab::new();
    lab.ok(&["demo", "--images", "300"]);
    lab.ok(&[
        "train",
        "--data",
        "demo",
        "--lambda",
        "1e-2",
        "--dict",
        "32",
        "--epochs",
        "1",
        "--batch",
        "64",
        "--checkpoint-every",
        "2",
        "--name",
        "c",
    ]);
    let dir = lab.run_dir("c");
    let ckpt = dir.join("checkpoint.safetensors");
    assert!(dir.join("checkpoint.prev.safetensors").is_file());
    let mut bytes = std::fs::read(&ckpt).unwrap();
    let last = bytes.len() - 9;
    bytes[last] ^= 0x10;
    std::fs::write(&ckpt, &bytes).unwrap();
    let out = lab.run(&["resume", "c", "--epochs", "2"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("previous checkpoint"), "{err}");
    let runs: serde_json::Value = serde_json::from_str(&lab.ok(&["--json", "runs"])).unwrap();
    assert_eq!(runs[0]["status"], "done", "{runs}");
    assert_eq!(runs[0]["step"], runs[0]["total_steps"], "{runs}");
    let steps = lab.logged_steps("c");
    assert!(steps.windows(2).all(|w| w[0] < w[1]), "{steps:?}");
}

const TINY_CLIP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/clip-tiny-gelu");

/// Case 13, the rest: an operating system's error is printed once (steer with a picture that
/// is not there), and before the seconds of analysis.
#[test]
fn case_13_an_os_error_is_printed_once() {
    let lab = Lab::new();
    let data = format!("folder:{}", lab.pictures(32).display());
    lab.ok(&[
        "embed",
        "--model",
        TINY_CLIP,
        "--dataset",
        &data,
        "--name",
        "k",
    ]);
    lab.ok(&[
        "train", "--data", "k", "--lambda", "1e-3", "--dict", "16", "--epochs", "1", "--batch",
        "4", "--name", "r",
    ]);
    let err = lab.fails(
        &["steer", "r", "--latent", "0", "--image", "/nowhere/p.png"],
        1,
    );
    no_panic(&err);
    assert!(err.contains("/nowhere/p.png"), "{err}");
    assert_eq!(err.matches("os error 2").count(), 1, "{err}");
}

/// Case 13, the rest: a row of 1e30 (its square overflows) is refused naming the set and row,
/// not blamed on the learning rate.
#[test]
fn case_13_a_huge_row_is_blamed_not_the_learning_rate() {
    let lab = Lab::new();
    lab.ok(&["demo", "--images", "300"]);
    let path = lab.ws().join("sets/demo/embeddings.safetensors");
    let f = saelab::engine::tensorfile::TensorFile::read(&path).unwrap();
    let mut x = f.f32("embeddings", &[300, 512]).unwrap();
    for v in &mut x[3 * 512..4 * 512] {
        *v = 1e30;
    }
    let named = [saelab::engine::tensorfile::Named::new(
        "embeddings",
        vec![300, 512],
        &x,
    )];
    saelab::engine::tensorfile::write(&path, &named, f.metadata()).unwrap();
    let err = lab.fails(
        &[
            "train", "--data", "demo", "--lambda", "1e-2", "--dict", "32", "--epochs", "1",
        ],
        1,
    );
    no_panic(&err);
    assert!(err.contains("row 3"), "{err}");
    assert!(!err.contains("--lr"), "{err}");
}

/// Every file and folder under `root` with its size and modification time.
fn listing(root: &std::path::Path) -> Vec<(std::path::PathBuf, u64, std::time::SystemTime)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let m = std::fs::metadata(&p).unwrap();
        out.push((p.clone(), m.len(), m.modified().unwrap()));
        if m.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        }
    }
    out.sort();
    out
}

/// Case 13, the rest: commands that only read (`sets`, `runs`, `metrics`, `report --out`
/// elsewhere) write nothing into the workspace once its caches are filled, so a read-only one
/// serves them.
#[test]
fn case_13_reading_commands_write_nothing() {
    let lab = Lab::new();
    trained(&lab);
    lab.ok(&["latents", "demo-lam1e-2"]);
    let out = lab.dir.path().join("report-elsewhere");
    // The first report fills the workspace's caches (classifiers, the text gap); a cache
    // that cannot be written is only recomputed.
    lab.ok(&["report", "--out", out.to_str().unwrap()]);
    let before = listing(&lab.ws());
    std::thread::sleep(std::time::Duration::from_millis(20));
    lab.ok(&["sets"]);
    lab.ok(&["runs"]);
    lab.ok(&["metrics"]);
    lab.ok(&["report", "--out", out.to_str().unwrap()]);
    assert_eq!(before, listing(&lab.ws()));
    assert!(out.join("README.md").is_file());
}

/// Case 13, the rest: a JPEG cut short (Pillow refuses it: "image file is truncated") is
/// skipped and named, not embedded as a half-grey picture.
#[test]
fn case_13_a_truncated_jpeg_is_not_embedded() {
    let lab = Lab::new();
    let dir = lab.pictures(32);
    let img = image::RgbImage::from_fn(64, 64, |x, y| image::Rgb([x as u8 * 4, y as u8 * 4, 90]));
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode_image(&img)
        .unwrap();
    std::fs::write(dir.join("cut.jpg"), &jpeg[..jpeg.len() * 2 / 3]).unwrap();
    let data = format!("folder:{}", dir.display());
    let out = lab.run(&[
        "embed",
        "--model",
        TINY_CLIP,
        "--dataset",
        &data,
        "--name",
        "k",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("cut.jpg") && err.contains("truncated"),
        "{err}"
    );
    let toml = std::fs::read_to_string(lab.ws().join("sets/k/set.toml")).unwrap();
    assert!(toml.contains("count = 16"), "{toml}");
}

/// Case 16: zero-shot scored on a workspace with no runs keeps CLIP alone's accuracy, and the
/// lab's Zero-shot tab lists the task with it.
#[test]
fn case_16_the_clip_alone_baseline_is_kept_without_runs() {
    let lab = Lab::new();
    lab.ok(&["demo", "--images", "300"]);
    lab.ok(&["zeroshot", "--task", "demo10"]);
    let ws = saelab::engine::workspace::Workspace::open(lab.ws()).unwrap();
    let tasks = saelab::tui::data::load_tasks(&ws, &[]);
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0].task, "demo10");
    assert!(tasks[0].runs.is_empty());
    assert!(tasks[0].baseline.0 > 0.2, "{tasks:?}");
}
