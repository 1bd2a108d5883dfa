//! The binary end to end: train, sweep, runs, metrics, Ctrl-C and kill -9 with resume.

#![allow(clippy::unwrap_used)]

mod common;

use common::{signal, wait_for, Lab};
use saelab::engine::sae::checkpoint::load_weights;

/// A run long enough to interrupt, short enough for CI.
const LONG: &[&str] = &[
    "--dict",
    "256",
    "--batch",
    "50",
    "--epochs",
    "400",
    "--checkpoint-every",
    "10",
    "--log-every",
    "5",
];

fn with(args: &[&str], extra: &[&str]) -> Vec<String> {
    args.iter().chain(extra).map(|s| s.to_string()).collect()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn sweep_runs_and_metrics_speak_the_contract() {
    let lab = Lab::new();
    lab.ok(&["demo", "--images", "400"]);
    let sets = lab.json(&["sets"]);
    assert_eq!(sets[0]["name"], "demo");
    assert_eq!(sets[0]["count"], 400);
    lab.ok(&[
        "--quiet",
        "sweep",
        "--data",
        "demo",
        "--lambdas",
        "1e-3,3e-2",
        "--dict",
        "128",
        "--epochs",
        "2",
        "--batch",
        "64",
    ]);

    let runs = lab.json(&["runs"]);
    let names: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["demo-lam1e-3", "demo-lam3e-2"]);
    for r in runs.as_array().unwrap() {
        assert_eq!(r["status"], "done");
        assert_eq!(r["step"], r["total_steps"]);
        assert_eq!(r["step"], 14);
    }
    let metrics = lab.json(&["metrics"]);
    let rows = metrics.as_array().unwrap();
    for key in [
        "run",
        "data",
        "lambda",
        "dict",
        "l1_convention",
        "avg_l0",
        "mse",
        "l1",
        "r2",
        "fvu",
        "dead_frac",
        "dense_frac",
        "examples_per_sec",
        "gt_recovery",
        "gt_recovered_frac",
    ] {
        assert!(rows[0].get(key).is_some(), "metrics --json lacks {key}");
    }
    let l0 = |i: usize| rows[i]["avg_l0"].as_f64().unwrap();
    assert!(l0(0) > l0(1), "a larger λ gives a sparser code");
    let table = lab.ok(&["metrics"]);
    assert!(
        table.contains("| demo-lam1e-3 |") && table.contains("gt recovery"),
        "{table}"
    );

    // Zero-shot: CLIP alone first (run null), then each run; the control equals the baseline.
    let zs = lab.json(&["zeroshot", "--task", "demo10"]);
    let rows = zs.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows[0]["run"].is_null());
    for key in ["task", "run", "top1", "top5", "n"] {
        assert!(rows[1].get(key).is_some(), "zeroshot --json lacks {key}");
    }
    assert_eq!(rows[1]["control_top1"], rows[0]["top1"]);
    assert!(lab.run_dir("demo-lam1e-3").join("zeroshot.json").is_file());

    // Latents: the study's CSV, and a latent shown in a plain (non-terminal) stdout.
    let csv = lab.dir.path().join("latents.csv");
    lab.ok(&[
        "latents",
        "demo-lam1e-3",
        "--csv",
        csv.to_str().unwrap(),
        "--count",
        "5",
    ]);
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text
        .starts_with("latent_id,category,description,top_words,frequency,max_activation,collage"));
    assert_eq!(text.lines().count(), 6);
    let shown = lab.ok(&["show", "demo-lam1e-3", "3"]);
    assert!(shown.contains("latent 3 of run 'demo-lam1e-3'"), "{shown}");
    let collage = shown
        .lines()
        .find_map(|l| l.strip_prefix("collage: "))
        .unwrap();
    assert!(image::open(collage).is_ok());
    assert!(lab
        .fails(&["show", "demo-lam1e-3", "99999"], 1)
        .contains("out of range"));

    // Steering: the contract's keys, before and after.
    let steered = lab.json(&[
        "steer",
        "demo-lam1e-3",
        "--image",
        "4",
        "--latent",
        "3",
        "--strength",
        "2",
    ]);
    for key in [
        "run",
        "image",
        "latent",
        "strength",
        "method",
        "neighbours",
        "classes",
        "labels",
        "concepts",
    ] {
        assert!(steered.get(key).is_some(), "steer --json lacks {key}");
    }
    assert_eq!(
        steered["neighbours"]["before"][0]["item"], 4,
        "an image's nearest neighbour is itself"
    );
    assert!(steered["classes"]["after"].as_array().unwrap().len() == 5);
    assert!(lab
        .fails(
            &["steer", "demo-lam1e-3", "--image", "99999", "--latent", "3"],
            1
        )
        .contains("out of range"));
    // A picture that is there, but the demo world has no encoder for it.
    let cat = lab.dir.path().join("cat.png");
    image::RgbImage::new(8, 8).save(&cat).unwrap();
    assert!(lab
        .fails(
            &[
                "steer",
                "demo-lam1e-3",
                "--image",
                cat.to_str().unwrap(),
                "--latent",
                "3"
            ],
            1
        )
        .contains("no picture encoder"));

    // The report gathers all of it into one folder.
    let report = lab.dir.path().join("report");
    lab.ok(&["report", "--out", report.to_str().unwrap()]);
    let doc = std::fs::read_to_string(report.join("README.md")).unwrap();
    assert!(
        doc.contains("## Training metrics") && doc.contains("plots/tradeoff.png"),
        "{doc}"
    );
    // With three explained examples: a picture, a text and a class.
    let explained = doc
        .split("## Explained examples")
        .nth(1)
        .expect("the section");
    for part in ["### A picture", "### A text", "### A class", "collages/"] {
        assert!(explained.contains(part), "{part} missing from\n{explained}");
    }

    // metrics.jsonl lines carry the contract's keys.
    let log = std::fs::read_to_string(lab.run_dir("demo-lam1e-3").join("metrics.jsonl")).unwrap();
    let line: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    for key in [
        "step",
        "epoch",
        "examples",
        "loss",
        "mse",
        "l1",
        "avg_l0",
        "examples_per_sec",
        "time",
    ] {
        assert!(line.get(key).is_some(), "metrics.jsonl lacks {key}");
    }
    // And the batch R², which ends near the evaluated one.
    let last: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    let logged = last["r2"].as_f64().unwrap();
    let evaluated = lab.json(&["metrics", "demo-lam1e-3"])[0]["r2"]
        .as_f64()
        .unwrap();
    assert!((logged - evaluated).abs() < 0.05, "{logged} vs {evaluated}");
}

