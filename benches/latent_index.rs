//! Latent index build at the study's size: 31,783 rows x 4096 latents, top 16 per latent.
//!
//!     cargo bench --bench latent_index

use std::time::Instant;

use saelab::engine::demo;
use saelab::engine::latents::LatentIndex;
use saelab::engine::sae::SaeParams;
use saelab::engine::set::InMemory;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (data, _) = demo::generate(demo::DEFAULT_IMAGES, demo::DEFAULT_SEED);
    let mut params = SaeParams::init(demo::DIM, 4096, 0);
    // A fresh SAE fires about half its latents per row, far denser than a trained one (5-15%):
    // this is the slow case for the per-activation bookkeeping.
    let mean: Vec<f32> = (0..demo::DIM)
        .map(|i| data.chunks(demo::DIM).map(|r| r[i]).sum::<f32>() / demo::DEFAULT_IMAGES as f32)
        .collect();
    params.b_dec.copy_from_slice(&mean);
    for _ in 0..2 {
        let start = Instant::now();
        let index = LatentIndex::build(&params, &InMemory::new(&data, demo::DIM), 16)?;
        let seconds = start.elapsed().as_secs_f64();
        let active: u64 = index.latents.iter().map(|l| l.active).sum();
        println!(
            "{{\"rows\": {}, \"latents\": 4096, \"k\": 16, \"seconds\": {seconds:.3}, \"density\": {:.3}}}",
            index.rows,
            active as f64 / (index.rows as f64 * 4096.0)
        );
    }
    Ok(())
}
