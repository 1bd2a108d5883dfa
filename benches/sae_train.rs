//! Training throughput at the study's shapes (512 → 4096, batch 256, Adam, λ 1e-3, L1 mean),
//! or of another family (k 32). Compare with `tools/bench/ref_sae.py --threads 2` run in the
//! same quiet window.
//!
//!     cargo bench --bench sae_train [-- STEPS] [ARCH]

use saelab::engine::bench::{synthetic, train_throughput, SyntheticSpec};
use saelab::engine::sae::{Arch, TrainConfig};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let steps: Option<u64> = args.iter().find_map(|a| a.parse().ok());
    let arch = args
        .iter()
        .find_map(|a| Arch::parse(a).ok())
        .unwrap_or_default();
    let config = TrainConfig {
        arch,
        unit_norm_decoder: arch.uses_k(),
        ..TrainConfig::default()
    };
    let spec = SyntheticSpec::default();
    let (data, gt) = synthetic(spec);
    let report = train_throughput(
        &data,
        spec.dim,
        Some(&gt),
        config,
        steps.or(Some(200)),
        &candle_core::Device::Cpu,
    )
    .expect("benchmark runs");
    println!(
        "{}",
        serde_json::to_string_pretty(&report).expect("report serialises")
    );
}
