//! The candle trainer's GPU options, checked on the CPU device: products at bf16, the set
//! held on the device, and stats read only when asked.

use candle_core::Device;

use super::adam::Adam;
use super::candle_trainer::{Batch, CandleTrainer, Reading};
use super::config::{Precision, TrainConfig};
use super::init::Init;
use super::linalg::Threads;
use super::params::SaeParams;
use super::trainer::Trainer;
use crate::error::Error;
use crate::set::BatchPlan;

const D: usize = 16;
const M: usize = 48;

/// `rows` rows of D dimensions and an SAE of M latents to train on them.
fn problem(rows: usize) -> (SaeParams, Vec<f32>) {
    super::tests::sample_seeded(D, M, rows, 5)
}

fn trainer(precision: Precision, batch: usize, p: &SaeParams) -> CandleTrainer {
    let config = TrainConfig {
        dict: M,
        batch,
        lambda: 1e-2,
        precision,
        ..Default::default()
    };
    CandleTrainer::new(config, p, &Adam::new(D, M), None, 1.0, &Device::Cpu).unwrap()
}

#[test]
fn bf16_products_follow_f32_within_their_rounding() {
    let rows = 24;
    let (p, x) = problem(rows);
    let mut exact = trainer(Precision::F32, rows, &p);
    let mut bf16 = trainer(Precision::Bf16, rows, &p);
    for step in 0..5 {
        let a = exact.step_read(&x, rows, 1e-3).unwrap();
        let b = bf16.step_read(&x, rows, 1e-3).unwrap();
        // bf16 keeps 8 bits of mantissa: products within about 2⁻⁸ of f32's.
        assert!(
            (a.loss - b.loss).abs() < 1e-2 * a.loss,
            "step {step}: {a:?} vs {b:?}"
        );
    }
    let (a, b) = (exact.state().unwrap(), bf16.state().unwrap());
    assert_ne!(a.params, b.params, "bf16 products must differ from f32's");
    // The master weights move as f32's do: only the products were rounded.
    let moved = |s: &super::Snapshot| -> f32 {
        s.params
            .w_dec
            .iter()
            .zip(&p.w_dec)
            .map(|(u, v)| (u - v).abs())
            .sum()
    };
    assert!((moved(&a) - moved(&b)).abs() < 0.05 * moved(&a));
}

#[test]
fn a_held_set_trains_exactly_as_host_batches() {
    let (rows, batch) = (30, 8);
    let (p, x) = problem(rows);
    let mut host = trainer(Precision::F32, batch, &p);
    let mut held = trainer(Precision::F32, batch, &p);
    assert!(held.hold(&x, rows).unwrap());
    let mut plan = BatchPlan::new(rows, batch, 3);
    let mut gathered = Vec::new();
    // Three epochs, so the order is uploaded again at each epoch's start.
    for step in 0..3 * plan.steps_per_epoch() {
        let (epoch, order, range) = plan.in_epoch(step);
        gathered.clear();
        for &i in &order[range.clone()] {
            gathered.extend_from_slice(&x[i as usize * D..(i as usize + 1) * D]);
        }
        host.step(Batch::Rows(&gathered, range.len()), 1e-3)
            .unwrap();
        held.step(
            Batch::Held {
                epoch,
                order,
                range,
            },
            1e-3,
        )
        .unwrap();
    }
    assert_eq!(host.state().unwrap(), held.state().unwrap());
}

#[test]
fn a_step_that_was_not_finite_is_named_at_the_next_read() {
    let rows = 6;
    let (p, x) = problem(rows);
    let mut huge = x.clone();
    huge[..D].fill(1e30);
    let mut t = trainer(Precision::F32, rows, &p);
    t.step(Batch::Rows(&x, rows), 1e-3).unwrap();
    assert!(matches!(t.read().unwrap(), Reading::Stats(s) if s.loss.is_finite()));
    assert!(matches!(t.read().unwrap(), Reading::Nothing));
    // Steps 2 to 4 unread; the third's rows overflow the squared error.
    t.step(Batch::Rows(&x, rows), 1e-3).unwrap();
    t.step(Batch::Rows(&huge, rows), 1e-3).unwrap();
    t.step(Batch::Rows(&x, rows), 1e-3).unwrap();
    match t.read().unwrap() {
        Reading::Diverged { step, .. } => assert_eq!(step, 3),
        Reading::Stats(s) => panic!("read {s:?}, not the divergence"),
        Reading::Nothing => panic!("nothing read"),
    }
}

#[test]
fn gpu_precisions_are_refused_where_they_cannot_run() {
    let (p, _) = problem(4);
    let config = TrainConfig {
        dict: M,
        precision: Precision::Tf32,
        ..Default::default()
    };
    let tf32 = CandleTrainer::new(
        config.clone(),
        &p,
        &Adam::new(D, M),
        None,
        1.0,
        &Device::Cpu,
    );
    assert!(matches!(
        tf32,
        Err(Error::Invalid {
            what: "--precision",
            ..
        })
    ));
    let init = Init {
        b_dec: vec![0.0; D],
        mean_norm: 1.0,
    };
    for precision in [Precision::Tf32, Precision::Bf16] {
        let config = TrainConfig {
            precision,
            ..config.clone()
        };
        let cpu = Trainer::new(config, D, &init, &Device::Cpu, Threads::One);
        let Err(e) = cpu else {
            panic!("{precision:?} accepted by the CPU trainer")
        };
        assert!(e.to_string().contains("--precision"), "{e}");
    }
}

#[test]
fn topk_decoded_from_gathered_rows_equals_the_dense_decode() {
    use super::arch::Arch;
    use super::family_state::FamilyState;
    let rows = 20;
    let (p, x) = problem(rows);
    let config = TrainConfig {
        arch: Arch::TopK,
        k: Some(5),
        aux_k: 3,
        dead_after: 2,
        dict: M,
        batch: rows,
        ..Default::default()
    };
    let make = || {
        let fresh = FamilyState::fresh(M, None);
        CandleTrainer::new(
            config.clone(),
            &p,
            &Adam::new(D, M),
            Some(fresh),
            1.0,
            &Device::Cpu,
        )
        .unwrap()
    };
    let (mut sparse, mut dense) = (make(), make());
    dense.decode_densely();
    for step in 0..6 {
        let a = sparse.step_read(&x, rows, 1e-2).unwrap();
        let b = dense.step_read(&x, rows, 1e-2).unwrap();
        assert!(
            (a.loss - b.loss).abs() < 1e-6 * a.loss,
            "step {step}: {a:?} vs {b:?}"
        );
        assert_eq!(a.avg_l0, b.avg_l0, "step {step}");
    }
    let (a, b) = (sparse.state().unwrap(), dense.state().unwrap());
    for (x, y) in a.params.buffers().iter().zip(b.params.buffers()) {
        for (u, v) in x.iter().zip(y.iter()) {
            assert!((u - v).abs() < 1e-5, "{u} vs {v}");
        }
    }
    assert_eq!(a.family, b.family);
}
