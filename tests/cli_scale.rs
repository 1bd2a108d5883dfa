//! Embedding fanned out over slices (issue 20): `embed --shard I/N` side by side, `sets
//! merge`, `sets verify`, and readers of the merged, sharded set.

#![allow(clippy::unwrap_used)]

mod common;

use common::Lab;
use saelab::engine::set::EmbeddingSet;
use saelab::engine::workspace::Workspace;

const TINY_CLIP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/clip-tiny-gelu");

/// Sixteen pictures and one that cannot be read, in a folder.
fn pictures(lab: &Lab) -> String {
    let dir = lab.pictures(32);
    std::fs::write(dir.join("p07b.jpg"), b"not a jpeg").unwrap();
    format!("folder:{}", dir.display())
}

fn embed<'a>(data: &'a str, name: &'a str, shard: Option<&'a str>) -> Vec<&'a str> {
    let mut args = vec![
        "--quiet",
        "embed",
        "--model",
        TINY_CLIP,
        "--dataset",
        data,
        "--name",
        name,
        "--batch",
        "3",
        "--chunk",
        "4",
    ];
    if let Some(s) = shard {
        args.extend(["--shard", s]);
    }
    args
}

/// A set's values as bits: what "bit for bit" compares.
fn bits(s: &EmbeddingSet) -> Vec<u32> {
    s.data().unwrap().iter().map(|v| v.to_bits()).collect()
}

fn open(lab: &Lab, name: &str) -> EmbeddingSet {
    EmbeddingSet::open(&Workspace::open(lab.ws()).unwrap(), name).unwrap()
}

#[test]
fn slices_embedded_side_by_side_merge_into_the_set_one_process_makes() {
    let lab = Lab::new();
    let data = pictures(&lab);
    lab.ok(&embed(&data, "whole", None));
    // Two slices at once, then the third; the merge names what is missing until then.
    let a = lab.spawn(&embed(&data, "parts", Some("0/3")));
    let b = lab.spawn(&embed(&data, "parts", Some("1/3")));
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let err = lab.fails(&["sets", "merge", "parts"], 1);
    assert!(
        err.contains("slice 2 of 3") && err.contains("--shard I/3"),
        "{err}"
    );
    lab.fails(&["train", "--data", "parts", "--lambda", "1e-3"], 1);
    let listed = lab.run(&["sets"]);
    let note = String::from_utf8_lossy(&listed.stderr);
    assert!(
        listed.status.success() && note.contains("'parts' has 2 of 3 slices"),
        "{note}"
    );
    lab.ok(&embed(&data, "parts", Some("2/3")));
    let merged = lab.json(&["sets", "merge", "parts"]);
    assert_eq!(
        (merged["slices"].as_u64(), merged["skipped"].as_u64()),
        (Some(3), Some(1))
    );

    let (whole, parts) = (open(&lab, "whole"), open(&lab, "parts"));
    assert_eq!(parts.rows(), 16);
    assert_eq!(parts.meta.shards.len(), 3);
    assert_eq!(bits(&whole), bits(&parts), "row for row, bit for bit");
    assert_eq!(whole.items().unwrap(), parts.items().unwrap());
    assert_eq!(
        (&whole.meta.model, &whole.meta.source),
        (&parts.meta.model, &parts.meta.source)
    );
    let report = std::fs::read_to_string(parts.dir().join("report.json")).unwrap();
    assert!(report.contains("p07b.jpg"), "{report}");

    // Every reader takes the sharded set: it is listed, verified, trained on.
    let listed = lab.json(&["sets"]);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "parts"),
        "{listed}"
    );
    let checks = lab.json(&["sets", "verify", "parts"]);
    assert_eq!(checks.as_array().unwrap().len(), 3);
    lab.ok(&[
        "--quiet", "train", "--data", "parts", "--lambda", "1e-3", "--dict", "8", "--epochs", "1",
        "--batch", "4", "--name", "r",
    ]);
    assert_eq!(lab.json(&["metrics", "r"])[0]["status"], "done");
}

