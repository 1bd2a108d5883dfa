//! What the TopK family and JumpReLU carry between steps besides weights and Adam's moments,
//! saved in the checkpoint so that a resumed run continues bit for bit.

/// The family's training state.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FamilyState {
    /// Steps since each latent last fired. [m]
    pub since_fired: Vec<u32>,
    /// BatchTopK's inference threshold: a running mean of each batch's cut-off (0 before the
    /// first step).
    pub batch_threshold: f32,
    /// JumpReLU's thresholds θ and their Adam moments. [m] each (empty for other families)
    pub threshold: Vec<f32>,
    pub threshold_m: Vec<f32>,
    pub threshold_v: Vec<f32>,
}

impl FamilyState {
    /// A fresh state for m latents; `threshold` is JumpReLU's θ₀ (None for other families).
    pub fn fresh(m: usize, threshold: Option<f32>) -> Self {
        let theta = threshold.map(|t| vec![t; m]).unwrap_or_default();
        FamilyState {
            since_fired: vec![0; m],
            batch_threshold: 0.0,
            threshold_m: vec![0.0; theta.len()],
            threshold_v: vec![0.0; theta.len()],
            threshold: theta,
        }
    }

    /// Counts one more step for every latent, restarts those that `fired`, and returns the
    /// latents dead for more than `dead_after` steps, in increasing order.
    pub fn count_steps(&mut self, fired: &[bool], dead_after: u64) -> Vec<u32> {
        let mut dead = Vec::new();
        for (j, (n, &f)) in self.since_fired.iter_mut().zip(fired).enumerate() {
            *n = if f { 0 } else { n.saturating_add(1) };
            if *n as u64 > dead_after {
                dead.push(j as u32);
            }
        }
        dead
    }

    /// Moves BatchTopK's threshold toward this batch's cut-off.
    pub fn follow_cut(&mut self, cut: f32, rate: f32) {
        self.batch_threshold = followed(self.batch_threshold, cut, rate);
    }
}

/// A running threshold moved toward `cut` at `rate` (started at the first cut it sees).
fn followed(threshold: f32, cut: f32, rate: f32) -> f32 {
    if threshold == 0.0 {
        cut
    } else {
        threshold + rate * (cut - threshold)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latents_die_after_the_given_steps_and_revive_when_they_fire() {
        let mut s = FamilyState::fresh(3, None);
        for _ in 0..2 {
            assert!(s.count_steps(&[true, false, false], 2).is_empty());
        }
        assert_eq!(s.count_steps(&[true, false, true], 2), vec![1]);
        assert_eq!(s.since_fired, vec![0, 3, 0]);
    }
}
