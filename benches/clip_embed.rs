//! CLIP ViT-B/32 with random weights on the CPU: image embeddings per second at batch 1 and 16,
//! and 100 CIFAR-100 prompts through the tokenizer and the text tower. Compare with
//! `tools/bench/ref_clip_embed.py` (open_clip, PyTorch) run right after it with the same thread
//! count; this machine's speed drifts, so compare pairs (docs/benchmarks.md). Like it, this
//! reports the median batch (and here the fastest too):
//!
//!     RAYON_NUM_THREADS=2 cargo bench --bench clip_embed

use std::time::Instant;

use candle_core::{Device, Tensor};
use saelab::engine::clip::random::{build, vit_b32};
use saelab::engine::clip::ClipTokenizer;

/// Seconds of encoding per batch size, after two warm-up batches, as `ref_clip_embed.py`
/// times open_clip.
const SECONDS: f64 = 5.0;
const WARM_UP: usize = 2;

fn main() {
    let device = Device::Cpu;
    let (clip, _) = build(&vit_b32(), &device).expect("builds");
    let mut report = serde_json::Map::new();
    for batch in [1usize, 16] {
        let x = Tensor::randn(0f32, 1.0, (batch, 3, 224, 224), &device).expect("input");
        for _ in 0..WARM_UP {
            clip.embed_images(&x).expect("warm-up");
        }
        let (start, mut times) = (Instant::now(), Vec::new());
        while times.len() < 3 || start.elapsed().as_secs_f64() < SECONDS {
            let t = Instant::now();
            clip.embed_images(&x).expect("embeds");
            times.push(t.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        report.insert(
            format!("images_per_sec_batch_{batch}"),
            (batch as f64 / median).into(),
        );
        report.insert(
            format!("images_per_sec_batch_{batch}_best"),
            (batch as f64 / times[0]).into(),
        );
    }
    let prompts: Vec<String> = (0..100)
        .map(|i| format!("a photo of a class_{i}."))
        .collect();
    let tokenizer = ClipTokenizer::new();
    let start = Instant::now();
    let ids: Vec<Vec<u32>> = prompts.iter().map(|p| tokenizer.encode(p)).collect();
    report.insert(
        "tokenize_100_ms".into(),
        (start.elapsed().as_secs_f64() * 1e3).into(),
    );
    let start = Instant::now();
    clip.embed_texts(&ids).expect("embeds text");
    report.insert(
        "text_100_ms".into(),
        (start.elapsed().as_secs_f64() * 1e3).into(),
    );
    report.insert("threads".into(), rayon::current_num_threads().into());
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = saelab::engine::cpu::Avx2::detect() {
        report.insert(
            "kernel".into(),
            saelab::engine::cpu::gemm::kernel_name(simd).into(),
        );
    }
    println!("{}", serde_json::Value::Object(report));
}
