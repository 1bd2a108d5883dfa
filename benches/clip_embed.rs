//! CLIP ViT-B/32 with random weights on the CPU: image embeddings per second at batch 1 and 16,
//! and 100 CIFAR-100 prompts through the tokenizer and the text tower. Compare with
//! `tools/bench/ref_clip_embed.py` (open_clip, PyTorch, 2 threads: about 17.6 images/s at
//! batch 16 here); run both with the same thread count:
//!
//!     RAYON_NUM_THREADS=2 cargo bench --bench clip_embed

use std::time::Instant;

use candle_core::{Device, Tensor};
use saelab::engine::clip::random::{build, vit_b32};
use saelab::engine::clip::ClipTokenizer;

const ROUNDS: usize = 4;

fn main() {
    let device = Device::Cpu;
    let (clip, _) = build(&vit_b32(), &device).expect("builds");
    let mut report = serde_json::Map::new();
    for batch in [1usize, 16] {
        let x = Tensor::randn(0f32, 1.0, (batch, 3, 224, 224), &device).expect("input");
        clip.embed_images(&x).expect("warm-up");
        let start = Instant::now();
        for _ in 0..ROUNDS {
            clip.embed_images(&x).expect("embeds");
        }
        let per_sec = (ROUNDS * batch) as f64 / start.elapsed().as_secs_f64();
        report.insert(format!("images_per_sec_batch_{batch}"), per_sec.into());
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
    println!("{}", serde_json::Value::Object(report));
}
