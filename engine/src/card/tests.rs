//! The card's values checked by hand on small inputs.

use super::probing::{balanced_accuracy, best_threshold, logistic};
use super::recovered::loss_and_accuracy;
use super::*;
use crate::sae::arch::Activation;
use crate::sae::SaeParams;
use crate::zeroshot::Classifier;

/// d = 2, m = 2: W_enc = I, b = 0, W_dec = `dec`, ReLU.
fn sae(dec: [f32; 4]) -> SaeParams {
    SaeParams {
        d: 2,
        m: 2,
        w_enc: vec![1.0, 0.0, 0.0, 1.0],
        b_enc: vec![0.0; 2],
        w_dec: dec.to_vec(),
        b_dec: vec![0.0; 2],
        activation: Activation::Relu,
    }
}

#[test]
fn fidelity_by_hand() {
    // Decoder halves the first axis: x = (2, 0) → x̂ = (1, 0): cosine 1, ratio 0.5.
    // x = (0, 3) → z = (0, 3) → x̂ = (0, 3): cosine 1, ratio 1. x = (−1, −1): nothing fires,
    // x̂ = 0: cosine 0, ratio 0.
    let p = sae([0.5, 0.0, 0.0, 1.0]);
    let f = fidelity(&p, &[2.0, 0.0, 0.0, 3.0, -1.0, -1.0]);
    assert!((f.cosine - 2.0 / 3.0).abs() < 1e-9, "{f:?}");
    assert!((f.l2_ratio - 0.5).abs() < 1e-9, "{f:?}");
    // Each latent fires on 1 of 3 rows: alive, above 1% and above 10%.
    assert_eq!(
        (f.alive_frac, f.over_1pct_frac, f.over_10pct_frac),
        (1.0, 1.0, 1.0)
    );
    // Decoder rows (0.5, 0) and (0, 1) are orthogonal.
    assert_eq!((f.decoder_cos_mean, f.decoder_cos_max), (0.0, 0.0));
    // Decoder rows (1, 0) and (1, 1): cos 45°, in both orders.
    let f = fidelity(&sae([1.0, 0.0, 1.0, 1.0]), &[1.0, 1.0]);
    let c = std::f64::consts::FRAC_1_SQRT_2;
    assert!((f.decoder_cos_mean - c).abs() < 1e-6 && (f.decoder_cos_max - c).abs() < 1e-6);
}

#[test]
fn cross_entropy_and_accuracy_by_hand() {
    // Two classes along the axes; a row on class 0's axis has logits (100, 0).
    let clf = Classifier {
        classes: vec!["a".into(), "b".into()],
        dim: 2,
        weights: vec![1.0, 0.0, 0.0, 1.0],
    };
    let (loss, acc) = loss_and_accuracy(&clf, &[1.0, 0.0, 1.0, 0.0], &[0, 1]);
    let wrong = 100.0 + (1.0 + (-100.0f64).exp()).ln();
    let right = (1.0 + (-100.0f64).exp()).ln();
    assert!((loss - (wrong + right) / 2.0).abs() < 1e-9, "{loss}");
    assert_eq!(acc, 0.5);
    // Halfway between the classes: logits equal, loss ln 2.
    let h = std::f32::consts::FRAC_1_SQRT_2;
    let (loss, _) = loss_and_accuracy(&clf, &[h, h], &[1]);
    assert!((loss - 2f64.ln()).abs() < 1e-4, "{loss}");
}

#[test]
fn balanced_accuracy_threshold_and_probe_by_hand() {
    let truth = [true, true, false, false, false, false];
    // Predicting all positive: TPR 1, TNR 0.
    assert_eq!(balanced_accuracy(&[true; 6], &truth), 0.5);
    assert_eq!(
        balanced_accuracy(&[true, false, false, false, false, true], &truth),
        0.625
    );
    // Positives at 5 and 4, negatives at 3, 1, 0, 0: any t in [3, 4) separates; the sweep
    // stops at the next value down.
    let t = best_threshold(&[5.0, 4.0, 3.0, 1.0, 0.0, 0.0], &truth);
    assert_eq!(t, 3.0);
    // One feature that separates, one of noise: the probe learns the first.
    let train = [3.0, 0.1, 2.5, -0.2, -2.0, 0.3, -3.0, 0.0];
    let predicted = logistic(
        &train,
        &[true, true, false, false],
        &[2.0, 0.3, -2.0, 0.1],
        2,
    );
    assert_eq!(predicted, vec![true, false]);
}

/// A class that is the AND of two latents ("red" on half the rows, "star" on a third): "red"
/// alone catches every positive but calls 2/5 of the negatives positive (balanced accuracy
/// 0.8); the probe on both separates the class.
#[test]
fn the_probe_learns_a_conjunction() {
    let mut train = Vec::new();
    let mut truth = Vec::new();
    for i in 0..200 {
        let (red, star) = (i % 2 == 0, i % 3 == 0);
        train.extend([red as u8 as f64 * 2.0, star as u8 as f64 * 3.0]);
        truth.push(red && star);
    }
    let single: Vec<f32> = train.chunks(2).map(|r| r[0] as f32).collect();
    let t = best_threshold(&single, &truth);
    let one: Vec<bool> = single.iter().map(|&v| v > t).collect();
    let alone = balanced_accuracy(&one, &truth);
    assert!((alone - 0.8).abs() < 0.01, "{alone}");
    let both = logistic(&train, &truth, &train, 2);
    assert_eq!(balanced_accuracy(&both, &truth), 1.0);
}
