//! Where a fresh SAE starts: b_dec at the data's mean, its geometric median, or zero, and the
//! scale the JumpReLU threshold starts at.

use super::config::{BiasInit, TrainConfig};
use crate::set::DataStats;

/// Rows the geometric median is estimated from, spread evenly over the set.
pub const MEDIAN_SAMPLE: usize = 8192;
/// Weiszfeld's iterations; each moves the estimate toward the median, converging fast.
const MEDIAN_ITERATIONS: usize = 50;
/// Distances below this are not divided by (the estimate sits on a data point).
const MEDIAN_EPS: f64 = 1e-9;

/// What a fresh SAE needs from its training data.
#[derive(Debug, Clone)]
pub struct Init {
    /// b_dec's first value. [d]
    pub b_dec: Vec<f32>,
    /// Mean ‖x‖ over the rows: JumpReLU's ε and θ₀ scale with it.
    pub mean_norm: f64,
}

impl Init {
    /// The start the config asks for on row-major `data` of width d.
    pub fn of(config: &TrainConfig, data: &[f32], d: usize, stats: &DataStats) -> Self {
        let b_dec = match config.b_dec_init {
            BiasInit::Mean => stats.mean.iter().map(|&m| m as f32).collect(),
            BiasInit::Zero => vec![0.0; d],
            BiasInit::Median => geometric_median(data, d, &stats.mean),
        };
        Init {
            b_dec,
            mean_norm: stats.mean_norm,
        }
    }
}

/// The point minimising the sum of distances to a sample of the rows (Weiszfeld's
/// algorithm, started at the mean). [d]
pub fn geometric_median(data: &[f32], d: usize, mean: &[f64]) -> Vec<f32> {
    let n = data.len() / d.max(1);
    let stride = n.div_ceil(MEDIAN_SAMPLE).max(1);
    let rows: Vec<&[f32]> = data.chunks(d).step_by(stride).collect();
    let mut y = mean.to_vec();
    for _ in 0..MEDIAN_ITERATIONS {
        let mut num = vec![0.0f64; d];
        let mut den = 0.0f64;
        for row in &rows {
            let dist = row
                .iter()
                .zip(&y)
                .map(|(&v, c)| (v as f64 - c).powi(2))
                .sum::<f64>()
                .sqrt();
            if dist < MEDIAN_EPS {
                continue;
            }
            let w = 1.0 / dist;
            num.iter_mut()
                .zip(row.iter())
                .for_each(|(a, &v)| *a += w * v as f64);
            den += w;
        }
        if den == 0.0 {
            break;
        }
        y = num.iter().map(|a| a / den).collect();
    }
    y.iter().map(|&v| v as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometric_median_resists_an_outlier() {
        // Four points around (1, 1) and one far away: the mean moves, the median does not.
        let data = [0.0f32, 1.0, 2.0, 1.0, 1.0, 0.0, 1.0, 2.0, 100.0, 100.0];
        let stats = DataStats::of(&data, 2);
        let med = geometric_median(&data, 2, &stats.mean);
        assert!(
            (med[0] - 1.0).abs() < 0.5 && (med[1] - 1.0).abs() < 0.5,
            "{med:?}"
        );
        assert!(stats.mean[0] > 20.0);
    }
}