#[test]
fn a_damaged_or_missing_shard_is_named() {
    let lab = Lab::new();
    let data = pictures(&lab);
    for shard in ["0/2", "1/2"] {
        lab.ok(&embed(&data, "parts", Some(shard)));
    }
    lab.ok(&["sets", "merge", "parts"]);
    lab.ok(&["sets", "verify", "parts"]);
    let shard = lab
        .ws()
        .join("sets/parts/slices/00001-of-00002/shard-00000.safetensors");
    let mut bytes = std::fs::read(&shard).unwrap();
    let last = bytes.len() - 5;
    bytes[last] ^= 0x10;
    std::fs::write(&shard, &bytes).unwrap();
    let err = lab.fails(&["sets", "verify", "parts"], 1);
    assert!(
        err.contains("00001-of-00002/shard-00000") && err.contains("checksum"),
        "{err}"
    );
    std::fs::remove_file(&shard).unwrap();
    let err = lab.fails(&["sets", "verify", "parts"], 1);
    assert!(
        err.contains("00001-of-00002/shard-00000") && err.contains("missing"),
        "{err}"
    );
    let err = lab.fails(&["train", "--data", "parts", "--lambda", "1e-3"], 1);
    assert!(
        err.contains("shard-00000") && err.contains("missing"),
        "{err}"
    );
    // A set embedded in one piece is not turned into slices, nor a sliced one replaced whole.
    lab.ok(&embed(&data, "whole", None));
    let err = lab.fails(&embed(&data, "whole", Some("0/2")), 1);
    assert!(err.contains("one piece"), "{err}");
    let err = lab.fails(&embed(&data, "parts", None), 1);
    assert!(err.contains("made of slices"), "{err}");
    assert!(shard.parent().unwrap().join("slice.toml").is_file());
    // Slices cut in other chunks do not tile the dataset: the merge says so.
    let mut other = embed(&data, "parts", Some("1/2"));
    *other.iter_mut().rev().find(|a| **a == "4").unwrap() = "3";
    lab.ok(&other);
    let err = lab.fails(&["sets", "merge", "parts"], 1);
    assert!(err.contains("cut differently"), "{err}");
}

#[test]
fn shard_auto_reads_the_slurm_array() {
    let lab = Lab::new();
    let data = pictures(&lab);
    let err = lab.fails(&embed(&data, "parts", Some("auto")), 1);
    assert!(err.contains("SLURM_ARRAY_TASK_ID"), "{err}");
    // Task 11 of an array submitted as --array=10-13.
    let out = lab
        .cmd(&embed(&data, "parts", Some("auto")))
        .env("SLURM_ARRAY_TASK_ID", "11")
        .env("SLURM_ARRAY_TASK_MIN", "10")
        .env("SLURM_ARRAY_TASK_COUNT", "4")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(lab
        .ws()
        .join("sets/parts/slices/00001-of-00004/slice.toml")
        .is_file());
    // Without --shard the environment is ignored: one whole set.
    let whole = lab
        .cmd(&embed(&data, "whole", None))
        .env("SLURM_ARRAY_TASK_ID", "11")
        .output()
        .unwrap();
    assert!(whole.status.success());
    assert_eq!(open(&lab, "whole").rows(), 16);
}

/// The lab's sixteen pictures as img2dataset would write them: samples `KEY.png` with a
/// caption `KEY.txt` and metadata `KEY.json`, eight to a tar, plus a corrupt picture.
fn webdataset(lab: &Lab) -> std::path::PathBuf {
    let pictures = lab.pictures(32);
    let dir = lab.dir.path().join("wds");
    std::fs::create_dir_all(&dir).unwrap();
    let mut names: Vec<_> = std::fs::read_dir(&pictures)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for (t, group) in names.chunks(8).enumerate() {
        let mut tar =
            tar::Builder::new(std::fs::File::create(dir.join(format!("{t:05}.tar"))).unwrap());
        let mut add = |name: &str, bytes: &[u8]| {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, name, bytes).unwrap();
        };
        for (i, path) in group.iter().enumerate() {
            let key = format!("{:09}", t * 8 + i);
            add(&format!("{key}.png"), &std::fs::read(path).unwrap());
            add(&format!("{key}.txt"), format!("picture {key}").as_bytes());
            add(&format!("{key}.json"), br#"{"status": "success"}"#);
        }
        if t == 0 {
            add("000000007b.jpg", b"not a jpeg");
        }
        tar.finish().unwrap();
    }
    dir
}

