//! SAEs in and out (issue 19): SAEs saved by SAELens and by eai-sparsify import and compute
//! what those libraries computed with them; our exports of every family compute in those
//! libraries what they compute here (`tools/make_interop_fixtures.py` recorded both); exports
//! round-trip bit for bit; embeddings made by numpy and pyarrow become sets that train.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::Lab;
use saelab::engine::sae::checkpoint::load_weights;
use saelab::engine::sae::linalg::Threads;
use saelab::engine::sae::step::{forward, Scratch};
use saelab::engine::sae::SaeParams;
use saelab::engine::tensorfile::TensorFile;

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/interop")
        .join(path)
}

/// The parity tolerance the issue asks for.
const TOLERANCE: f32 = 1e-5;

/// A workspace with the 16-d set `x`, made from the numpy fixture.
fn lab_with_inputs() -> Lab {
    let lab = Lab::new();
    lab.ok(&[
        "import-set",
        fixture("inputs.npy").to_str().unwrap(),
        "--name",
        "x",
    ]);
    lab
}

fn tensor(f: &TensorFile, name: &str) -> (Vec<usize>, Vec<f32>) {
    let shape = f.shape(name).unwrap();
    let values = f.f32(name, &shape).unwrap();
    (shape, values)
}

/// The run's latents and reconstruction of `x`, as the lab computes them.
fn ours(p: &SaeParams, x: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let rows = x.len() / p.d;
    let mut s = Scratch::new(p.d, p.m, rows);
    forward(p, x, rows, &mut s, Threads::All);
    (s.z[..rows * p.m].to_vec(), s.recon[..rows * p.d].to_vec())
}

fn close(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    let worst = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
        .fold(0.0f32, f32::max);
    assert!(worst < TOLERANCE, "{what}: off by {worst}");
}

/// Imports `folder` as run `name` on set `x` and checks it computes what the library recorded.
fn imports_with_parity(lab: &Lab, folder: &str, name: &str) -> SaeParams {
    lab.ok(&[
        "import",
        fixture(folder).to_str().unwrap(),
        "--set",
        "x",
        "--name",
        name,
    ]);
    let p = load_weights(&lab.run_dir(name).join("sae.safetensors")).unwrap();
    let want = TensorFile::read(&fixture(folder).join("expected.safetensors")).unwrap();
    let (_, x) = tensor(&want, "x");
    let (z, x_hat) = ours(&p, &x);
    close(&format!("{folder} latents"), &z, &tensor(&want, "z").1);
    close(
        &format!("{folder} reconstruction"),
        &x_hat,
        &tensor(&want, "x_hat").1,
    );
    p
}

#[test]
fn saes_saved_by_saelens_and_sparsify_compute_here_as_there() {
    let lab = lab_with_inputs();
    for arch in ["standard", "standard-no-b-dec-in", "topk", "jumprelu"] {
        imports_with_parity(&lab, &format!("saelens/{arch}"), arch);
    }
    let p = imports_with_parity(&lab, "sparsify/topk", "sparsify");
    assert_eq!(p.m, 32);
    // Imported runs are runs: listed, with metrics computed on the set, and never resumed.
    let runs: serde_json::Value = serde_json::from_str(&lab.ok(&["--json", "runs"])).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 5, "{runs}");
    assert!(runs
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["status"] == "done"));
    let metrics: serde_json::Value =
        serde_json::from_str(&lab.ok(&["--json", "metrics", "topk"])).unwrap();
    assert!(metrics[0]["mse"].as_f64().unwrap() > 0.0, "{metrics}");
    let err = lab.fails(&["resume", "topk", "--epochs", "2"], 1);
    assert!(err.contains("imported"), "{err}");
}

#[test]
fn our_exports_compute_in_saelens_and_sparsify_as_here() {
    let lab = lab_with_inputs();
    for arch in ["relu", "topk", "jumprelu", "batchtopk", "matryoshka"] {
        let folder = format!("ours/{arch}-saelens");
        let p = imports_with_parity(&lab, &folder, arch);
        // Exported again, the weights are the committed export's, bit for bit.
        let again = lab.dir.path().join(format!("again-{arch}"));
        lab.ok(&[
            "export",
            arch,
            again.to_str().unwrap(),
            "--format",
            "saelens",
        ]);
        for name in ["W_enc", "b_enc", "W_dec", "b_dec"] {
            let a = TensorFile::read(&again.join("sae_weights.safetensors")).unwrap();
            let b = TensorFile::read(&fixture(&folder).join("sae_weights.safetensors")).unwrap();
            assert_eq!(tensor(&a, name), tensor(&b, name), "{arch} {name}");
        }
        let cfg = std::fs::read_to_string(again.join("cfg.json")).unwrap();
        let cfg: serde_json::Value = serde_json::from_str(&cfg).unwrap();
        assert_eq!(cfg["d_sae"], p.m);
        assert_eq!(cfg["metadata"]["hook_name"], "clip.image_embeds");
        let sparsity = TensorFile::read(&again.join("sparsity.safetensors")).unwrap();
        let (shape, log_freq) = tensor(&sparsity, "sparsity");
        assert_eq!(shape, vec![p.m]);
        assert!(log_freq.iter().all(|&v| (-10.0..=0.0).contains(&v)));
    }
    imports_with_parity(&lab, "ours/topk-sparsify", "topk-sp");
}

