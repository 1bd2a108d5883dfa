//! The embed job on a random tiny CLIP: rows match the model run by hand, corrupt pictures are
//! skipped and reported, an interrupted job resumes to the same set, labels find their tasks.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use image::{Rgb, RgbImage};

use super::*;
use candle_core::Tensor;

use crate::clip::decode;
use crate::clip::preprocess::preprocess;
use crate::clip::random;
use crate::set::{EmbeddingSet, REPORT_FILE};
use crate::unit::normalise_rows;

const PARQUET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/parquet");

struct World {
    _dir: tempfile::TempDir,
    ws: Workspace,
    model: PathBuf,
    images: PathBuf,
}

/// A workspace, a tiny random CLIP, and a folder of `n` pictures in two classes plus one
/// corrupt file.
fn world(n: usize) -> World {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("clip");
    random::save_random(&random::tiny(), &model).unwrap();
    let images = dir.path().join("images");
    for i in 0..n {
        let class = if i % 2 == 0 { "cat" } else { "dog" };
        let path = images.join(class).join(format!("{i:03}.png"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        RgbImage::from_fn(40 + i as u32, 36, |x, y| {
            Rgb([(x * 5) as u8, (y * 7) as u8, (i * 20) as u8])
        })
        .save(&path)
        .unwrap();
    }
    std::fs::write(images.join("cat/zz-broken.png"), b"not a png").unwrap();
    let ws = Workspace::open(dir.path().join("ws")).unwrap();
    World {
        _dir: dir,
        ws,
        model,
        images,
    }
}

fn options(w: &World, name: &str) -> EmbedOptions {
    let mut o = EmbedOptions::new(
        ModelSource::new(w.model.to_string_lossy()),
        Kind::Folder,
        w.images.clone(),
        name,
    );
    o.batch = 3;
    o.chunk = 4;
    o
}

fn run(
    w: &World,
    o: &EmbedOptions,
    cancel: &AtomicBool,
    progress: Progress,
) -> Result<EmbedOutcome> {
    embed(&w.ws, o, &Device::Cpu, cancel, progress)
}

#[test]
fn rows_are_the_models_unit_embeddings_and_corrupt_pictures_are_reported() {
    let w = world(7);
    let out = run(
        &w,
        &options(&w, "pets"),
        &AtomicBool::new(false),
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!((out.rows, out.dim, out.skipped.len()), (7, 16, 1));
    assert!(out.skipped[0]
        .path
        .as_deref()
        .unwrap()
        .ends_with("zz-broken.png"));
    let set = EmbeddingSet::open(&w.ws, "pets").unwrap();
    assert_eq!(
        set.meta.model,
        w.model.canonicalize().unwrap().to_string_lossy()
    );
    let report: serde_json::Value =
        crate::fsutil::read_json(&w.ws.set_dir("pets").join(REPORT_FILE)).unwrap();
    assert_eq!(report["skipped"].as_array().unwrap().len(), 1);
    let items = set.items().unwrap();
    assert_eq!(items[0].label.as_deref(), Some("cat"));

    // Row 2 equals the model run by hand on that picture.
    let clip = Clip::load(&w.model, &Device::Cpu).unwrap();
    let pic = decode::open(Path::new(items[2].path.as_deref().unwrap())).unwrap();
    let x = Tensor::from_vec(preprocess(&pic, 32), (1, 3, 32, 32), &Device::Cpu).unwrap();
    let want = normalise_rows(&clip.embed_images(&x).unwrap())
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let got = set.row(2).unwrap();
    let worst = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-5, "row 2 differs by {worst}");
    let norm: f32 = got.iter().map(|v| v * v).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-5);
}

#[test]
fn an_interrupted_job_resumes_to_the_same_set() {
    let w = world(10);
    let whole = run(
        &w,
        &options(&w, "whole"),
        &AtomicBool::new(false),
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(whole.resumed, 0);

    let cancel = AtomicBool::new(false);
    let first = run(&w, &options(&w, "cut"), &cancel, &mut |done, _| {
        if done >= 4 {
            cancel.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    });
    assert!(matches!(first, Err(Error::Interrupted)));
    assert!(
        EmbeddingSet::open(&w.ws, "cut").is_err(),
        "no half-made set"
    );
    let mut seen = Vec::new();
    let again = run(
        &w,
        &options(&w, "cut"),
        &AtomicBool::new(false),
        &mut |d, t| seen.push((d, t)),
    )
    .unwrap();
    assert!(again.resumed >= 4, "resumed {}", again.resumed);
    assert_eq!(seen[0], (again.resumed, 11));
    let (a, b) = (
        EmbeddingSet::open(&w.ws, "whole").unwrap(),
        EmbeddingSet::open(&w.ws, "cut").unwrap(),
    );
    assert_eq!(a.data().unwrap(), b.data().unwrap());
    assert_eq!(a.items().unwrap(), b.items().unwrap());
    assert!(!w.ws.sets_dir().join(".cut.embedding").exists());
}

#[test]
fn parquet_sets_carry_their_task_and_skip_bad_rows() {
    let w = world(1);
    let mut o = options(&w, "cifar10");
    (o.kind, o.path, o.split) = (
        Kind::Parquet,
        Path::new(PARQUET).join("cifar10"),
        Split::Train,
    );
    let out = run(&w, &o, &AtomicBool::new(false), &mut |_, _| {}).unwrap();
    assert_eq!(out.rows, 4);
    let set = EmbeddingSet::open(&w.ws, "cifar10").unwrap();
    assert_eq!(set.meta.tasks, ["cifar10"]);
    assert_eq!(set.meta.split.as_deref(), Some("train"));

    let mut o = options(&w, "c100");
    (o.kind, o.path) = (Kind::Parquet, Path::new(PARQUET).join("cifar100"));
    let out = run(&w, &o, &AtomicBool::new(false), &mut |_, _| {}).unwrap();
    assert_eq!((out.rows, out.skipped.len()), (3, 1));
    assert_eq!(out.skipped[0].source_index, 3);
    // "class 42" is no CIFAR-100 class, so the set claims no task.
    assert!(EmbeddingSet::open(&w.ws, "c100")
        .unwrap()
        .meta
        .tasks
        .is_empty());
}
