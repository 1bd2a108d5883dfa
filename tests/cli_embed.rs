//! `saelab embed` end to end on a tiny random CLIP: CIFAR binaries to a set, zero-shot and
//! collages on it; the model from a local folder, the Hugging Face cache (offline) and a hub
//! endpoint served by the test; truncated downloads named.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;

use common::Lab;
use saelab::engine::clip::random;

const CIFAR10: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

fn tiny_clip(dir: &Path) -> String {
    random::save_random(&random::tiny(), dir).unwrap();
    dir.to_string_lossy().into_owned()
}

/// A CIFAR-10 binary test batch of `n` records, label i % 10.
fn cifar10(dir: &Path, n: usize) -> String {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("batches.meta.txt"), CIFAR10.join("\n")).unwrap();
    let records: Vec<u8> = (0..n)
        .flat_map(|i| {
            let mut r = vec![(i % 10) as u8];
            r.extend((0..3072).map(|p| ((p * (i + 1)) % 251) as u8));
            r
        })
        .collect();
    std::fs::write(dir.join("test_batch.bin"), records).unwrap();
    format!("cifar10:{}", dir.display())
}

#[test]
fn cifar10_embedded_scored_trained_and_drawn() {
    let lab = Lab::new();
    let model = tiny_clip(&lab.dir.path().join("clip"));
    let data = cifar10(&lab.dir.path().join("cifar"), 40);
    let out = lab.json(&[
        "embed",
        "--model",
        &model,
        "--dataset",
        &data,
        "--name",
        "cifar10",
        "--batch",
        "8",
    ]);
    assert_eq!(
        (out["rows"].as_u64(), out["dim"].as_u64()),
        (Some(40), Some(16))
    );
    assert!(lab.ok(&["sets"]).contains("cifar10"));

    // Zero-shot with the model's own text tower, CLIP alone.
    let rows = lab.json(&["zeroshot", "--task", "cifar10"]);
    assert_eq!(rows[0]["n"].as_u64(), Some(40));
    let top5 = rows[0]["top5"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&top5));

    // An SAE on it, scored through; the control equals CLIP alone.
    lab.ok(&[
        "train", "--data", "cifar10", "--lambda", "1e-3", "--dict", "32", "--epochs", "2",
        "--batch", "8", "--name", "c10",
    ]);
    let rows = lab.json(&["zeroshot", "--task", "cifar10", "--runs", "c10"]);
    assert_eq!(rows[1]["control_top1"], rows[0]["top1"]);

    // Pictures come back from the CIFAR records.
    let png = lab.dir.path().join("item.png");
    lab.ok(&["image", "cifar10", "3", "--out", png.to_str().unwrap()]);
    assert_eq!(image::open(&png).unwrap().width(), 32);
    lab.ok(&["latents", "c10"]);

    // A picture file is embedded with the set's model: row 3's own picture finds row 3.
    let png = png.to_str().unwrap();
    let steered = lab.json(&["steer", "c10", "--image", png, "--latent", "1"]);
    let nearest = &steered["neighbours"]["before"][0];
    assert_eq!(nearest["item"], 3, "{steered}");
    assert!(nearest["cosine"].as_f64().unwrap() > 0.9999, "{steered}");
    assert_eq!(steered["image"], png);
    assert_eq!(
        steered["task"], "cifar10",
        "a CIFAR set is scored on its own classes"
    );
    assert_eq!(steered["classes"]["before"].as_array().unwrap().len(), 5);
    let missing = lab.dir.path().join("missing.png");
    let err = lab.fails(
        &[
            "steer",
            "c10",
            "--image",
            missing.to_str().unwrap(),
            "--latent",
            "1",
        ],
        1,
    );
    assert!(err.contains("missing.png"), "{err}");

    // Caption labels with the tiny random BLIP: the CSV holds its sentences, the captions
    // are cached for the next call, and `show` prints the label.
    let blip = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/blip-tiny");
    let csv = lab.dir.path().join("captions.csv");
    let caption = |extra: &[&str]| {
        let mut args = vec![
            "latents",
            "c10",
            "--label",
            "caption",
            "--captioner",
            blip,
            "--count",
            "6",
            "--captioned",
            "3",
        ];
        args.extend_from_slice(extra);
        lab.run(&args)
    };
    let first = caption(&["--csv", csv.to_str().unwrap()]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(text.lines().count(), 7, "{text}");
    assert!(
        text.contains("This feature activates on images containing: "),
        "{text}"
    );
    let again = String::from_utf8_lossy(&caption(&[]).stderr).into_owned();
    assert!(again.contains("captioned 0 new pictures"), "{again}");
    let labels: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(lab.ws().join("runs/c10/latents/caption_labels.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(labels.as_array().unwrap().len(), 6);
    assert!(labels[0]["captions"].as_array().unwrap().len() <= 3);
    let shown = lab.ok(&["show", "c10", "0"]);
    assert!(shown.contains("caption label: "), "{shown}");

    let no_vocab = lab.dir.path().join("blip-no-vocab");
    std::fs::create_dir_all(&no_vocab).unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(Path::new(blip).join(f), no_vocab.join(f)).unwrap();
    }
    let err = lab.fails(
        &[
            "latents",
            "c10",
            "--label",
            "caption",
            "--captioner",
            no_vocab.to_str().unwrap(),
        ],
        1,
    );
    assert!(err.contains("vocab.txt"), "{err}");
}

/// Runs `saelab embed` of `data` into set `x` with the model and any extra options; it must
/// fail with status 1. Returns stderr.
fn embed_fails(lab: &Lab, model: &str, data: &str, extra: &[&str]) -> String {
    let mut args = vec!["embed", "--model", model, "--dataset", data, "--name", "x"];
    args.extend_from_slice(extra);
    lab.fails(&args, 1)
}

#[test]
fn bad_models_and_datasets_are_named() {
    let lab = Lab::new();
    let data = cifar10(&lab.dir.path().join("cifar"), 4);
    let empty = lab.dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let err = embed_fails(&lab, empty.to_str().unwrap(), &data, &[]);
    assert!(
        err.contains("config.json") && err.contains("is missing"),
        "{err}"
    );

    let model = lab.dir.path().join("clip");
    tiny_clip(&model);
    let weights = model.join("model.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    let err = embed_fails(&lab, model.to_str().unwrap(), &data, &[]);
    assert!(
        err.contains("model.safetensors") && err.contains("again"),
        "{err}"
    );

    let err = embed_fails(&lab, "nobody/nothing", &data, &["--offline"]);
    assert!(err.contains("not in the Hugging Face cache"), "{err}");
    let err = lab.fails(
        &["embed", "--dataset", "cifar10:/no/such/dir", "--name", "x"],
        1,
    );
    assert!(err.contains("batches.meta.txt"), "{err}");
    assert!(!lab.ws().join("sets/x").exists());
}

/// Serves `files` as a Hugging Face endpoint would (`/REPO/resolve/main/FILE`, ranges, etag
/// and commit headers); `cut` serves only the first half of model.safetensors.
fn serve(files: Vec<(String, Vec<u8>)>, cut: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            reader.read_line(&mut request).unwrap_or(0);
            let mut range_start = 0usize;
            let mut range_end = None;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(r) = line.to_ascii_lowercase().strip_prefix("range: bytes=") {
                    let (a, b) = r.trim().split_once('-').unwrap();
                    range_start = a.parse().unwrap();
                    range_end = b.parse::<usize>().ok();
                }
            }
            let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
            let mut stream = stream;
            let Some((name, body)) = files
                .iter()
                .find(|(n, _)| path.ends_with(&format!("/resolve/main/{n}")))
            else {
                let _ = stream.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                continue;
            };
            let size = body.len();
            let end = range_end.unwrap_or(size - 1).min(size - 1);
            let mut part = &body[range_start..=end];
            if cut && name == "model.safetensors" && range_end.is_none() {
                part = &part[..part.len() / 2];
            }
            let head = format!(
                "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {range_start}-{end}/{size}\r\nETag: \"etag-{name}\"\r\nX-Repo-Commit: 0123456789abcdef\r\nConnection: close\r\n\r\n",
                part.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(part);
            let _ = stream.flush();
            let _ = reader.read(&mut [0u8; 1]);
        }
    });
    format!("http://{addr}")
}