#[test]
fn every_family_round_trips_bit_for_bit() {
    let lab = lab_with_inputs();
    for (arch, opts) in [
        ("relu", vec!["--lambda", "1e-2"]),
        ("topk", vec!["--arch", "topk", "--k", "4"]),
        ("jumprelu", vec!["--arch", "jumprelu", "--lambda", "1e-3"]),
        ("batchtopk", vec!["--arch", "batchtopk", "--k", "4"]),
    ] {
        let mut args = vec![
            "train", "--data", "x", "--dict", "32", "--epochs", "1", "--batch", "32", "--name",
            arch,
        ];
        args.extend(opts);
        lab.ok(&args);
        let formats: &[&str] = if arch == "topk" {
            &["saelens", "sparsify"]
        } else {
            &["saelens"]
        };
        for format in formats {
            let out = lab.dir.path().join(format!("{arch}-{format}"));
            lab.ok(&["export", arch, out.to_str().unwrap(), "--format", format]);
            let back = format!("{arch}-{format}-back");
            lab.ok(&[
                "import",
                out.to_str().unwrap(),
                "--set",
                "x",
                "--name",
                &back,
            ]);
            let a = load_weights(&lab.run_dir(arch).join("sae.safetensors")).unwrap();
            let b = load_weights(&lab.run_dir(&back).join("sae.safetensors")).unwrap();
            assert_eq!(a, b, "{arch} through {format}");
        }
    }
    let err = lab.fails(
        &[
            "export",
            "relu",
            lab.dir.path().join("no").to_str().unwrap(),
            "--format",
            "sparsify",
        ],
        1,
    );
    assert!(err.contains("TopK") && err.contains("saelens"), "{err}");
    // Nothing is overwritten.
    let taken = lab.dir.path().join("relu-saelens");
    let err = lab.fails(&["export", "relu", taken.to_str().unwrap()], 1);
    assert!(err.contains("already holds"), "{err}");
}

/// A copy of a fixture folder to damage.
fn copy(lab: &Lab, folder: &str) -> PathBuf {
    let to = lab.dir.path().join(folder.replace('/', "-"));
    std::fs::create_dir_all(&to).unwrap();
    for e in std::fs::read_dir(fixture(folder)).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
    to
}

#[test]
fn what_cannot_be_imported_is_named() {
    let lab = lab_with_inputs();
    lab.ok(&["demo", "--images", "100"]);
    let src = fixture("saelens/topk");
    let err = lab.fails(&["import", src.to_str().unwrap(), "--set", "demo"], 1);
    assert!(
        err.contains("16-d") && err.contains("512-d") && err.contains("residual"),
        "{err}"
    );

    let gated = copy(&lab, "saelens/standard");
    let cfg = std::fs::read_to_string(gated.join("cfg.json")).unwrap();
    std::fs::write(
        gated.join("cfg.json"),
        cfg.replace("\"standard\"", "\"gated\""),
    )
    .unwrap();
    let err = lab.fails(&["import", gated.to_str().unwrap(), "--set", "x"], 1);
    assert!(err.contains("gated"), "{err}");

    let transcoder = copy(&lab, "sparsify/topk");
    let cfg = std::fs::read_to_string(transcoder.join("cfg.json")).unwrap();
    std::fs::write(
        transcoder.join("cfg.json"),
        cfg.replace("\"transcode\": false", "\"transcode\": true"),
    )
    .unwrap();
    let err = lab.fails(&["import", transcoder.to_str().unwrap(), "--set", "x"], 1);
    assert!(err.contains("transcode"), "{err}");

    let empty = lab.dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let err = lab.fails(&["import", empty.to_str().unwrap(), "--set", "x"], 1);
    assert!(err.contains("sae_weights.safetensors"), "{err}");
    assert!(!lab.run_dir("empty").exists());
}

