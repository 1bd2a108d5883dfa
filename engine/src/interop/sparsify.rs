//! EleutherAI sparsify's folder (the `eai-sparsify` package), as `SparseCoder.save_to_disk`
//! writes it:
//!
//! - `cfg.json`: `activation` ("topk"), `k`, `num_latents`, `expansion_factor`,
//!   `normalize_decoder`, `multi_topk`, `skip_connection`, `transcode`, and `d_in`;
//! - `sae.safetensors`: `encoder.weight` [m, d] (a torch Linear's, so W_enc transposed),
//!   `encoder.bias` [m], `W_dec` [m, d], `b_dec` [d].
//!
//! Its forward is the lab's TopK: pre = (x − b_dec) encoder.weightᵀ + encoder.bias, ReLU, the
//! top k kept; x̂ = z W_dec + b_dec.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{json, Value};

use super::floats::{self, take};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::sae::arch::Activation;
use crate::sae::rows::transpose;
use crate::sae::SaeParams;
use crate::tensorfile::{self, Named};

pub const CFG_FILE: &str = "cfg.json";
pub const WEIGHTS_FILE: &str = "sae.safetensors";

/// Writes the folder; only a TopK SAE has this layout's forward.
pub fn write(dir: &Path, p: &SaeParams, arch: &str) -> Result<()> {
    let Activation::TopK { k } = p.activation else {
        return Err(Error::invalid(
            "--format",
            format!("sparsify's layout holds TopK SAEs only, and this run is {arch}: use --format saelens"),
        ));
    };
    fsutil::create_dir(dir)?;
    let cfg = json!({
        "activation": "topk",
        "expansion_factor": (p.m / p.d).max(1),
        "normalize_decoder": true,
        "num_latents": p.m,
        "k": k,
        "multi_topk": false,
        "skip_connection": false,
        "transcode": false,
        "d_in": p.d,
    });
    let text = serde_json::to_string(&cfg).expect("JSON values serialise");
    fsutil::write_atomic(&dir.join(CFG_FILE), text.as_bytes())?;
    let encoder = transpose(&p.w_enc, p.d, p.m);
    let tensors = [
        Named::new("encoder.weight", vec![p.m, p.d], &encoder),
        Named::new("encoder.bias", vec![p.m], &p.b_enc),
        Named::new("W_dec", vec![p.m, p.d], &p.w_dec),
        Named::new("b_dec", vec![p.d], &p.b_dec),
    ];
    tensorfile::write(&dir.join(WEIGHTS_FILE), &tensors, HashMap::new())
}

/// Options this lab's forward does not have, each refused by name when set.
const REFUSED: [(&str, &str); 3] = [
    ("transcode", "a transcoder predicts another module's output"),
    (
        "skip_connection",
        "a skip connection adds W_skip x to the output",
    ),
    ("multi_topk", "Multi-TopK changes k at inference"),
];

/// Reads a sparsify folder as the lab's weights (a TopK SAE).
pub fn read(dir: &Path) -> Result<SaeParams> {
    let cfg_path = dir.join(CFG_FILE);
    let cfg: Value = fsutil::read_json(&cfg_path)?;
    for (key, why) in REFUSED {
        if cfg.get(key).and_then(Value::as_bool) == Some(true) {
            return Err(Error::bad_file(
                &cfg_path,
                format!("sets {key}, which the lab cannot honour ({why})"),
            ));
        }
    }
    match cfg.get("activation").and_then(Value::as_str) {
        None | Some("topk") => {}
        Some(other) => {
            return Err(Error::bad_file(
                &cfg_path,
                format!("uses the activation \"{other}\"; the lab reads sparsify's topk"),
            ))
        }
    }
    let number = |key: &str| cfg.get(key).and_then(Value::as_u64).unwrap_or(0) as usize;
    let d = number("d_in");
    if d == 0 {
        return Err(Error::bad_file(&cfg_path, "has no d_in"));
    }
    let m = match number("num_latents") {
        0 => d * number("expansion_factor"),
        m => m,
    };
    let k = number("k");
    if m == 0 || k == 0 || k > m {
        return Err(Error::bad_file(
            &cfg_path,
            format!("says {m} latents and k = {k}; k must be between 1 and the latents"),
        ));
    }
    let path = dir.join(WEIGHTS_FILE);
    let mut t = floats::read_all(&path)?;
    let encoder = take(&mut t, &path, "encoder.weight", &[m, d])?;
    let mut p = SaeParams::zeros(d, m);
    p.w_enc = transpose(&encoder, m, d);
    p.b_enc = take(&mut t, &path, "encoder.bias", &[m])?;
    p.w_dec = take(&mut t, &path, "W_dec", &[m, d])?;
    p.b_dec = take(&mut t, &path, "b_dec", &[d])?;
    p.activation = Activation::TopK { k };
    Ok(p)
}
