//! Checks of the TopK family and JumpReLU against independent references: a dense f64
//! computation of the same loss and gradients (with the selection frozen, since it is piecewise
//! constant), finite differences, the stated straight-through surrogate for θ, and candle.

use super::adam::Adam;
use super::arch::{Activation, Arch};
use super::candle_trainer::CandleTrainer;
use super::config::TrainConfig;
use super::family_state::FamilyState;
use super::family_step::{
    backward_rows, by_latent, encode_select, gradients, FamilyScratch, Select, Spec,
};
use super::family_trainer::{spec_of, FamilyTrainer};
use super::linalg::Threads;
use super::params::SaeParams;
use super::rows::RowParams;
use super::step::{encode, Scratch};
use super::tests::sample_seeded as sample;
use super::Trainer;

fn spec(select: Select, prefixes: Vec<usize>, aux_k: usize) -> Spec {
    Spec {
        select,
        prefixes,
        aux_k,
        aux_coef: 1.0 / 32.0,
        l1_per_row: 1.0,
    }
}

/// out += a · row, in f64.
fn add_scaled(out: &mut [f64], a: f64, row: &[f32]) {
    out.iter_mut()
        .zip(row)
        .for_each(|(o, &v)| *o += a * v as f64);
}

/// One row's frozen selection: (main latents, AuxK latents).
type Frozen = Vec<(Vec<u32>, Vec<u32>)>;

/// The loss in f64 with the selection frozen, straight from the equations of family_step.rs.
/// AuxK's target e = x − x̂ is held fixed: `residual` gives it, else it is computed here.
fn dense_loss(
    p: &RowParams,
    spec: &Spec,
    x: &[f32],
    frozen: &Frozen,
    residual: Option<&[Vec<f64>]>,
) -> f64 {
    let d = p.d;
    let rows = frozen.len();
    let elements = (rows * d) as f64;
    let mut loss = 0.0;
    for (r, (main, aux)) in frozen.iter().enumerate() {
        let xr = &x[r * d..(r + 1) * d];
        let pre = |j: usize| -> f64 {
            (0..d)
                .map(|i| (xr[i] as f64 - p.b_dec[i] as f64) * p.w_enc_t[j * d + i] as f64)
                .sum::<f64>()
                + p.b_enc[j] as f64
        };
        let mut full = vec![0.0f64; d];
        for &end in &spec.prefixes {
            let mut recon: Vec<f64> = p.b_dec.iter().map(|&b| b as f64).collect();
            for &j in main.iter().filter(|&&j| (j as usize) < end) {
                add_scaled(&mut recon, pre(j as usize), p.decoder_row(j as usize));
            }
            loss += (0..d)
                .map(|i| (recon[i] - xr[i] as f64).powi(2))
                .sum::<f64>()
                / elements;
            full = recon;
        }
        if !aux.is_empty() {
            let e: Vec<f64> = match residual {
                Some(res) => res[r].clone(),
                None => (0..d).map(|i| xr[i] as f64 - full[i]).collect(),
            };
            let mut e_hat = vec![0.0f64; d];
            for &j in aux {
                add_scaled(
                    &mut e_hat,
                    pre(j as usize).max(0.0),
                    p.decoder_row(j as usize),
                );
            }
            let sse: f64 = (0..d).map(|i| (e_hat[i] - e[i]).powi(2)).sum();
            loss += spec.aux_coef * sse / elements;
        }
    }
    loss
}

/// e = x − x̂ of each row's whole reconstruction under `p`, in f64.
fn residuals(p: &RowParams, x: &[f32], frozen: &Frozen) -> Vec<Vec<f64>> {
    let d = p.d;
    frozen
        .iter()
        .enumerate()
        .map(|(r, (main, _))| {
            let xr = &x[r * d..(r + 1) * d];
            let mut recon: Vec<f64> = p.b_dec.iter().map(|&b| b as f64).collect();
            for &j in main {
                let j = j as usize;
                let z: f64 = (0..d)
                    .map(|i| (xr[i] as f64 - p.b_dec[i] as f64) * p.w_enc_t[j * d + i] as f64)
                    .sum::<f64>()
                    + p.b_enc[j] as f64;
                add_scaled(&mut recon, z, p.decoder_row(j));
            }
            (0..d).map(|i| xr[i] as f64 - recon[i]).collect()
        })
        .collect()
}

