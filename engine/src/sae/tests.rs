//! Checks of the hand-written SAE against independent references: a naive f64 loss with
//! finite differences for the gradients, hand-computable metrics, and candle's tensors.

use super::config::L1Convention;
use super::evaluate::evaluate;
use super::linalg::Threads;
use super::model::Sae;
use super::params::SaeParams;
use super::step::{forward, forward_backward, Scratch};
use crate::set::{DataStats, GroundTruth, InMemory};

/// The loss computed naively in f64, as the equations read.
fn naive_loss(p: &SaeParams, x: &[f32], rows: usize, lambda: f64, l1: L1Convention) -> f64 {
    let (d, m) = (p.d, p.m);
    let (mut sse, mut abs) = (0.0, 0.0);
    for r in 0..rows {
        let xr = &x[r * d..(r + 1) * d];
        let z: Vec<f64> = (0..m)
            .map(|j| {
                let pre: f64 = (0..d)
                    .map(|i| (xr[i] as f64 - p.b_dec[i] as f64) * p.w_enc[i * m + j] as f64)
                    .sum::<f64>()
                    + p.b_enc[j] as f64;
                pre.max(0.0)
            })
            .collect();
        abs += z.iter().sum::<f64>();
        for (i, &target) in xr.iter().enumerate() {
            let recon: f64 = (0..m)
                .map(|j| z[j] * p.w_dec[j * d + i] as f64)
                .sum::<f64>()
                + p.b_dec[i] as f64;
            sse += (recon - target as f64).powi(2);
        }
    }
    sse / (rows * d) as f64 + lambda * abs / l1.divisor(rows, m)
}

fn sample(d: usize, m: usize, rows: usize) -> (SaeParams, Vec<f32>) {
    sample_seeded(d, m, rows, 11)
}

/// Weights a little away from their initialisation, and smooth rows, from a seed.
pub(super) fn sample_seeded(d: usize, m: usize, rows: usize, seed: u64) -> (SaeParams, Vec<f32>) {
    let mut p = SaeParams::init(d, m, seed);
    p.b_enc
        .iter_mut()
        .enumerate()
        .for_each(|(j, b)| *b = 0.05 * (j as f32).cos());
    p.b_dec
        .iter_mut()
        .enumerate()
        .for_each(|(i, b)| *b = 0.1 * (i as f32).sin());
    p.w_dec
        .iter_mut()
        .enumerate()
        .for_each(|(i, w)| *w *= 1.0 + 0.3 * (i as f32 * 0.7).sin());
    let x = (0..rows * d).map(|i| (i as f32 * 0.37).sin()).collect();
    (p, x)
}

#[test]
fn gradients_match_finite_differences() {
    let (d, m, rows) = (6, 10, 5);
    for l1 in [L1Convention::Mean, L1Convention::Sum] {
        let lambda = 0.05;
        let (p, x) = sample(d, m, rows);
        let mut s = Scratch::new(d, m, rows);
        let stats = forward_backward(&p, &x, rows, lambda, l1, &mut s, Threads::One);
        assert!((stats.loss - naive_loss(&p, &x, rows, lambda, l1)).abs() < 1e-6);
        let h = 1e-3f32;
        for t in 0..4 {
            let n = p.buffers()[t].len();
            for k in [0, n / 2, n - 1] {
                let mut plus = p.clone();
                plus.buffers_mut()[t][k] += h;
                let mut minus = p.clone();
                minus.buffers_mut()[t][k] -= h;
                let numeric = (naive_loss(&plus, &x, rows, lambda, l1)
                    - naive_loss(&minus, &x, rows, lambda, l1))
                    / (2.0 * h as f64);
                let analytic = s.grads.buffers()[t][k] as f64;
                assert!(
                    (numeric - analytic).abs() < 2e-4 * (1.0 + numeric.abs()),
                    "{l1:?} tensor {t} index {k}: numeric {numeric} analytic {analytic}"
                );
            }
        }
    }
}

#[test]
fn threads_do_not_change_the_step() {
    let (p, x) = sample(32, 256, 40);
    let mut a = Scratch::new(32, 256, 40);
    let mut b = Scratch::new(32, 256, 40);
    let sa = forward_backward(&p, &x, 40, 1e-2, L1Convention::Mean, &mut a, Threads::All);
    let sb = forward_backward(&p, &x, 40, 1e-2, L1Convention::Mean, &mut b, Threads::One);
    assert_eq!(sa, sb);
    assert_eq!(a.grads, b.grads);
}