#[test]
fn webdataset_tars_embed_as_the_folder_loader_would() {
    let lab = Lab::new();
    let tars = webdataset(&lab);
    // The same pictures with the same unreadable one among them, so that the chunks match.
    let folder = pictures(&lab);
    lab.ok(&embed(&folder, "folder", None));
    let out = lab.json(&embed(
        &format!("webdataset:{}", tars.display()),
        "wds",
        None,
    ));
    assert_eq!(out["rows"], 16, "{out}");
    let skipped = out["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{out}");
    assert!(
        skipped[0]["reason"]
            .as_str()
            .unwrap()
            .contains("000000007b.jpg"),
        "{out}"
    );
    let (a, b) = (open(&lab, "folder"), open(&lab, "wds"));
    assert_eq!(bits(&a), bits(&b));
    let items = b.items().unwrap();
    assert_eq!(items[3].caption.as_deref(), Some("picture 000000003"));
    assert_eq!(
        items[9].source_index,
        Some(10),
        "the corrupt sample keeps its number"
    );
    // Slices of whole tars merge into the same items, and rows equal to a batch's rounding.
    let wds = format!("webdataset:{}", tars.display());
    for shard in ["0/2", "1/2"] {
        lab.ok(&embed(&wds, "wparts", Some(shard)));
    }
    lab.ok(&["sets", "merge", "wparts"]);
    let parts = open(&lab, "wparts");
    assert_eq!(parts.items().unwrap(), items);
    let far = b
        .data()
        .unwrap()
        .iter()
        .zip(parts.data().unwrap())
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(far < 1e-5, "{far}");
    // A brace pattern names the tars; a tar cut short is named, as its lost samples cannot be.
    let pattern = format!("webdataset:{}/{{00000..00001}}.tar", tars.display());
    lab.ok(&embed(&pattern, "braced", None));
    assert_eq!(bits(&open(&lab, "braced")), bits(&a));
    let cut = tars.join("00001.tar");
    let bytes = std::fs::read(&cut).unwrap();
    std::fs::write(&cut, &bytes[..1000]).unwrap();
    let err = lab.fails(
        &embed(&format!("webdataset:{}", tars.display()), "cut", None),
        1,
    );
    assert!(
        err.contains("00001.tar") && err.contains("cut short"),
        "{err}"
    );
}

/// `sets index`: a set above the exact-search limit gets its nearest-row index built, then
/// found kept; a small set needs none; the damaged index of a set is built again.
#[test]
fn sets_index_builds_a_large_sets_nearest_row_index_once() {
    use saelab::engine::steer::nearest::{EXACT_ROWS, INDEX_FILE};
    let lab = Lab::new();
    let rows = (EXACT_ROWS + 500).to_string();
    lab.ok(&["--quiet", "demo", "--images", &rows]);
    let index = |name: &str| lab.json(&["sets", "index", name]);
    let first = index("demo");
    assert_eq!(first["search"], "built");
    assert_eq!(first["rows"], EXACT_ROWS + 500);
    let file = lab.ws().join("sets/demo").join(INDEX_FILE);
    assert_eq!(first["bytes"], std::fs::metadata(&file).unwrap().len());
    assert_eq!(index("demo")["search"], "kept");
    std::fs::write(&file, b"cut short").unwrap();
    assert_eq!(index("demo")["search"], "built");
    let small = Lab::new();
    small.ok(&["--quiet", "demo", "--images", "300"]);
    assert_eq!(small.json(&["sets", "index", "demo"])["search"], "exact");
    let said = lab.fails(&["sets", "index", "nothing"], 1);
    assert!(said.contains("nothing"), "{said}");
}