/// Runs the sparse forward and backward, returning the gradients and the frozen selection.
fn sparse_step(
    p: &RowParams,
    spec: &Spec,
    x: &[f32],
    rows: usize,
    dead: &[u32],
) -> (RowParams, Frozen, f64) {
    let mut s = FamilyScratch::new(p.d, p.m, rows, spec);
    encode_select(p, spec, x, rows, &mut s, Threads::One);
    let stats = backward_rows(p, spec, x, rows, dead, &mut s, Threads::One);
    by_latent(&mut s, rows);
    let frozen = s.codes[..rows]
        .iter()
        .map(|c| (c.idx.clone(), c.aux_idx.clone()))
        .collect();
    (gradients(p, spec, &s, rows), frozen, stats.loss)
}

/// Every weight's gradient: dense f64 by central differences of the frozen-selection loss.
fn check_against_dense(p: &RowParams, spec: &Spec, x: &[f32], rows: usize, dead: &[u32]) {
    let (g, frozen, loss) = sparse_step(p, spec, x, rows, dead);
    assert!((loss - dense_loss(p, spec, x, &frozen, None)).abs() < 1e-6 * (1.0 + loss));
    let residual = residuals(p, x, &frozen);
    let h = 1e-3f32;
    let grads = [&g.w_enc_t, &g.b_enc, &g.w_dec, &g.b_dec];
    for (t, analytic) in grads.iter().enumerate() {
        for k in 0..analytic.len() {
            let at = |delta: f32| {
                let mut q = p.clone();
                let buf = match t {
                    0 => &mut q.w_enc_t,
                    1 => &mut q.b_enc,
                    2 => &mut q.w_dec,
                    _ => &mut q.b_dec,
                };
                buf[k] += delta;
                dense_loss(&q, spec, x, &frozen, Some(&residual))
            };
            let numeric = (at(h) - at(-h)) / (2.0 * h as f64);
            let a = analytic[k] as f64;
            assert!(
                (numeric - a).abs() < 1e-5 + 2e-3 * numeric.abs(),
                "tensor {t} index {k}: dense {numeric} sparse {a}"
            );
        }
    }
}

#[test]
fn topk_gradients_equal_the_dense_computation() {
    let (p, x) = sample(6, 20, 5, 3);
    let p = RowParams::from_params(&p, Vec::new());
    check_against_dense(&p, &spec(Select::TopK { k: 3 }, vec![20], 0), &x, 5, &[]);
}

#[test]
fn batchtopk_and_matryoshka_gradients_equal_the_dense_computation() {
    let (p, x) = sample(6, 20, 5, 4);
    let p = RowParams::from_params(&p, Vec::new());
    let select = Select::BatchTopK { k: 3 };
    check_against_dense(&p, &spec(select, vec![20], 0), &x, 5, &[]);
    check_against_dense(&p, &spec(select, vec![4, 10, 20], 0), &x, 5, &[]);
}

#[test]
fn auxk_gradients_equal_the_dense_computation() {
    let (p, x) = sample(6, 20, 5, 5);
    let p = RowParams::from_params(&p, Vec::new());
    let dead: Vec<u32> = (0..20).filter(|j| j % 3 == 0).collect();
    let s = spec(Select::TopK { k: 2 }, vec![20], 4);
    let (_, frozen, _) = sparse_step(&p, &s, &x, 5, &dead);
    assert!(frozen.iter().any(|(_, aux)| !aux.is_empty()));
    assert!(frozen
        .iter()
        .all(|(_, aux)| aux.len() <= 4 && aux.iter().all(|j| dead.contains(j))));
    check_against_dense(&p, &s, &x, 5, &dead);
}

