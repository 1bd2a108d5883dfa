//! `saelab bench`: SAE training throughput at the study's shapes, as JSON.

use std::path::Path;

use super::tables::print_json;
use crate::engine::bench::{load_reference_data, synthetic, train_throughput, SyntheticSpec};
use crate::engine::sae::{L1Convention, TrainConfig};

pub fn run(
    steps: Option<u64>,
    from: Option<&Path>,
    lambda: f64,
    l1: L1Convention,
) -> anyhow::Result<()> {
    let (data, gt) = match from {
        Some(path) => load_reference_data(path)?,
        None => synthetic(SyntheticSpec::default()),
    };
    let d = gt.directions.len() / gt.names.len().max(1);
    let config = TrainConfig {
        lambda,
        l1,
        b_dec_init: crate::engine::sae::BiasInit::Zero,
        ..TrainConfig::default()
    };
    config.validate()?;
    let report = train_throughput(&data, d, Some(&gt), config, steps)?;
    print_json(&report)
}