#[test]
fn ctrl_c_saves_exits_130_and_resume_finishes() {
    let lab = Lab::new();
    lab.ok(&["demo", "--images", "500"]);
    let args = with(
        &["train", "--data", "demo", "--lambda", "1e-2", "--name", "r"],
        LONG,
    );
    let child = lab.spawn(&strs(&args));
    wait_for(&lab.run_dir("r").join("checkpoint.safetensors"));
    signal(&child, "-INT");
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let runs = lab.json(&["runs"]);
    assert_eq!(runs[0]["status"], "interrupted");
    let step = runs[0]["step"].as_u64().unwrap();
    assert!(step > 0 && step < runs[0]["total_steps"].as_u64().unwrap());

    lab.ok(&["--quiet", "resume", "r"]);
    assert_eq!(lab.json(&["runs"])[0]["status"], "done");
    let again = lab.run(&["resume", "r"]);
    assert!(
        again.status.success() && String::from_utf8_lossy(&again.stderr).contains("already done")
    );
}

#[test]
fn kill_9_loses_at_most_a_checkpoint_interval_and_resumes_to_the_same_weights() {
    let lab = Lab::new();
    lab.ok(&["demo", "--images", "500"]);
    let short: Vec<&str> = LONG
        .iter()
        .map(|s| if *s == "400" { "40" } else { s })
        .collect();
    let args = with(
        &[
            "train", "--data", "demo", "--lambda", "1e-2", "--name", "killed",
        ],
        &short,
    );
    let mut child = lab.spawn(&strs(&args));
    wait_for(&lab.run_dir("killed").join("checkpoint.safetensors"));
    signal(&child, "-KILL");
    child.wait().unwrap();
    let runs = lab.json(&["runs"]);
    assert_eq!(
        runs[0]["status"], "interrupted",
        "a killed run is not shown as running"
    );

    lab.ok(&["--quiet", "resume", "killed"]);
    let args = with(
        &[
            "--quiet", "train", "--data", "demo", "--lambda", "1e-2", "--name", "whole",
        ],
        &short,
    );
    lab.ok(&strs(&args));
    let weights = |name: &str| load_weights(&lab.run_dir(name).join("sae.safetensors")).unwrap();
    assert!(
        weights("killed") == weights("whole"),
        "resumed weights differ from an uninterrupted run's"
    );
    assert_eq!(lab.logged_steps("killed"), lab.logged_steps("whole"));
}

