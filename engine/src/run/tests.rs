//! The run lifecycle on a tiny demo set: resume equals an uninterrupted run, cancelling saves
//! a checkpoint, divergence keeps the last good one, a changed set is refused.

use std::sync::atomic::{AtomicBool, Ordering};

use super::train::{create_run, train, Observer, Silent, TrainRequest};
use super::*;
use crate::demo;
use crate::error::Error;
use crate::sae::linalg::Threads;
use crate::sae::{checkpoint, TrainConfig};
use crate::set::{epoch_order, now_unix, write_set, EmbeddingSet, SetFiles, SetMeta};

fn tiny_config() -> TrainConfig {
    TrainConfig {
        dict: 64,
        batch: 32,
        epochs: 3,
        checkpoint_every: 4,
        log_every: 2,
        lambda: 1e-2,
        ..Default::default()
    }
}

fn setup(rows: usize) -> (tempfile::TempDir, Workspace, EmbeddingSet) {
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::open(dir.path()).unwrap();
    demo::create(&ws, rows, 1).unwrap();
    let set = EmbeddingSet::open(&ws, "demo").unwrap();
    (dir, ws, set)
}

fn new_run(ws: &Workspace, set: &EmbeddingSet, name: &str, train: TrainConfig) -> RunDir {
    let run = RunDir::new(ws, name);
    let config = RunConfig {
        name: name.into(),
        data: set.name().into(),
        rows: set.rows(),
        dim: set.dim(),
        created: now_unix(),
        train,
        imported: None,
    };
    create_run(&run, &config).unwrap();
    run
}

fn go(
    run: &RunDir,
    set: &EmbeddingSet,
    cancel: &AtomicBool,
    observer: &dyn Observer,
) -> Result<RunOutcome> {
    train(TrainRequest {
        run: run.clone(),
        set,
        device: &candle_core::Device::Cpu,
        threads: Threads::All,
        cancel,
        observer,
    })
}

/// Cancels training once a given step has been logged.
struct CancelAt<'a>(u64, &'a AtomicBool);
impl Observer for CancelAt<'_> {
    fn logged(&self, _: &str, row: &MetricsRow, _: u64) {
        if row.step >= self.0 {
            self.1.store(true, Ordering::SeqCst);
        }
    }
}

#[test]
fn resume_gives_the_same_weights_as_an_uninterrupted_run() {
    let (_dir, ws, set) = setup(300);
    let never = AtomicBool::new(false);
    let whole = new_run(&ws, &set, "whole", tiny_config());
    let done = go(&whole, &set, &never, &Silent).unwrap();
    assert_eq!(done.results.steps, 30);

    let cut = new_run(&ws, &set, "cut", tiny_config());
    let cancel = AtomicBool::new(false);
    let err = go(&cut, &set, &cancel, &CancelAt(6, &cancel)).unwrap_err();
    assert!(matches!(err, Error::Interrupted));
    let state = cut.state().unwrap().unwrap();
    assert_eq!(
        (state.status, state.checkpoint_step),
        (Status::Interrupted, 6)
    );

    go(&cut, &set, &never, &Silent).unwrap();
    let a = checkpoint::load_weights(&whole.path(WEIGHTS_FILE)).unwrap();
    let b = checkpoint::load_weights(&cut.path(WEIGHTS_FILE)).unwrap();
    assert_eq!(a, b, "resumed weights differ from the uninterrupted run's");
    let steps = |r: &RunDir| {
        r.metrics()
            .unwrap()
            .iter()
            .map(|m| m.step)
            .collect::<Vec<_>>()
    };
    assert_eq!(steps(&whole), steps(&cut), "the log has no gaps or repeats");
    assert_eq!(
        cut.results().unwrap().unwrap().metrics,
        whole.results().unwrap().unwrap().metrics
    );
}

#[test]
fn a_short_run_lowers_the_loss() {
    let (_dir, ws, set) = setup(600);
    let cfg = TrainConfig {
        dict: 256,
        epochs: 4,
        ..tiny_config()
    };
    let run = new_run(&ws, &set, "r", cfg);
    go(&run, &set, &AtomicBool::new(false), &Silent).unwrap();
    let log = run.metrics().unwrap();
    let (first, last) = (log.first().unwrap(), log.last().unwrap());
    assert!(
        last.loss < 0.5 * first.loss,
        "loss {} → {}",
        first.loss,
        last.loss
    );
    let r2 = run.results().unwrap().unwrap().metrics.r2;
    assert!(r2 > 0.5, "R² {r2}");
}

