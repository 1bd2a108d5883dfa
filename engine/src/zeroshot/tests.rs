//! Zero-shot on a small demo world: the control equals the baseline, results are saved, bad
//! inputs are named.

use std::sync::atomic::AtomicBool;

use super::*;
use crate::run::train::{create_run, train, Silent, TrainRequest};
use crate::run::RunConfig;
use crate::sae::TrainConfig;

fn workspace_with_a_run() -> (tempfile::TempDir, Workspace) {
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::open(dir.path()).unwrap();
    demo::create(&ws, 600, 3).unwrap();
    let set = EmbeddingSet::open(&ws, "demo").unwrap();
    let run = RunDir::new(&ws, "r");
    let train_cfg = TrainConfig {
        dict: 128,
        batch: 64,
        epochs: 3,
        ..Default::default()
    };
    let config = RunConfig {
        name: "r".into(),
        data: "demo".into(),
        rows: 600,
        dim: 512,
        created: 0,
        train: train_cfg,
        imported: None,
    };
    create_run(&run, &config).unwrap();
    let request = TrainRequest {
        run,
        set: &set,
        device: &candle_core::Device::Cpu,
        threads: Threads::All,
        cancel: &AtomicBool::new(false),
        observer: &Silent,
    };
    train(request).unwrap();
    (dir, ws)
}

#[test]
fn control_equals_baseline_and_results_are_saved() {
    let (_dir, ws) = workspace_with_a_run();
    let task = TaskSpec::builtin("demo10").unwrap();
    let result = evaluate(&ws, &task, None, &[], &|_| {}).unwrap();
    assert_eq!(result.set, "demo-test");
    assert_eq!(result.baseline.n, DEMO_TEST_IMAGES);
    assert!(
        result.baseline.top1 > 0.9,
        "the demo prompt encoder classifies shapes: {}",
        result.baseline.top1
    );
    let r = &result.runs[0];
    assert_eq!(r.control.top1, result.baseline.top1);
    assert_eq!(r.control.per_class, result.baseline.per_class);
    assert!(r.sae.top1 <= r.sae.top5);
    let saved = saved(&RunDir::new(&ws, "r")).unwrap();
    assert_eq!(saved["demo10"].sae, r.sae);
    // The classifier is cached: a second evaluation reads it back and agrees.
    assert_eq!(std::fs::read_dir(cache_dir(&ws)).unwrap().count(), 1);
    let again = evaluate(&ws, &task, None, &[], &|_| {}).unwrap();
    assert_eq!(again.baseline, result.baseline);
}

#[test]
fn held_out_images_are_new_scenes_of_the_same_world() {
    let (_dir, ws) = workspace_with_a_run();
    let task = TaskSpec::builtin("demo100").unwrap();
    let test = test_set(&ws, &task, None).unwrap();
    let train_set = EmbeddingSet::open(&ws, "demo").unwrap();
    assert_eq!(test.meta.seed, train_set.meta.seed);
    assert_ne!(test.row(0).unwrap(), train_set.row(0).unwrap());
    assert_eq!(
        demo::scene_of_row(&test, 5),
        demo::scene_of(3, demo::HELD_OUT_OFFSET + 5)
    );
}

#[test]
fn missing_sets_unlabelled_sets_and_mismatched_runs_are_named() {
    let (_dir, ws) = workspace_with_a_run();
    let cifar = TaskSpec::builtin("cifar10").unwrap();
    let err = evaluate(&ws, &cifar, None, &[], &|_| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("saelab embed") && err.contains("cifar10"),
        "{err}"
    );
    // The demo training set has demo labels but none of CIFAR's classes.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.toml");
    std::fs::write(
        &path,
        "classes = [\"cat\", \"dog\"]\ntemplates = [\"a photo of a {c}.\"]\n",
    )
    .unwrap();
    let mine = TaskSpec::from_file(&path).unwrap();
    let err = evaluate(&ws, &mine, Some("demo"), &[], &|_| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("no item labelled"), "{err}");
    let err = evaluate(
        &ws,
        &TaskSpec::builtin("demo10").unwrap(),
        None,
        &["nope".into()],
        &|_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("no run named 'nope'"), "{err}");
}

#[test]
fn a_run_on_another_models_embeddings_is_refused() {
    use crate::set::{write_set, Item, SetFiles, SetMeta};
    let (_dir, ws) = workspace_with_a_run();
    let meta = SetMeta {
        name: "other".into(),
        source: "test".into(),
        model: "some-other-clip".into(),
        dim: 512,
        count: 1,
        preprocessing: "none".into(),
        created: 0,
        ..Default::default()
    };
    let items = [Item::default()];
    write_set(
        &ws.sets_dir(),
        &SetFiles {
            meta,
            embeddings: &[0.1; 512],
            items: &items,
            ground_truth: None,
            report: None,
        },
    )
    .unwrap();
    let run = RunDir::new(&ws, "o");
    let config = RunConfig {
        name: "o".into(),
        data: "other".into(),
        rows: 1,
        dim: 512,
        created: 0,
        train: TrainConfig {
            batch: 1,
            ..TrainConfig::default()
        },
        imported: None,
    };
    create_run(&run, &config).unwrap();
    let err = evaluate(
        &ws,
        &TaskSpec::builtin("demo10").unwrap(),
        None,
        &["o".into()],
        &|_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("some-other-clip") && err.contains("demo-concept-encoder"),
        "{err}"
    );
    // Left to choose, the lab skips it and scores only the fitting run.
    let result = evaluate(
        &ws,
        &TaskSpec::builtin("demo10").unwrap(),
        None,
        &[],
        &|_| {},
    )
    .unwrap();
    assert_eq!(
        result
            .runs
            .iter()
            .map(|r| r.run.as_str())
            .collect::<Vec<_>>(),
        ["r"]
    );
}

#[test]
fn a_sets_own_labels_make_its_natural_task() {
    use crate::set::{write_set, Item, SetFiles, SetMeta};
    let (_dir, ws) = workspace_with_a_run();
    let demo_set = EmbeddingSet::open(&ws, "demo").unwrap();
    assert_eq!(
        TaskSpec::for_set(&demo_set).unwrap().unwrap().name,
        "demo100"
    );
    let labelled = |name: &str, labels: &[&str]| {
        let items: Vec<Item> = labels
            .iter()
            .enumerate()
            .map(|(id, l)| Item {
                id,
                label: Some(l.to_string()),
                ..Item::default()
            })
            .collect();
        let meta = SetMeta {
            name: name.into(),
            source: "folder:/pets".into(),
            model: "some-clip".into(),
            dim: 4,
            count: items.len(),
            preprocessing: "none".into(),
            created: 0,
            ..Default::default()
        };
        let embeddings = vec![0.5; 4 * items.len()];
        write_set(
            &ws.sets_dir(),
            &SetFiles {
                meta,
                embeddings: &embeddings,
                items: &items,
                ground_truth: None,
                report: None,
            },
        )
        .unwrap();
        TaskSpec::for_set(&EmbeddingSet::open(&ws, name).unwrap()).unwrap()
    };
    let pets = labelled("pets", &["dog", "cat", "dog"]).unwrap();
    assert_eq!(pets.classes, ["cat", "dog"]);
    assert_eq!(pets.templates, ["a photo of a {c}."]);
    let cifar = TaskSpec::builtin("cifar10").unwrap();
    let names: Vec<&str> = cifar.classes.iter().map(String::as_str).collect();
    assert_eq!(labelled("c10", &names).unwrap(), cifar);
    assert!(
        labelled("one", &["cat", "cat"]).is_none(),
        "one class is no task"
    );
}