#[test]
fn jumprelu_threshold_gradient_is_the_stated_surrogate() {
    let (d, m, rows) = (6, 20, 5);
    let (p, x) = sample(d, m, rows, 6);
    let bandwidth = 0.2f32;
    let l0_weight = 0.01;
    let theta: Vec<f32> = (0..m).map(|j| 0.05 + 0.01 * j as f32).collect();
    let p = RowParams::from_params(&p, theta);
    let s = spec(
        Select::Jump {
            bandwidth,
            l0_weight,
        },
        vec![m],
        0,
    );
    let (g, frozen, loss) = sparse_step(&p, &s, &x, rows, &[]);
    let active: usize = frozen.iter().map(|f| f.0.len()).sum();
    let mse = dense_loss(&p, &s, &x, &frozen, None);
    assert!((loss - (mse + l0_weight * active as f64 / rows as f64)).abs() < 1e-6);
    // ∂θ_j = Σ_r K((pre − θ)/ε) (−θ/ε · ⟨G_r, d_j⟩ − λ'/ε), G from the dense reconstruction.
    let mut want = vec![0.0f64; m];
    for (r, (main, _)) in frozen.iter().enumerate() {
        let xr = &x[r * d..(r + 1) * d];
        let pre: Vec<f64> = (0..m)
            .map(|j| {
                (0..d)
                    .map(|i| (xr[i] as f64 - p.b_dec[i] as f64) * p.w_enc_t[j * d + i] as f64)
                    .sum::<f64>()
                    + p.b_enc[j] as f64
            })
            .collect();
        let mut recon: Vec<f64> = p.b_dec.iter().map(|&b| b as f64).collect();
        for &j in main {
            add_scaled(&mut recon, pre[j as usize], p.decoder_row(j as usize));
        }
        for j in 0..m {
            let th = p.threshold[j] as f64;
            if (pre[j] - th).abs() < bandwidth as f64 / 2.0 {
                let dz: f64 = (0..d)
                    .map(|i| {
                        2.0 * (recon[i] - xr[i] as f64) / (rows * d) as f64
                            * p.w_dec[j * d + i] as f64
                    })
                    .sum();
                want[j] +=
                    -th / bandwidth as f64 * dz - l0_weight / (bandwidth as f64 * rows as f64);
            }
        }
    }
    assert!(
        want.iter().any(|&w| w != 0.0),
        "the window holds some latents"
    );
    for (a, w) in g.threshold.iter().zip(&want) {
        assert!((*a as f64 - w).abs() < 1e-5 * (1.0 + w.abs()), "{a} vs {w}");
    }
}

fn family_config(arch: Arch, m: usize, batch: usize) -> TrainConfig {
    TrainConfig {
        arch,
        dict: m,
        batch,
        k: arch.uses_k().then_some(4),
        lambda: 1e-3,
        unit_norm_decoder: arch.uses_k(),
        dead_after: 2,
        aux_k: 6,
        prefixes: if arch == Arch::Matryoshka {
            vec![8, 24]
        } else {
            Vec::new()
        },
        ..Default::default()
    }
}

#[test]
fn topk_codes_have_at_most_k_latents_and_exactly_k_where_possible() {
    let (mut p, x) = sample(16, 64, 30, 7);
    p.activation = Activation::TopK { k: 5 };
    let mut s = Scratch::new(16, 64, 30);
    encode(&p, &x, 30, &mut s, Threads::All);
    p.activation = Activation::Relu;
    let mut relu = Scratch::new(16, 64, 30);
    encode(&p, &x, 30, &mut relu, Threads::All);
    for (z, r) in s.z[..30 * 64].chunks(64).zip(relu.z.chunks(64)) {
        let l0 = z.iter().filter(|&&v| v > 0.0).count();
        let positive = r.iter().filter(|&&v| v > 0.0).count();
        assert_eq!(l0, positive.min(5));
        // The kept ones are the largest.
        let smallest_kept = z
            .iter()
            .filter(|&&v| v > 0.0)
            .fold(f32::MAX, |a, &b| a.min(b));
        assert!(r
            .iter()
            .zip(z)
            .all(|(&rv, &zv)| zv > 0.0 || rv <= smallest_kept));
    }
}

#[test]
fn family_trainers_on_candle_follow_the_cpu_kernels() {
    let (d, m, rows) = (16, 48, 12);
    for arch in [
        Arch::TopK,
        Arch::BatchTopK,
        Arch::Matryoshka,
        Arch::JumpRelu,
    ] {
        let config = TrainConfig {
            aux_k: 4,
            ..family_config(arch, m, rows)
        };
        let (p, x) = sample(d, m, rows, 8);
        let mean_norm = 1.5;
        let spec = spec_of(&config, d, mean_norm);
        let fresh = FamilyState::fresh(m, (arch == Arch::JumpRelu).then_some(0.02));
        let adam = Adam::new(d, m);
        let mut cpu =
            FamilyTrainer::new(config.clone(), &p, &adam, fresh.clone(), spec, Threads::One);
        let device = candle_core::Device::Cpu;
        let mut gpu_path =
            CandleTrainer::new(config, &p, &adam, Some(fresh), mean_norm, &device).unwrap();
        for step in 0..6 {
            let a = cpu.step(&x, rows, 1e-3);
            let b = gpu_path.step_read(&x, rows, 1e-3).unwrap();
            assert!(
                (a.loss - b.loss).abs() < 1e-5 * (1.0 + a.loss),
                "{arch:?} step {step}: {a:?} vs {b:?}"
            );
            assert_eq!(a.avg_l0, b.avg_l0, "{arch:?} step {step}");
            assert_eq!(a.dead_frac, b.dead_frac, "{arch:?} step {step}");
        }
        let (pa, aa, fa) = cpu.state();
        let sb = gpu_path.state().unwrap();
        assert_eq!(aa.t, sb.adam.t);
        assert_eq!(
            Some(&fa.since_fired),
            sb.family.as_ref().map(|f| &f.since_fired)
        );
        for (x, y) in pa.buffers().iter().zip(sb.params.buffers()) {
            for (u, v) in x.iter().zip(y.iter()) {
                assert!((u - v).abs() < 1e-4, "{arch:?}: {u} vs {v}");
            }
        }
        if let (Activation::JumpRelu { threshold: ta }, Activation::JumpRelu { threshold: tb }) =
            (&pa.activation, &sb.params.activation)
        {
            for (u, v) in ta.iter().zip(tb) {
                assert!((u - v).abs() < 1e-5, "{arch:?}: θ {u} vs {v}");
            }
        } else {
            assert_eq!(pa.activation, sb.params.activation, "{arch:?}");
        }
    }
}

