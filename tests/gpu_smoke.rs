//! The GPU smoke script's parts that need no GPU (issue 18): its arguments, its stages and the
//! JSON it writes, run with `--device cpu` on small sizes.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

fn script() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/tools/gpu-smoke.sh").to_string()
}

fn smoke(dir: &Path, args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let out = dir.join("smoke.json");
    let status = Command::new("bash")
        .arg(script())
        .args([
            "--device",
            "cpu",
            "--quick",
            "--bin",
            env!("CARGO_BIN_EXE_saelab"),
        ])
        .arg("--out")
        .arg(&out)
        .arg("--work")
        .arg(dir.join("work"))
        .args(args)
        .env_remove("SAELAB_WORKSPACE")
        .status()
        .unwrap();
    let json = std::fs::read_to_string(&out)
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or(serde_json::Value::Null);
    (status.code(), json)
}

#[test]
fn the_smoke_script_runs_its_stages_on_the_cpu_and_writes_its_json() {
    let dir = tempfile::tempdir().unwrap();
    let (code, v) = smoke(
        dir.path(),
        &[
            "--only",
            "demo,sweep,agreement,throughput,steer,embed,caption,kandinsky",
        ],
    );
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["device"], "cpu");
    assert_eq!(v["quick"], true);
    let stages = v["stages"].as_array().unwrap();
    let names: Vec<&str> = stages
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "demo",
            "sweep",
            "agreement",
            "throughput",
            "steer",
            "embed",
            "caption",
            "kandinsky"
        ],
        "{v}"
    );
    assert!(stages.iter().all(|s| s["ok"] == true), "{v}");
    assert!(
        stages[1]["figures"]["examples_per_sec"].as_f64().unwrap() > 0.0,
        "{v}"
    );
    assert_eq!(stages[1]["figures"]["runs"], 3, "{v}");
    // The CPU against itself agrees exactly.
    for run in ["agree-relu", "agree-topk"] {
        let figures = &stages[2]["figures"][run];
        assert_eq!(figures["relative_difference"], 0.0, "{v}");
    }
    // f32 alone on the CPU, ReLU and TopK.
    let rates = &stages[3]["figures"];
    assert!(rates["relu_f32"].as_f64().unwrap() > 0.0, "{v}");
    assert!(rates["topk_f32"].as_f64().unwrap() > 0.0, "{v}");
    assert!(rates.get("relu_bf16").is_none(), "{v}");
    assert_eq!(stages[4]["figures"]["latent"][0], 19, "{v}");
    // Demo pictures through a random CLIP (`--model random:tiny` when quick).
    assert_eq!(stages[5]["figures"]["rows"], 24, "{v}");
    // Four captions each for the labelled latents of the eight asked.
    let labelled = stages[6]["figures"]["latents_labelled"].as_u64().unwrap();
    assert!((1..=8).contains(&labelled), "{v}");
    assert_eq!(
        stages[6]["figures"]["captions"].as_u64(),
        Some(4 * labelled),
        "{v}"
    );
    // The triptych's three pictures, at the quick size.
    let k = &stages[7]["figures"];
    assert_eq!(k["height"], 32, "{v}");
    for panel in ["orig", "plus", "minus"] {
        assert!(
            Path::new(k["files"][panel].as_str().unwrap()).is_file(),
            "{v}"
        );
    }
}

#[test]
fn bad_arguments_are_refused_and_a_failed_stage_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _) = smoke(dir.path(), &["--device", "tpu"]);
    assert_eq!(code, Some(2));
    let (code, _) = smoke(dir.path(), &["--frobnicate"]);
    assert_eq!(code, Some(2));
    // Latents of a sweep that never ran: the stage fails, says why, and the JSON is whole.
    let (code, v) = smoke(dir.path(), &["--only", "demo,latents"]);
    assert_eq!(code, Some(1), "{v}");
    let stages = v["stages"].as_array().unwrap();
    assert_eq!(stages[0]["ok"], true, "{v}");
    assert_eq!(stages[1]["ok"], false, "{v}");
    assert!(
        stages[1]["error"]
            .as_str()
            .unwrap()
            .contains("study-lam1e-2"),
        "{v}"
    );
    // For CUDA the libraries are looked for first; this binary needs none that is missing.
    let out = dir.path().join("cuda.json");
    let status = Command::new("bash")
        .arg(script())
        .args(["--device", "cuda", "--quick", "--only", "libs"])
        .args(["--bin", env!("CARGO_BIN_EXE_saelab")])
        .arg("--out")
        .arg(&out)
        .arg("--work")
        .arg(dir.path().join("cuda"))
        .status()
        .unwrap();
    assert!(status.success());
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(v["stages"][0]["stage"], "libs", "{v}");
    assert!(v["stages"][0]["figures"]["library_path"].is_string(), "{v}");
}