#[test]
fn embeddings_made_elsewhere_become_sets_that_train() {
    let lab = lab_with_inputs();
    lab.ok(&[
        "import-set",
        fixture("inputs.parquet").to_str().unwrap(),
        "--name",
        "pq",
        "--items",
        fixture("labels.csv").to_str().unwrap(),
        "--normalize",
    ]);
    let sets: serde_json::Value = serde_json::from_str(&lab.ok(&["--json", "sets"])).unwrap();
    assert_eq!(sets.as_array().unwrap().len(), 2, "{sets}");
    let items = std::fs::read_to_string(lab.ws().join("sets/pq/items.jsonl")).unwrap();
    assert!(items.lines().nth(5).unwrap().contains("class1"), "{items}");
    let pq = saelab::engine::set::EmbeddingSet::open_dir(&lab.ws().join("sets/pq")).unwrap();
    let npy = saelab::engine::set::EmbeddingSet::open_dir(&lab.ws().join("sets/x")).unwrap();
    let norm = |r: &[f32]| r.iter().map(|v| v * v).sum::<f32>().sqrt();
    let (a, b) = (&pq.data().unwrap()[16..32], &npy.data().unwrap()[16..32]);
    for (u, v) in a.iter().zip(b) {
        assert!((u - v / norm(b)).abs() < 1e-6);
    }
    lab.ok(&[
        "train", "--data", "pq", "--arch", "topk", "--k", "4", "--dict", "32", "--epochs", "1",
        "--batch", "32",
    ]);

    // A row of NaN is named, and nothing is made.
    let mut x = npy.data().unwrap().to_vec();
    x[3 * 16] = f32::NAN;
    x[7 * 16 + 2] = f32::INFINITY;
    let bad = lab.dir.path().join("bad.safetensors");
    saelab::engine::tensorfile::write(
        &bad,
        &[saelab::engine::tensorfile::Named::new(
            "emb",
            vec![256, 16],
            &x,
        )],
        Default::default(),
    )
    .unwrap();
    let err = lab.fails(&["import-set", bad.to_str().unwrap(), "--name", "bad"], 1);
    assert!(err.contains("2 rows (3, 7)"), "{err}");
    assert!(!lab.ws().join("sets/bad").exists());
    let err = lab.fails(
        &[
            "import-set",
            fixture("inputs.npy").to_str().unwrap(),
            "--name",
            "x",
        ],
        1,
    );
    assert!(err.contains("already exists"), "{err}");
}

#[test]
fn a_hub_repos_subfolder_imports_from_the_cache_offline() {
    let lab = lab_with_inputs();
    let repo = lab.hf_home().join("hub/models--lab--saes");
    let snapshot = repo.join("snapshots/0123456789abcdef/layer0");
    std::fs::create_dir_all(&snapshot).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), "0123456789abcdef").unwrap();
    for f in ["cfg.json", "sae.safetensors"] {
        std::fs::copy(fixture("sparsify/topk").join(f), snapshot.join(f)).unwrap();
    }
    let out = lab.ok(&[
        "--json",
        "import",
        "lab/saes/layer0",
        "--set",
        "x",
        "--offline",
    ]);
    let made: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(made["run"], "layer0");
    assert_eq!(made["format"], "sparsify");
    let err = lab.fails(
        &["import", "lab/nothing/here", "--set", "x", "--offline"],
        1,
    );
    assert!(err.contains("cache"), "{err}");
}

/// The evaluation card on the demo world: measured by `eval`, kept for `metrics --json` and the
/// report; a TopK run that recovers the world's concepts keeps most of zero-shot and probes well.
#[test]
fn the_evaluation_card_is_measured_kept_and_reported() {
    let lab = Lab::new();
    lab.ok(&["demo", "--images", "4000"]);
    lab.ok(&[
        "train", "--data", "demo", "--arch", "topk", "--k", "16", "--dict", "256", "--epochs", "3",
        "--name", "t",
    ]);
    let cards: serde_json::Value = serde_json::from_str(&lab.ok(&["--json", "eval"])).unwrap();
    let card = &cards[0];
    assert_eq!(card["run"], "t");
    for key in [
        "cosine",
        "l2_ratio",
        "alive_frac",
        "over_1pct_frac",
        "over_10pct_frac",
        "decoder_cos_mean",
        "decoder_cos_max",
    ] {
        let v = card[key].as_f64().unwrap_or(f64::NAN);
        assert!((0.0..=1.0).contains(&v), "{key} = {v}: {card}");
    }
    assert!(card["cosine"].as_f64().unwrap() > 0.95, "{card}");
    let z = &card["zeroshot"];
    assert!(z["accuracy_recovered"].as_f64().unwrap() > 0.9, "{card}");
    assert!(z["loss_recovered"].as_f64().unwrap() > 0.9, "{card}");
    assert!(z["ablated_acc"].as_f64().unwrap() < z["clean_acc"].as_f64().unwrap());
    let p = &card["probing"];
    assert!(p["classes"].as_u64().unwrap() >= 2, "{card}");
    assert!(p["single_latent"].as_f64().unwrap() > 0.7, "{card}");
    let metrics: serde_json::Value = serde_json::from_str(&lab.ok(&["--json", "metrics"])).unwrap();
    assert_eq!(metrics[0]["card"]["cosine"], card["cosine"]);
    let out = lab.dir.path().join("report");
    lab.ok(&["report", "--out", out.to_str().unwrap()]);
    let doc = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(
        doc.contains("## Evaluation card") && doc.contains("loss recovered"),
        "{doc}"
    );
}
