//! Bad input gets a clear message naming the thing, exit status 1 (2 for usage), no panic and
//! no half-written file.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;

use common::Lab;

fn demo(lab: &Lab) -> std::path::PathBuf {
    lab.ok(&["demo", "--images", "50"]);
    lab.ws().join("sets/demo")
}

fn train_fails(lab: &Lab, extra: &[&str]) -> String {
    let mut args = vec![
        "train", "--data", "demo", "--lambda", "1e-3", "--dict", "16",
    ];
    args.extend_from_slice(extra);
    let err = lab.fails(&args, 1);
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn missing_or_unknown_set() {
    let lab = Lab::new();
    let err = lab.fails(&["train", "--data", "nope", "--lambda", "1e-3"], 1);
    assert!(
        err.contains("no embedding set named 'nope'") && err.contains("saelab demo"),
        "{err}"
    );
}

#[test]
fn bad_training_options_name_the_option() {
    let lab = Lab::new();
    demo(&lab);
    assert!(lab
        .fails(&["train", "--data", "demo", "--lambda", "-1"], 1)
        .contains("--lambda"));
    assert!(train_fails(&lab, &["--batch", "0"]).contains("--batch"));
    assert!(lab
        .fails(&["sweep", "--data", "demo", "--lambdas", "1e-3,-2"], 1)
        .contains("--lambda"));
    assert!(
        !lab.ws().join("runs/demo-lam-1e0").exists(),
        "no run is left behind for a bad λ"
    );
}

#[test]
fn usage_errors_exit_2() {
    let lab = Lab::new();
    lab.fails(&["train", "--bogus"], 2);
    lab.fails(&["frobnicate"], 2);
}

#[test]
fn truncated_or_foreign_embeddings() {
    let lab = Lab::new();
    let set = demo(&lab);
    let file = set.join("embeddings.safetensors");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    let err = train_fails(&lab, &[]);
    assert!(
        err.contains("embeddings.safetensors") && err.contains("truncated"),
        "{err}"
    );

    let other = safetensors::serialize(
        [(
            "weights",
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![1], &[0u8; 4])
                .unwrap(),
        )],
        None,
    )
    .unwrap();
    std::fs::write(&file, other).unwrap();
    let err = train_fails(&lab, &[]);
    assert!(err.contains("has no tensor 'embeddings'"), "{err}");
}

#[test]
fn wrong_dimension_and_nan_rows() {
    let lab = Lab::new();
    let set = demo(&lab);
    let toml_path = set.join("set.toml");
    let original = std::fs::read_to_string(&toml_path).unwrap();
    std::fs::write(&toml_path, original.replace("dim = 512", "dim = 256")).unwrap();
    let err = train_fails(&lab, &[]);
    assert!(err.contains("expected [50, 256]"), "{err}");
    std::fs::write(&toml_path, &original).unwrap();

    let mut data = vec![0.1f32; 50 * 512];
    data[7 * 512 + 3] = f32::NAN;
    let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![50, 512], &bytes)
        .unwrap();
    let file = safetensors::serialize([("embeddings", view)], Some(HashMap::new())).unwrap();
    std::fs::write(set.join("embeddings.safetensors"), file).unwrap();
    let err = train_fails(&lab, &[]);
    assert!(err.contains("row 7") && err.contains("NaN"), "{err}");
}

#[test]
fn unwritable_workspace() {
    let lab = Lab::new();
    let file = lab.dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_saelab"))
        .args(["--workspace", file.join("ws").to_str().unwrap(), "runs"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("a-file"), "{err}");
}

#[test]
fn a_run_name_is_never_overwritten() {
    let lab = Lab::new();
    demo(&lab);
    lab.ok(&[
        "--quiet", "train", "--data", "demo", "--lambda", "1e-3", "--dict", "16", "--epochs", "1",
        "--batch", "16", "--name", "mine",
    ]);
    let before = std::fs::read(lab.run_dir("mine").join("sae.safetensors")).unwrap();
    let err = train_fails(&lab, &["--name", "mine"]);
    assert!(
        err.contains("already exists") && err.contains("saelab resume mine"),
        "{err}"
    );
    assert_eq!(
        before,
        std::fs::read(lab.run_dir("mine").join("sae.safetensors")).unwrap()
    );
}

#[test]
fn a_device_this_build_lacks_is_named_and_leaves_no_run() {
    let lab = Lab::new();
    demo(&lab);
    let err = lab.fails(
        &[
            "--device", "cuda", "train", "--data", "demo", "--lambda", "1e-3", "--name", "gpu",
        ],
        1,
    );
    assert!(err.contains("--features cuda"), "{err}");
    assert!(!lab.run_dir("gpu").exists());
}

#[test]
fn a_gpu_precision_on_the_cpu_is_named_and_leaves_no_run() {
    let lab = Lab::new();
    demo(&lab);
    for precision in ["bf16", "tf32"] {
        let err = lab.fails(
            &[
                "--device",
                "cpu",
                "train",
                "--data",
                "demo",
                "--lambda",
                "1e-3",
                "--dict",
                "16",
                "--precision",
                precision,
                "--name",
                "p",
            ],
            1,
        );
        assert!(
            err.contains("--precision") && err.contains(precision),
            "{err}"
        );
        assert!(!lab.run_dir("p").exists());
    }
    let err = lab.fails(
        &[
            "--device",
            "cpu",
            "sweep",
            "--data",
            "demo",
            "--lambdas",
            "1e-3,1e-2",
            "--dict",
            "16",
            "--precision",
            "bf16",
        ],
        1,
    );
    assert!(err.contains("--precision"), "{err}");
    assert!(
        !lab.ws().join("runs").exists()
            || lab.ws().join("runs").read_dir().unwrap().next().is_none()
    );
}
