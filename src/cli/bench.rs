//! `saelab bench`: SAE training throughput at the study's shapes, as JSON.

use std::path::Path;

use super::tables::print_json;
use super::Ctx;
use crate::engine::bench::{load_reference_data, synthetic, train_throughput, SyntheticSpec};
use crate::engine::sae::TrainConfig;

/// Trains `config` (b_dec from zero, as `ref_sae.py` starts) on the reference rows or our own.
pub fn run(
    ctx: &Ctx,
    steps: Option<u64>,
    from: Option<&Path>,
    config: TrainConfig,
) -> anyhow::Result<()> {
    config.validate()?;
    let (data, gt) = match from {
        Some(path) => load_reference_data(path)?,
        None => synthetic(SyntheticSpec::default()),
    };
    let d = gt.directions.len() / gt.names.len().max(1);
    let device = ctx.device.open()?;
    let report = train_throughput(&data, d, Some(&gt), config, steps, &device)?;
    print_json(&report)
}
