//! exp, erf and the two GELUs on eight lanes at once, accurate to a few f32 ulps: the
//! activations are applied inside the product's tile write and the softmax, not in a pass of
//! their own.

use std::arch::x86_64::*;

use crate::clip::config::Activation;

/// Cody–Waite split of ln 2, so n·ln 2 is subtracted without losing r's low bits.
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// exp's argument is clamped here, so 2ⁿ stays a normal float.
const EXP_MIN: f32 = -87.3;
const EXP_MAX: f32 = 88.3;
/// Abramowitz & Stegun 7.1.26: erf(x) = 1 − t·P(t)·e^(−x²), t = 1/(1 + p·x), |error| ≤ 1.5e-7.
const ERF_P: f32 = 0.327_591_1;
const ERF_A: [f32; 5] = [
    0.254_829_6,
    -0.284_496_74,
    1.421_413_8,
    -1.453_152_1,
    1.061_405_4,
];
const QUICK_GELU_SCALE: f32 = 1.702;

/// eˣ: 2ⁿ·eʳ with n = round(x/ln 2), |r| ≤ ln 2 / 2, eʳ by its Taylor series to r⁶.
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(super) fn exp(x: __m256) -> __m256 {
    let x = _mm256_min_ps(
        _mm256_max_ps(x, _mm256_set1_ps(EXP_MIN)),
        _mm256_set1_ps(EXP_MAX),
    );
    let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_mul_ps(
        x,
        _mm256_set1_ps(std::f32::consts::LOG2_E),
    ));
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), x);
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
    let mut p = _mm256_set1_ps(1.0 / 720.0);
    for c in [1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
    }
    let bits = _mm256_slli_epi32::<23>(_mm256_add_epi32(
        _mm256_cvtps_epi32(n),
        _mm256_set1_epi32(127),
    ));
    _mm256_mul_ps(p, _mm256_castsi256_ps(bits))
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn erf(x: __m256) -> __m256 {
    let sign = _mm256_and_ps(x, _mm256_set1_ps(-0.0));
    let ax = _mm256_andnot_ps(_mm256_set1_ps(-0.0), x);
    let one = _mm256_set1_ps(1.0);
    let t = _mm256_div_ps(one, _mm256_fmadd_ps(_mm256_set1_ps(ERF_P), ax, one));
    let mut p = _mm256_set1_ps(ERF_A[4]);
    for &a in ERF_A[..4].iter().rev() {
        p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(a));
    }
    let e = exp(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(ax, ax)));
    let y = _mm256_fnmadd_ps(_mm256_mul_ps(p, t), e, one);
    _mm256_or_ps(y, sign)
}

/// The activation of eight values.
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(super) fn activate(act: Activation, x: __m256) -> __m256 {
    let half = _mm256_set1_ps(0.5);
    match act {
        Activation::Gelu => {
            let e = erf(_mm256_mul_ps(
                x,
                _mm256_set1_ps(std::f32::consts::FRAC_1_SQRT_2),
            ));
            _mm256_mul_ps(
                _mm256_mul_ps(half, x),
                _mm256_add_ps(_mm256_set1_ps(1.0), e),
            )
        }
        Activation::QuickGelu => {
            let e = exp(_mm256_mul_ps(x, _mm256_set1_ps(-QUICK_GELU_SCALE)));
            _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0), e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::Avx2;

    fn lanes(f: impl Fn(__m256) -> __m256, x: f32) -> f32 {
        let mut out = [0f32; 8];
        // SAFETY: only called after Avx2::detect succeeded; `out` holds eight floats.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), f(_mm256_set1_ps(x))) };
        out[0]
    }

    #[test]
    fn exp_and_activations_match_the_scalar_functions() {
        if Avx2::detect().is_none() {
            return;
        }
        for i in -4000..=4000 {
            let x = i as f32 / 400.0;
            // SAFETY: the features were detected above.
            let e = lanes(|v| unsafe { exp(v) }, x);
            let want = x.exp();
            assert!(
                (e - want).abs() <= 2e-7 * want.max(1.0),
                "exp({x}) = {e}, want {want}"
            );
            let g = lanes(|v| unsafe { activate(Activation::Gelu, v) }, x);
            let want =
                0.5 * x * (1.0 + candle_core::cpu::erf::erf_f64(f64::from(x) / 2f64.sqrt()) as f32);
            assert!(
                (g - want).abs() < 4e-7 * x.abs().max(1.0),
                "gelu({x}) = {g}, want {want}"
            );
            let q = lanes(|v| unsafe { activate(Activation::QuickGelu, v) }, x);
            let want = x / (1.0 + (-1.702 * x).exp());
            assert!(
                (q - want).abs() < 4e-7 * x.abs().max(1.0),
                "quick_gelu({x}) = {q}, want {want}"
            );
        }
        for x in [-200.0f32, -90.0, 90.0, 200.0] {
            let g = lanes(|v| unsafe { activate(Activation::Gelu, v) }, x);
            assert_eq!(g, x.max(0.0), "gelu({x})");
            let q = lanes(|v| unsafe { activate(Activation::QuickGelu, v) }, x);
            assert!((q - x.max(0.0)).abs() < 1e-6, "quick_gelu({x}) = {q}");
        }
    }
}
