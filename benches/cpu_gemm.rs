//! The CPU matrix product at CLIP ViT-B/32's shapes (tokens × in × out, 50 tokens an image),
//! GFLOP/s of saelab's packed AVX2 kernel beside candle's matmul on the same operands:
//!
//!     RAYON_NUM_THREADS=2 cargo bench --bench cpu_gemm

#[cfg(target_arch = "x86_64")]
use std::time::Instant;

#[cfg(target_arch = "x86_64")]
use candle_core::{Device, Tensor};
#[cfg(target_arch = "x86_64")]
use saelab::engine::cpu::gemm::{kernel_name, matmul, Into, Packed};
#[cfg(target_arch = "x86_64")]
use saelab::engine::cpu::Avx2;

#[cfg(target_arch = "x86_64")]
const SHAPES: [(usize, usize, usize); 8] = [
    (50, 768, 2304),
    (50, 768, 768),
    (50, 768, 3072),
    (50, 3072, 768),
    (800, 768, 2304),
    (800, 768, 768),
    (800, 768, 3072),
    (800, 3072, 768),
];
/// Seconds of products per shape and side.
#[cfg(target_arch = "x86_64")]
const SECONDS: f64 = 1.0;

#[cfg(target_arch = "x86_64")]
/// GFLOP/s of the fastest product: this machine's neighbours slow some runs down, never up.
fn rate(flops: f64, mut f: impl FnMut()) -> f64 {
    f();
    let (start, mut best) = (Instant::now(), f64::INFINITY);
    while start.elapsed().as_secs_f64() < SECONDS {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    flops / best / 1e9
}

/// The kernels are x86-64's; elsewhere there is nothing to time.
#[cfg(not(target_arch = "x86_64"))]
fn main() {
    println!("{{\"skipped\": \"the CPU kernels are x86-64 only\"}}");
}

#[cfg(target_arch = "x86_64")]
fn main() {
    let simd = Avx2::detect().expect("this bench needs AVX2 and FMA");
    let mut rows = Vec::new();
    for (m, k, n) in SHAPES {
        let a = Tensor::randn(0f32, 1.0, (m, k), &Device::Cpu).expect("a");
        let w = Tensor::randn(0f32, 1.0, (n, k), &Device::Cpu).expect("w");
        let flops = 2.0 * (m * k * n) as f64;
        let candle = rate(flops, || {
            a.matmul(&w.t().expect("t")).expect("matmul");
        });
        let (av, wv) = (
            a.flatten_all().and_then(|t| t.to_vec1::<f32>()).expect("a"),
            w.flatten_all().and_then(|t| t.to_vec1::<f32>()).expect("w"),
        );
        let packed = Packed::new(simd, &wv, n, k, None);
        let mut out = vec![0f32; m * n];
        let ours = rate(flops, || {
            matmul(simd, &av, m, &packed, &mut out, Into::Set(None))
        });
        rows.push(serde_json::json!({
            "shape": format!("{m}x{k}x{n}"), "saelab_gflops": ours, "candle_gflops": candle,
        }));
    }
    println!(
        "{}",
        serde_json::json!({
            "threads": rayon::current_num_threads(), "kernel": kernel_name(simd), "shapes": rows,
        })
    );
}
