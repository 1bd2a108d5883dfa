//! Training throughput at the study's shapes (512 → 4096, batch 256, Adam, λ 1e-3, L1 mean).
//! Compare with `shared/bench/ref_sae.py --threads 2` run in the same quiet window.
//!
//!     cargo bench --bench sae_train [-- STEPS]

use saelab::engine::bench::{synthetic, train_throughput, SyntheticSpec};
use saelab::engine::sae::TrainConfig;

fn main() {
    let steps: Option<u64> = std::env::args().skip(1).find_map(|a| a.parse().ok());
    let spec = SyntheticSpec::default();
    let (data, gt) = synthetic(spec);
    let report = train_throughput(
        &data,
        spec.dim,
        Some(&gt),
        TrainConfig::default(),
        steps.or(Some(200)),
    )
    .expect("benchmark runs");
    println!(
        "{}",
        serde_json::to_string_pretty(&report).expect("report serialises")
    );
}