#[test]
fn metrics_on_a_hand_computable_sae() {
    // d = 2, m = 2, identity encoder and decoder, zero biases: z = ReLU(x), x̂ = z.
    let mut p = SaeParams::zeros(2, 2);
    p.w_enc = vec![1.0, 0.0, 0.0, 1.0];
    p.w_dec = vec![1.0, 0.0, 0.0, 1.0];
    let data = [1.0f32, -1.0, 3.0, 2.0];
    // z rows: [1, 0] and [3, 2]; x̂ rows equal z; errors: row 0 dim 1 is −1 vs 0.
    let stats = DataStats::of(&data, 2);
    let gt = GroundTruth {
        names: vec!["a".into(), "b".into()],
        directions: vec![1.0, 0.0, 0.6, 0.8],
    };
    let truth = super::evaluate::Truth {
        gt: &gt,
        present: None,
    };
    let (m, firing) = evaluate(
        &p,
        &InMemory::new(&data, 2),
        &stats,
        L1Convention::Mean,
        Some(truth),
        Threads::One,
    )
    .unwrap();
    assert_eq!(m.avg_l0, 1.5);
    assert_eq!(m.mse, 1.0 / 4.0);
    assert_eq!(m.l1, 6.0 / 4.0);
    // SST: dim 0 mean 2 → 1 + 1; dim 1 mean 0.5 → 2.25 + 2.25; total 6.5.
    assert!((m.r2 - (1.0 - 1.0 / 6.5)).abs() < 1e-12);
    assert!((m.fvu - 1.0 / 6.5).abs() < 1e-12);
    assert_eq!((m.dead_frac, m.dense_frac), (0.0, 1.0));
    assert_eq!(firing.counts, vec![2, 1]);
    // Best cosines: 1.0 and 0.8 → mean 0.9, one of two above 0.9.
    assert!((m.gt_recovery.unwrap() - 0.9).abs() < 1e-6);
    assert_eq!(m.gt_recovered_frac, Some(0.5));
    let (sum_convention, _) = evaluate(
        &p,
        &InMemory::new(&data, 2),
        &stats,
        L1Convention::Sum,
        None,
        Threads::One,
    )
    .unwrap();
    assert_eq!(sum_convention.l1, 3.0);
}

#[test]
fn candle_model_matches_the_training_forward() {
    use super::arch::Activation;
    let (mut p, x) = sample(16, 64, 9);
    for activation in [
        Activation::Relu,
        Activation::TopK { k: 5 },
        Activation::JumpRelu {
            threshold: (0..64).map(|j| 0.01 * (j % 7) as f32).collect(),
        },
    ] {
        p.activation = activation;
        let mut s = Scratch::new(16, 64, 9);
        forward(&p, &x, 9, &mut s, Threads::All);
        let device = candle_core::Device::Cpu;
        let sae = Sae::from_params(&p, &device).unwrap();
        let xt = candle_core::Tensor::from_slice(&x, (9, 16), &device).unwrap();
        let (z, recon) = sae.forward(&xt).unwrap();
        let z: Vec<f32> = z.flatten_all().unwrap().to_vec1().unwrap();
        let recon: Vec<f32> = recon.flatten_all().unwrap().to_vec1().unwrap();
        for (a, b) in z.iter().zip(&s.z[..9 * 64]) {
            assert!((a - b).abs() < 1e-5, "{:?}: {a} vs {b}", p.activation);
        }
        for (a, b) in recon.iter().zip(&s.recon[..9 * 16]) {
            assert!((a - b).abs() < 1e-5);
        }
    }
}

#[test]
fn candle_trainer_follows_the_cpu_trainer() {
    use super::adam::Adam;
    use super::candle_trainer::CandleTrainer;
    use super::config::TrainConfig;
    use super::trainer::Trainer;

    let (d, m, rows) = (16, 48, 12);
    for (l1, unit_norm_decoder) in [(L1Convention::Mean, false), (L1Convention::Sum, true)] {
        let config = TrainConfig {
            dict: m,
            batch: rows,
            lambda: 1e-2,
            l1,
            unit_norm_decoder,
            ..Default::default()
        };
        let (p, x) = sample(d, m, rows);
        let adam = Adam::new(d, m);
        let cpu_device = candle_core::Device::Cpu;
        let snapshot = super::Snapshot {
            params: p.clone(),
            adam: adam.clone(),
            family: None,
        };
        let mut cpu =
            Trainer::resume(config.clone(), snapshot, 1.0, &cpu_device, Threads::One).unwrap();
        let mut gpu_path = CandleTrainer::new(config, &p, &adam, None, 1.0, &cpu_device).unwrap();
        for _ in 0..5 {
            let a = cpu.step_read(&x, rows, 1e-3).unwrap();
            let b = gpu_path.step_read(&x, rows, 1e-3).unwrap();
            assert!(
                (a.loss - b.loss).abs() < 1e-6 * (1.0 + a.loss),
                "{a:?} vs {b:?}"
            );
            assert_eq!(a.avg_l0, b.avg_l0);
        }
        let a = cpu.state().unwrap();
        let b = gpu_path.state().unwrap();
        assert_eq!(a.adam.t, b.adam.t);
        for (x, y) in a.params.buffers().iter().zip(b.params.buffers()) {
            for (u, v) in x.iter().zip(y.iter()) {
                assert!((u - v).abs() < 1e-5, "{u} vs {v}");
            }
        }
    }
}