#[test]
fn threads_do_not_change_a_family_step() {
    for arch in [Arch::TopK, Arch::Matryoshka, Arch::JumpRelu] {
        let config = family_config(arch, 96, 40);
        let (p, x) = sample(32, 96, 40, 9);
        let init = super::Init {
            b_dec: p.b_dec.clone(),
            mean_norm: 1.0,
        };
        let device = candle_core::Device::Cpu;
        let mut one = Trainer::new(config.clone(), 32, &init, &device, Threads::One).unwrap();
        let mut all = Trainer::new(config, 32, &init, &device, Threads::All).unwrap();
        for _ in 0..4 {
            assert_eq!(
                one.step_read(&x, 40, 1e-3).unwrap(),
                all.step_read(&x, 40, 1e-3).unwrap()
            );
        }
        assert_eq!(one.state().unwrap(), all.state().unwrap(), "{arch:?}");
    }
}

#[test]
fn auxk_revives_latents_that_never_fire() {
    // Isotropic rows that two latents a row cannot reconstruct, and half the dictionary with
    // encoder rows so short that their small positive pre-activations never make a row's top
    // k: without AuxK no gradient ever reaches them; with it, the residual pulls them in.
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};
    let (d, m, rows, k) = (8, 32, 128, 2);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let x: Vec<f32> = (0..rows * d)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect();
    let mut p = SaeParams::init(d, m, 11);
    for j in m / 2..m {
        for i in 0..d {
            p.w_enc[i * m + j] *= 0.01;
        }
        p.b_enc[j] = 0.01;
    }
    let alive = |aux_k: usize| {
        let config = TrainConfig {
            aux_k,
            k: Some(k),
            ..family_config(Arch::TopK, m, rows)
        };
        let spec = spec_of(&config, d, 1.0);
        let mut t = FamilyTrainer::new(
            config,
            &p,
            &Adam::new(d, m),
            FamilyState::fresh(m, None),
            spec,
            Threads::All,
        );
        for _ in 0..300 {
            t.step(&x, rows, 1e-2);
        }
        let (params, _, _) = t.state();
        assert_eq!(params.activation, Activation::TopK { k });
        let mut s = Scratch::new(d, m, rows);
        encode(&params, &x, rows, &mut s, Threads::All);
        (m / 2..m)
            .filter(|&j| s.z[..rows * m].chunks(m).any(|z| z[j] > 0.0))
            .count()
    };
    let (without, with) = (alive(0), alive(8));
    assert!(
        with >= without + m / 8,
        "AuxK revived {with} of {} latents, {without} fire without it",
        m / 2
    );
}

#[test]
fn family_settings_are_checked() {
    let ok = family_config(Arch::TopK, 64, 8);
    assert!(ok.validate().is_ok());
    let err = |c: TrainConfig| c.validate().unwrap_err().to_string();
    assert!(err(TrainConfig {
        k: Some(0),
        ..ok.clone()
    })
    .contains("--k"));
    assert!(err(TrainConfig {
        k: Some(65),
        ..ok.clone()
    })
    .contains("more than"));
    let m = family_config(Arch::Matryoshka, 64, 8);
    assert!(err(TrainConfig {
        prefixes: vec![16, 8],
        ..m.clone()
    })
    .contains("must increase"));
    assert!(err(TrainConfig {
        prefixes: vec![16, 128],
        ..m.clone()
    })
    .contains("128"));
    assert!(err(TrainConfig {
        k: Some(3),
        ..TrainConfig::default()
    })
    .contains("takes no k"));
    assert_eq!(m.prefix_sizes(), vec![8, 24, 64]);
    let default_prefixes = TrainConfig {
        prefixes: Vec::new(),
        dict: 4096,
        ..m
    };
    assert_eq!(
        default_prefixes.prefix_sizes(),
        vec![128, 512, 1024, 2048, 4096]
    );
}