/// A demo-like set whose row in the batch of step `step` (1-based) is huge, so the gradients
/// of that step overflow and the weights turn NaN.
fn set_with_a_bomb(
    ws: &Workspace,
    rows: usize,
    batch: usize,
    seed: u64,
    step: usize,
) -> EmbeddingSet {
    let (mut data, items) = demo::generate(rows, 1);
    let bomb = epoch_order(rows, seed, 0)[(step - 1) * batch] as usize;
    data[bomb * demo::DIM..(bomb + 1) * demo::DIM].fill(1e30);
    let meta = SetMeta {
        name: "bomb".into(),
        source: "test".into(),
        model: "none".into(),
        dim: demo::DIM,
        count: rows,
        preprocessing: "none".into(),
        created: 0,
        ..Default::default()
    };
    write_set(
        &ws.sets_dir(),
        &SetFiles {
            meta,
            embeddings: &data,
            items: &items,
            ground_truth: None,
            report: None,
        },
    )
    .unwrap();
    EmbeddingSet::open_unchecked(ws, "bomb").unwrap()
}

#[test]
fn divergence_stops_and_keeps_the_last_finite_checkpoint() {
    let (_dir, ws, _) = setup(10);
    // The huge row would poison a b_dec started from the data's mean at step 1.
    let cfg = TrainConfig {
        b_dec_init: crate::sae::BiasInit::Zero,
        ..tiny_config()
    };
    let set = set_with_a_bomb(&ws, 300, cfg.batch, cfg.seed, 6);
    let run = new_run(&ws, &set, "boom", cfg);
    let err = go(&run, &set, &AtomicBool::new(false), &Silent).unwrap_err();
    let Error::Diverged {
        kept_step, step, ..
    } = err
    else {
        panic!("expected divergence, got {err}");
    };
    assert!(err.to_string().contains("--lr"));
    assert_eq!(
        (step, kept_step),
        (7, 4),
        "NaN weights after step 6 show as a NaN loss at step 7"
    );
    let state = run.state().unwrap().unwrap();
    assert_eq!((state.status, state.checkpoint_step), (Status::Diverged, 4));
    assert!(!run.path(WEIGHTS_FILE).exists());
    let (snap, pos) = checkpoint::load_checkpoint(&run.path(CHECKPOINT_FILE), 512, 64).unwrap();
    assert!(snap.params.all_finite());
    assert_eq!(pos.step, 4);
}

#[test]
fn a_changed_set_is_refused_and_names_are_never_reused() {
    let (_dir, ws, set) = setup(300);
    let run = new_run(&ws, &set, "r", tiny_config());
    demo::create(&ws, 200, 1).unwrap();
    let smaller = EmbeddingSet::open(&ws, "demo").unwrap();
    let err = go(&run, &smaller, &AtomicBool::new(false), &Silent)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("300 rows") && err.contains("200 rows"),
        "{err}"
    );
    let again = create_run(&run, &run.config().unwrap())
        .unwrap_err()
        .to_string();
    assert!(again.contains("already exists"), "{again}");
    let relu = TrainConfig {
        lambda: 1e-2,
        ..Default::default()
    };
    assert_eq!(default_name(&ws, "r", &relu), "r-lam1e-2");
    std::fs::create_dir_all(ws.run_dir("r-lam1e-2")).unwrap();
    assert_eq!(default_name(&ws, "r", &relu), "r-lam1e-2-2");
    let topk = TrainConfig {
        arch: crate::sae::Arch::TopK,
        k: Some(16),
        ..Default::default()
    };
    assert_eq!(default_name(&ws, "r", &topk), "r-topk-k16");
}