fn model_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    ["config.json", "model.safetensors"]
        .iter()
        .map(|f| (f.to_string(), std::fs::read(dir.join(f)).unwrap()))
        .collect()
}

/// A lab, a tiny CLIP served as hub repo `lab/tiny-clip` (cut short when `cut`), and a
/// CIFAR-10 batch of 4; the `embed` arguments that fetch the model into set `hub`, and the
/// endpoint.
fn hub_lab(cut: bool) -> (Lab, String, String) {
    let lab = Lab::new();
    let local = lab.dir.path().join("clip");
    tiny_clip(&local);
    let data = cifar10(&lab.dir.path().join("cifar"), 4);
    let endpoint = serve(model_files(&local), cut);
    (lab, data, endpoint)
}

fn hub_embed(data: &str) -> [&str; 7] {
    [
        "embed",
        "--model",
        "lab/tiny-clip",
        "--dataset",
        data,
        "--name",
        "hub",
    ]
}

#[test]
fn hub_models_download_once_then_work_offline() {
    let (lab, data, endpoint) = hub_lab(false);
    let args = hub_embed(&data);
    let out = lab
        .cmd(&args)
        .env("HF_ENDPOINT", &endpoint)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cached = lab
        .hf_home()
        .join("hub/models--lab--tiny-clip/snapshots/0123456789abcdef");
    assert!(cached.join("model.safetensors").exists());

    // Offline, from the cache only: the same set again.
    let mut offline = args.to_vec();
    offline.extend(["--offline"]);
    offline[6] = "again";
    lab.ok(&offline);
    let a = std::fs::read(lab.ws().join("sets/hub/embeddings.safetensors")).unwrap();
    let b = std::fs::read(lab.ws().join("sets/again/embeddings.safetensors")).unwrap();
    assert_eq!(a, b);
}

