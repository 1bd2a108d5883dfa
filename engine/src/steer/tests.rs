use super::ops::{code, steer, unit_of, Change, Edit, Method, Units};
use crate::latents::LatentIndex;
use crate::sae::step::Scratch;
use crate::sae::SaeParams;
use crate::unit::normalise;

fn sae_and_x() -> (SaeParams, Vec<f32>) {
    let mut p = SaeParams::init(32, 96, 3);
    p.b_enc.iter_mut().for_each(|b| *b = 0.02);
    let mut x: Vec<f32> = (0..32).map(|i| ((i * 7 % 11) as f32 - 4.0) * 0.1).collect();
    normalise(&mut x);
    (p, x)
}

fn cos(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|v| v * v).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|v| v * v).sum::<f32>().sqrt();
    dot / (na * nb)
}

#[test]
fn an_edit_of_strength_zero_leaves_x_unchanged() {
    let (p, x) = sae_and_x();
    let mut s = Scratch::new(32, 96, 1);
    let units = vec![1.0; 96];
    let edits = [Edit {
        latent: 5,
        change: Change::Add(0.0),
    }];
    let (out, _) = steer(&p, &x, &edits, &units, Method::Edit, &mut s);
    for (a, b) in out.iter().zip(&x) {
        assert!((a - b).abs() < 1e-6);
    }
}

#[test]
fn an_edit_moves_only_its_latent_and_keeps_the_error() {
    let (p, x) = sae_and_x();
    let mut s = Scratch::new(32, 96, 1);
    let before = code(&p, &x, &mut s);
    let j = (0..96)
        .find(|&j| before[j] > 0.0)
        .expect("some latent fires");
    let units = vec![0.5; 96];
    let (_, after) = steer(
        &p,
        &x,
        &[Edit {
            latent: j,
            change: Change::Add(2.0),
        }],
        &units,
        Method::Edit,
        &mut s,
    );
    for (k, (a, b)) in after.iter().zip(&before).enumerate() {
        if k == j {
            assert!((a - (b + 1.0)).abs() < 1e-6);
        } else {
            assert_eq!(a, b, "latent {k} moved");
        }
    }
}

#[test]
fn ablation_zeroes_the_latent_and_subtracts_its_contribution() {
    let (p, x) = sae_and_x();
    let mut s = Scratch::new(32, 96, 1);
    let z = code(&p, &x, &mut s);
    let j = (0..96).max_by(|&a, &b| z[a].total_cmp(&z[b])).unwrap();
    let (out, after) = steer(
        &p,
        &x,
        &[Edit {
            latent: j,
            change: Change::Ablate,
        }],
        &[1.0; 96],
        Method::Edit,
        &mut s,
    );
    assert_eq!(after[j], 0.0);
    let mut want: Vec<f32> = x
        .iter()
        .zip(p.decoder_row(j))
        .map(|(v, w)| v - z[j] * w)
        .collect();
    normalise(&mut want);
    for (a, b) in out.iter().zip(&want) {
        assert!((a - b).abs() < 1e-5);
    }
}

#[test]
fn adding_a_direction_turns_x_toward_it_monotonically() {
    let (p, x) = sae_and_x();
    let mut s = Scratch::new(32, 96, 1);
    let j = 17;
    let mut last = f32::MIN;
    for step in -4..=8 {
        let strength = step as f32 * 0.25;
        let (out, _) = steer(
            &p,
            &x,
            &[Edit {
                latent: j,
                change: Change::Add(strength),
            }],
            &[1.0; 96],
            Method::Add,
            &mut s,
        );
        let c = cos(&out, p.decoder_row(j));
        assert!(
            c > last,
            "cosine fell at strength {strength}: {c} after {last}"
        );
        last = c;
    }
}

#[test]
fn strength_units_come_from_the_index() {
    let (p, _) = sae_and_x();
    let data: Vec<f32> = (0..32 * 400).map(|i| (i as f32 * 0.77).sin()).collect();
    let index = LatentIndex::build(&p, &crate::set::InMemory::new(&data, p.d), 4).unwrap();
    let alive = index
        .latents
        .iter()
        .find(|l| l.active > 50)
        .expect("a busy latent");
    let typical = unit_of(alive, Units::Typical);
    assert!(
        typical > 0.0 && typical <= alive.max,
        "{typical} vs max {}",
        alive.max
    );
    assert!(typical >= alive.mean_active() as f32 * 0.5);
    assert_eq!(unit_of(alive, Units::Max), alive.max);
}