#[test]
fn resume_is_bit_equal_for_every_family() {
    use crate::sae::Arch;
    let (_dir, ws, set) = setup(300);
    let never = AtomicBool::new(false);
    for arch in [
        Arch::TopK,
        Arch::BatchTopK,
        Arch::JumpRelu,
        Arch::Matryoshka,
    ] {
        // AuxK on, with latents dying after two steps, so its state is exercised too.
        let config = TrainConfig {
            arch,
            k: arch.uses_k().then_some(8),
            lambda: 1e-3,
            unit_norm_decoder: arch.uses_k(),
            dead_after: 2,
            aux_k: 16,
            warmup_steps: 3,
            decay_steps: 5,
            ..tiny_config()
        };
        let name = arch.name();
        let whole = new_run(&ws, &set, &format!("{name}-whole"), config.clone());
        go(&whole, &set, &never, &Silent).unwrap();
        let cut = new_run(&ws, &set, &format!("{name}-cut"), config);
        let cancel = AtomicBool::new(false);
        assert!(matches!(
            go(&cut, &set, &cancel, &CancelAt(6, &cancel)),
            Err(Error::Interrupted)
        ));
        go(&cut, &set, &never, &Silent).unwrap();
        let a = checkpoint::load_weights(&whole.path(WEIGHTS_FILE)).unwrap();
        let b = checkpoint::load_weights(&cut.path(WEIGHTS_FILE)).unwrap();
        assert_eq!(a, b, "{name}: resumed weights differ");
        assert_ne!(a.activation, crate::sae::Activation::Relu);
        let last = |r: &RunDir| r.metrics().unwrap().last().cloned().unwrap();
        let (lw, lc) = (last(&whole), last(&cut));
        assert_eq!((lw.loss, lw.dead_frac), (lc.loss, lc.dead_frac), "{name}");
        assert_eq!(lw.arch, Some(arch));
    }
}

#[test]
fn batchtopk_threshold_gives_about_k_latents_at_inference() {
    use crate::sae::evaluate::evaluate;
    use crate::sae::Arch;
    let (_dir, ws, set) = setup(4096);
    let never = AtomicBool::new(false);
    for arch in [Arch::BatchTopK, Arch::Matryoshka] {
        let config = TrainConfig {
            arch,
            k: Some(16),
            dict: 256,
            batch: 128,
            epochs: 3,
            unit_norm_decoder: true,
            ..tiny_config()
        };
        let run = new_run(&ws, &set, arch.name(), config);
        go(&run, &set, &never, &Silent).unwrap();
        let p = checkpoint::load_weights(&run.path(WEIGHTS_FILE)).unwrap();
        let (m, _) = evaluate(
            &p,
            &set,
            &set.stats().unwrap(),
            Default::default(),
            None,
            Threads::All,
        )
        .unwrap();
        assert_eq!(m.rows, 4096);
        assert!(
            (m.avg_l0 - 16.0).abs() <= 0.05 * 16.0,
            "{arch:?}: inference L0 {} for k 16",
            m.avg_l0
        );
    }
}

#[test]
fn a_checkpoint_of_another_family_is_refused() {
    use crate::sae::Arch;
    let (_dir, ws, set) = setup(300);
    let topk = TrainConfig {
        arch: Arch::TopK,
        k: Some(8),
        ..tiny_config()
    };
    let run = new_run(&ws, &set, "r", topk);
    let cancel = AtomicBool::new(false);
    let _ = go(&run, &set, &cancel, &CancelAt(4, &cancel));
    // run.toml edited to another family under the saved TopK state.
    let mut config = run.config().unwrap();
    config.train.arch = Arch::JumpRelu;
    config.train.k = None;
    crate::fsutil::write_toml(&run.path(CONFIG_FILE), &config).unwrap();
    let err = go(&run, &set, &AtomicBool::new(false), &Silent)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("--arch jumprelu") && err.contains("run.toml"),
        "{err}"
    );
}

/// Asks one run to stop once it has logged a given step.
struct StopAt<'a> {
    run: &'a RunDir,
    step: u64,
}
impl Observer for StopAt<'_> {
    fn logged(&self, name: &str, row: &MetricsRow, _: u64) {
        if name == self.run.name && row.step >= self.step {
            super::request_stop(self.run).unwrap();
        }
    }
}

/// Issue 16, case 14: a stop request stops that run alone, with a checkpoint, while the other
/// runs of its sweep (one process) go on; resume then finishes it.
#[test]
fn a_stop_request_stops_one_run_of_a_sweep() {
    let (_dir, ws, set) = setup(300);
    let a = new_run(&ws, &set, "a", tiny_config());
    let b = new_run(&ws, &set, "b", tiny_config());
    let cancel = AtomicBool::new(false);
    let out = super::sweep::train_concurrently(
        vec![a.clone(), b.clone()],
        &set,
        &candle_core::Device::Cpu,
        &cancel,
        &StopAt { run: &a, step: 4 },
    );
    let result = |name: &str| &out.iter().find(|(n, _)| n == name).unwrap().1;
    assert!(
        matches!(result("a"), Err(Error::Interrupted)),
        "{:?}",
        result("a")
    );
    assert!(result("b").is_ok(), "{:?}", result("b"));
    let summary = |r: &RunDir| {
        list_runs(&ws, std::slice::from_ref(&r.name))
            .unwrap()
            .remove(0)
    };
    assert_eq!(summary(&a).status, super::Status::Interrupted);
    assert!(summary(&a).step < summary(&a).total_steps);
    assert_eq!(summary(&b).status, super::Status::Done);
    assert!(!a.path(super::STOP_FILE).exists(), "the request is used up");
    go(&a, &set, &cancel, &Silent).unwrap();
    assert_eq!(summary(&a).status, super::Status::Done);
}

