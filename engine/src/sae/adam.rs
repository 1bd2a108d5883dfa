//! Adam (Kingma & Ba), as PyTorch computes it, fused into one pass over each tensor.

use rayon::prelude::*;

use super::config::{ADAM_BETA1, ADAM_BETA2, ADAM_EPS};
use super::linalg::Threads;
use super::params::SaeParams;

/// Elements per parallel work item: big enough to amortise scheduling, small enough to balance.
const CHUNK: usize = 1 << 15;

/// Adam's state: first and second moments shaped like the weights, and the step count t.
#[derive(Debug, Clone, PartialEq)]
pub struct Adam {
    pub m: SaeParams,
    pub v: SaeParams,
    pub t: u64,
}

impl Adam {
    pub fn new(d: usize, m: usize) -> Self {
        Adam {
            m: SaeParams::zeros(d, m),
            v: SaeParams::zeros(d, m),
            t: 0,
        }
    }

    /// One update of every weight from its gradient, with learning rate `lr`.
    pub fn update(&mut self, params: &mut SaeParams, grads: &SaeParams, lr: f64, threads: Threads) {
        self.t += 1;
        let k = Coefficients::at(self.t, lr);
        let (ms, vs) = (self.m.buffers_mut(), self.v.buffers_mut());
        for (((p, g), m), v) in params
            .buffers_mut()
            .into_iter()
            .zip(grads.buffers())
            .zip(ms)
            .zip(vs)
        {
            update_tensor(p, g, m, v, k, threads);
        }
    }
}

/// Step t's bias-corrected step size and second-moment scale.
#[derive(Clone, Copy)]
pub struct Coefficients {
    step: f32,
    inv_bias2_sqrt: f32,
}

impl Coefficients {
    /// For step `t` (1-based) at learning rate `lr`.
    pub fn at(t: u64, lr: f64) -> Self {
        let (step, inv_bias2_sqrt) = bias_corrected(t, lr);
        Coefficients {
            step: step as f32,
            inv_bias2_sqrt: inv_bias2_sqrt as f32,
        }
    }
}

/// Step t's (1-based) bias-corrected step size lr / (1 − β₁ᵗ) and second-moment scale
/// 1 / √(1 − β₂ᵗ), as PyTorch computes them.
pub fn bias_corrected(t: u64, lr: f64) -> (f64, f64) {
    let t = t as i32;
    (
        lr / (1.0 - ADAM_BETA1.powi(t)),
        1.0 / (1.0 - ADAM_BETA2.powi(t)).sqrt(),
    )
}

fn update_tensor(
    p: &mut [f32],
    g: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    k: Coefficients,
    threads: Threads,
) {
    match threads {
        Threads::One => update_chunk(p, g, m, v, k),
        Threads::All => p
            .par_chunks_mut(CHUNK)
            .zip(g.par_chunks(CHUNK))
            .zip(m.par_chunks_mut(CHUNK))
            .zip(v.par_chunks_mut(CHUNK))
            .for_each(|(((p, g), m), v)| update_chunk(p, g, m, v, k)),
    }
}

/// Adam on one slice of weights `p` with gradients `g` and moments `m`, `v`.
pub fn update_chunk(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], k: Coefficients) {
    let (b1, b2, eps) = (ADAM_BETA1 as f32, ADAM_BETA2 as f32, ADAM_EPS as f32);
    for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        *m = b1 * *m + (1.0 - b1) * g;
        *v = b2 * *v + (1.0 - b2) * g * g;
        *p -= k.step * *m / (v.sqrt() * k.inv_bias2_sqrt + eps);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_step_moves_each_weight_by_lr_against_its_gradient_sign() {
        // With bias correction, Adam's first step is lr · g/(|g| + eps) ≈ lr · sign(g).
        let mut p = SaeParams::zeros(2, 3);
        let mut g = SaeParams::zeros(2, 3);
        g.w_enc = vec![1.0, -2.0, 0.5, 3.0, -0.1, 0.0];
        let mut adam = Adam::new(2, 3);
        adam.update(&mut p, &g, 1e-3, Threads::All);
        let want = [-1e-3, 1e-3, -1e-3, -1e-3, 1e-3, 0.0];
        for (x, w) in p.w_enc.iter().zip(want) {
            assert!((x - w).abs() < 1e-7, "{x} vs {w}");
        }
        assert_eq!(adam.t, 1);
    }

    #[test]
    fn threaded_and_serial_updates_agree_exactly() {
        let mut g = SaeParams::init(64, 1024, 1);
        g.b_enc
            .iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v = (i as f32).sin());
        let (mut p1, mut p2) = (SaeParams::init(64, 1024, 2), SaeParams::init(64, 1024, 2));
        let (mut a1, mut a2) = (Adam::new(64, 1024), Adam::new(64, 1024));
        for _ in 0..3 {
            a1.update(&mut p1, &g, 1e-3, Threads::All);
            a2.update(&mut p2, &g, 1e-3, Threads::One);
        }
        assert_eq!(p1, p2);
        assert_eq!(a1, a2);
    }
}