#[test]
fn a_truncated_download_is_named_with_the_fix() {
    let (lab, data, endpoint) = hub_lab(true);
    let out = lab
        .cmd(&hub_embed(&data))
        .env("HF_ENDPOINT", &endpoint)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("model.safetensors") && err.contains("again"),
        "{err}"
    );
}

/// The study's triptych on the tiny random Kandinsky 2.2 (fixtures/kandinsky-tiny), through
/// the code path real weights take: pictures embedded with the prior's image encoder, an SAE
/// trained on them, then `steer --generate` from a prompt, a row and a picture file.
#[test]
fn kandinsky_triptychs_are_made_and_repeat_per_seed() {
    let lab = Lab::new();
    let k = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/kandinsky-tiny");
    let (prior, decoder) = (format!("{k}/prior"), format!("{k}/decoder"));
    let encoder = format!("{prior}/image_encoder");
    let data = cifar10(&lab.dir.path().join("cifar"), 24);
    let set = lab.json(&[
        "embed",
        "--model",
        &encoder,
        "--dataset",
        &data,
        "--name",
        "k",
        "--batch",
        "8",
    ]);
    assert_eq!(set["dim"].as_u64(), Some(32));
    lab.ok(&[
        "train", "--data", "k", "--lambda", "1e-3", "--dict", "16", "--epochs", "1", "--batch",
        "8", "--name", "kr",
    ]);
    let generate_on = |run: &str, start: &[&str], seed: &str, out: Option<&Path>| {
        let mut args = vec![
            "steer",
            run,
            "--latent",
            "2",
            "--strength",
            "3",
            "--method",
            "add",
            "--generate",
            "--decoder",
            &decoder,
            "--prior",
            &prior,
            "--steps",
            "3",
            "--prior-steps",
            "3",
            "--size",
            "32",
            "--seed",
            seed,
        ];
        args.extend_from_slice(start);
        let out_str;
        if let Some(o) = out {
            out_str = o.to_string_lossy().into_owned();
            args.extend(["--out", out_str.as_str()]);
        }
        lab.json(&args)
    };
    let generate =
        |start: &[&str], seed: &str, out: Option<&Path>| generate_on("kr", start, seed, out);
    let pixels = |v: &serde_json::Value, panel: &str| {
        let img = image::open(v["files"][panel].as_str().unwrap())
            .unwrap()
            .to_rgb8();
        assert_eq!(img.dimensions(), (32, 32), "{panel}");
        img.into_raw()
    };
    let (a, b, c) = (
        lab.dir.path().join("a"),
        lab.dir.path().join("b"),
        lab.dir.path().join("c"),
    );
    let first = generate(&["--prompt", "a red ball on grass"], "7", Some(&a));
    let again = generate(&["--prompt", "a red ball on grass"], "7", Some(&b));
    let other = generate(&["--prompt", "a red ball on grass"], "8", Some(&c));
    for panel in ["orig", "plus", "minus"] {
        assert_eq!(
            pixels(&first, panel),
            pixels(&again, panel),
            "{panel} repeats per seed"
        );
    }
    assert_ne!(
        pixels(&first, "orig"),
        pixels(&other, "orig"),
        "another seed, another picture"
    );
    assert_ne!(
        pixels(&first, "orig"),
        pixels(&first, "plus"),
        "steering changes the picture"
    );
    assert_ne!(pixels(&first, "plus"), pixels(&first, "minus"));
    let cos = first["cosine_to_orig"]["plus"].as_f64().unwrap();
    assert!(cos < 0.9999 && cos > 0.0, "{first}");
    let strip = image::open(a.join("triptych.png")).unwrap();
    assert_eq!((strip.width(), strip.height()), (96, 32));
    assert_eq!(first["prompt"], "a red ball on grass");

    // From a row of the set, into the run's generated/ folder; from a picture file.
    let row = generate(&["--image", "3"], "7", None);
    let folder = lab.run_dir("kr").join("generated");
    assert!(
        Path::new(row["files"]["plus"].as_str().unwrap()).starts_with(&folder),
        "{row}"
    );
    let png = lab.dir.path().join("row3.png");
    lab.ok(&["image", "k", "3", "--out", png.to_str().unwrap()]);
    let file = generate(&["--image", png.to_str().unwrap()], "7", None);
    pixels(&file, "minus");

    // The study's prior embeddings: each CIFAR label as a prompt through the prior. The set
    // records the prior's image encoder, so its labels use the sibling text encoder.
    let made = lab.json(&[
        "embed",
        "--dataset",
        &data,
        "--name",
        "kp",
        "--prior",
        &prior,
        "--prior-steps",
        "3",
        "--batch",
        "8",
    ]);
    assert_eq!(made["dim"].as_u64(), Some(32), "{made}");
    assert!(
        made["model"]
            .as_str()
            .unwrap()
            .ends_with("prior/image_encoder"),
        "{made}"
    );
    let set_toml = std::fs::read_to_string(lab.ws().join("sets/kp/set.toml")).unwrap();
    assert!(
        set_toml.contains("Kandinsky 2.2 prior") && set_toml.contains("mean_norm"),
        "{set_toml}"
    );
    lab.ok(&[
        "train", "--data", "kp", "--lambda", "1e-3", "--dict", "16", "--epochs", "1", "--batch",
        "8", "--name", "kpr",
    ]);
    lab.ok(&["latents", "kpr"]);
    let from_prior = generate_on("kpr", &["--image", "2"], "7", None);
    pixels(&from_prior, "plus");

    // A run of another width is refused with the way out.
    let clip = tiny_clip(&lab.dir.path().join("clip"));
    lab.ok(&[
        "embed",
        "--model",
        &clip,
        "--dataset",
        &data,
        "--name",
        "c",
        "--batch",
        "8",
    ]);
    lab.ok(&[
        "train", "--data", "c", "--lambda", "1e-3", "--dict", "16", "--epochs", "1", "--batch",
        "8", "--name", "cr",
    ]);
    let err = lab.fails(
        &[
            "steer",
            "cr",
            "--latent",
            "1",
            "--generate",
            "--decoder",
            &decoder,
            "--prior",
            &prior,
            "--image",
            "0",
        ],
        1,
    );
    assert!(
        err.contains("16-d") && err.contains("image_encoder"),
        "{err}"
    );
}