/// The set `set` again as `name`, in shards of `per_shard` rows (as `sets merge` lists them).
fn sharded_copy(ws: &Workspace, set: &EmbeddingSet, name: &str, per_shard: usize) -> EmbeddingSet {
    use crate::set::shards::write_shards;
    use crate::set::{ITEMS_FILE, META_FILE};
    let dir = ws.set_dir(name);
    std::fs::create_dir_all(&dir).unwrap();
    let row_bytes = set.dim() * std::mem::size_of::<f32>();
    let shards = write_shards(&dir, set.data().unwrap(), set.dim(), per_shard * row_bytes).unwrap();
    let meta = SetMeta {
        name: name.into(),
        shards,
        ..set.meta.clone()
    };
    crate::fsutil::write_toml(&dir.join(META_FILE), &meta).unwrap();
    std::fs::copy(set.dir().join(ITEMS_FILE), dir.join(ITEMS_FILE)).unwrap();
    EmbeddingSet::open(ws, name).unwrap()
}

#[test]
fn streamed_training_on_a_sharded_set_resumes_bit_equal() {
    let (_dir, ws, set) = setup(300);
    // Shards of 70 rows, windows of 64: batches cross windows, windows cross shards.
    let sharded = sharded_copy(&ws, &set, "sharded", 70);
    assert!(sharded.shards().is_some());
    let config = TrainConfig {
        shuffle_window: 64,
        ..tiny_config()
    };
    let never = AtomicBool::new(false);
    let whole = new_run(&ws, &sharded, "whole", config.clone());
    let done = go(&whole, &sharded, &never, &Silent).unwrap();
    assert_eq!(done.results.steps, 30);
    let cut = new_run(&ws, &sharded, "cut", config.clone());
    let cancel = AtomicBool::new(false);
    let err = go(&cut, &sharded, &cancel, &CancelAt(10, &cancel)).unwrap_err();
    assert!(matches!(err, Error::Interrupted));
    go(&cut, &sharded, &never, &Silent).unwrap();
    let a = checkpoint::load_weights(&whole.path(WEIGHTS_FILE)).unwrap();
    let b = checkpoint::load_weights(&cut.path(WEIGHTS_FILE)).unwrap();
    assert_eq!(a, b, "resumed weights differ from the uninterrupted run's");

    // The whole-set metrics, streamed, are those of the same rows in memory; the batches
    // differ from the in-memory permutation's, so the trained weights do too.
    use crate::sae::evaluate::evaluate;
    let metrics = whole.results().unwrap().unwrap().metrics;
    let (in_memory, _) = evaluate(
        &a,
        &set,
        &set.stats().unwrap(),
        config.l1,
        None,
        Threads::All,
    )
    .unwrap();
    assert!((metrics.mse - in_memory.mse).abs() < 1e-6 * in_memory.mse);
    assert_eq!(metrics.avg_l0, in_memory.avg_l0);
    let plain = new_run(&ws, &set, "plain", config);
    go(&plain, &set, &never, &Silent).unwrap();
    assert_ne!(
        a,
        checkpoint::load_weights(&plain.path(WEIGHTS_FILE)).unwrap()
    );

    // The latent index (read a piece at a time) and its labels (top rows read one by one)
    // are those of the same rows in memory.
    use crate::latents::{analyse, label::label_all, LatentIndex};
    let analysis = analyse(&ws, "whole", 8).unwrap();
    assert!(analysis.set.shards().is_some());
    let index = LatentIndex::build(&analysis.params, &set, 8).unwrap();
    assert_eq!(analysis.index, index);
    let labels = label_all(&a, &index, &set, &analysis.words, &analysis.vocab).unwrap();
    assert_eq!(analysis.labels, labels);
}