#[test]
fn first_run_makes_the_demo_world_and_says_what_next() {
    let lab = Lab::new();
    let out = lab.run(&[]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("demo") && stdout.contains("saelab sweep"),
        "{stdout}"
    );
    let sets = lab.json(&["sets"]);
    assert_eq!(sets[0]["count"], 31_783);
    assert_eq!(sets[0]["dim"], 512);
    assert!(lab
        .ws()
        .join("sets/demo/ground_truth.safetensors")
        .is_file());
    let png = lab.dir.path().join("one.png");
    lab.ok(&["image", "demo", "3", "--out", png.to_str().unwrap()]);
    let img = image::open(&png).unwrap();
    assert_eq!((img.width(), img.height()), (128, 128));
}

#[test]
fn a_k_sweep_of_each_family_runs_through_every_command() {
    let lab = Lab::new();
    lab.ok(&["demo", "--images", "600"]);
    let small = ["--dict", "128", "--epochs", "2", "--batch", "64"];
    for arch in ["topk", "batchtopk", "matryoshka"] {
        let args = with(
            &[
                "--quiet", "sweep", "--data", "demo", "--arch", arch, "--k", "4,8",
            ],
            &small,
        );
        lab.ok(&strs(&args));
    }
    let args = with(
        &[
            "--quiet", "train", "--data", "demo", "--arch", "jumprelu", "--lambda", "1e-3",
        ],
        &small,
    );
    lab.ok(&strs(&args));
    let metrics = lab.json(&["metrics"]);
    let rows = metrics.as_array().unwrap();
    assert_eq!(rows.len(), 7);
    let row = |name: &str| {
        rows.iter()
            .find(|r| r["run"] == name)
            .unwrap_or_else(|| panic!("no run {name} in {metrics}"))
    };
    for (name, arch, k) in [
        ("demo-topk-k4", "topk", Some(4)),
        ("demo-batchtopk-k8", "batchtopk", Some(8)),
        ("demo-matryoshka-k4", "matryoshka", Some(4)),
        ("demo-jumprelu-lam1e-3", "jumprelu", None),
    ] {
        let r = row(name);
        assert_eq!(r["arch"], arch);
        assert_eq!(r["k"].as_u64(), k.map(|k| k as u64));
        assert_eq!(
            (&r["precision"], &r["batch"]),
            (&"f32".into(), &64.into()),
            "{r}"
        );
        for key in ["gt_mcc", "gt_f1", "avg_l0", "r2"] {
            assert!(r[key].as_f64().is_some(), "{name} lacks {key}: {r}");
        }
    }
    // TopK: at most k latents a row, so the set's mean L0 is at most k.
    assert!(row("demo-topk-k4")["avg_l0"].as_f64().unwrap() <= 4.0);
    assert!(row("demo-topk-k8")["avg_l0"].as_f64().unwrap() > 4.0);
    let log = std::fs::read_to_string(lab.run_dir("demo-topk-k4").join("metrics.jsonl")).unwrap();
    let line: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(
        (line["arch"].as_str(), line["k"].as_u64()),
        (Some("topk"), Some(4))
    );
    assert!(line["dead_frac"].as_f64().is_some());

    // Downstream, each family as any run: zero-shot, latents, steering, the report.
    let zs = lab.json(&["zeroshot", "--task", "demo10"]);
    assert_eq!(zs.as_array().unwrap().len(), 8);
    for run in [
        "demo-topk-k8",
        "demo-matryoshka-k8",
        "demo-jumprelu-lam1e-3",
    ] {
        lab.ok(&["latents", run, "--list", "3"]);
        let steered = lab.json(&[
            "steer",
            run,
            "--image",
            "4",
            "--latent",
            "1",
            "--strength",
            "2",
        ]);
        assert_eq!(steered["run"], run);
    }
    let report = lab.dir.path().join("report");
    lab.ok(&["report", "--out", report.to_str().unwrap()]);
    let doc = std::fs::read_to_string(report.join("README.md")).unwrap();
    assert!(doc.contains("demo-batchtopk-k4"), "{doc}");

    // Bad settings are named before anything is made.
    let bad = |extra: &[&str], says: &str| {
        let args = with(&["train", "--data", "demo"], extra);
        let err = lab.fails(&strs(&args), 1);
        assert!(err.contains(says), "{extra:?}: {err}");
    };
    bad(&["--arch", "topk", "--k", "0"], "--k");
    bad(&["--arch", "topk", "--k", "5000"], "more than");
    bad(
        &["--arch", "matryoshka", "--prefixes", "64,32"],
        "must increase",
    );
    bad(&["--arch", "matryoshka", "--prefixes", "64,9999"], "9999");
    bad(&["--arch", "topk", "--lambda", "1e-3"], "--k, not --lambda");
    bad(&["--arch", "jumprelu"], "--lambda");
    assert_eq!(lab.json(&["runs"]).as_array().unwrap().len(), 7);
}