/// One model of a pipeline repo, `owner/name/subfolder`: Kandinsky's image encoder fetched
/// from a served hub into the cache, then used offline.
#[test]
fn a_pipeline_repo_subfolder_comes_from_the_hub() {
    let lab = Lab::new();
    let prior = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/kandinsky-tiny/prior"
    ));
    let files = [
        "image_encoder/config.json",
        "image_encoder/model.safetensors",
    ]
    .map(|f| (f.to_string(), std::fs::read(prior.join(f)).unwrap()))
    .to_vec();
    let endpoint = serve(files, false);
    let data = cifar10(&lab.dir.path().join("cifar"), 4);
    let args = [
        "--json",
        "embed",
        "--model",
        "lab/kprior/image_encoder",
        "--dataset",
        &data,
        "--name",
        "k",
    ];
    let out = lab
        .cmd(&args)
        .env("HF_ENDPOINT", &endpoint)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let made: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(made["dim"].as_u64(), Some(32));
    let cached = lab
        .hf_home()
        .join("hub/models--lab--kprior/snapshots/0123456789abcdef/image_encoder");
    assert!(cached.join("model.safetensors").exists());
    let mut offline = args.to_vec();
    offline[7] = "again";
    offline.push("--offline");
    lab.ok(&offline);
}
