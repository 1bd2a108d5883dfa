//! SAELens 6's folder, as `SAE.save_model` writes it and `SAE.load_from_disk` reads it:
//!
//! - `cfg.json`: `architecture` (standard, topk, jumprelu), `d_in`, `d_sae`, `dtype`, `device`,
//!   `apply_b_dec_to_input`, `normalize_activations`, `reshape_activations`, `k` and
//!   `rescale_acts_by_decoder_norm` for topk, and `metadata` (model, hook, dataset);
//! - `sae_weights.safetensors`: `W_enc` [d, m], `b_enc` [m], `W_dec` [m, d], `b_dec` [d], and
//!   `threshold` [m] for jumprelu;
//! - `sparsity.safetensors`: `sparsity` [m], log10 of each latent's firing frequency + 1e-10.
//!
//! SAELens computes pre = (x − b_dec·[apply_b_dec_to_input]) W_enc + b_enc, then ReLU, the top
//! k of pre (ReLU'd), or ReLU masked by pre > θ; the lab's forward is the same with
//! `apply_b_dec_to_input` true, so an SAE saved without it is folded into b_enc on import.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{json, Value};

use super::floats::{self, take};
use super::Origin;
use crate::error::{Error, Result};
use crate::fsutil;
use crate::sae::arch::Activation;
use crate::sae::checkpoint;
use crate::sae::SaeParams;
use crate::tensorfile::{self, Named};

pub const CFG_FILE: &str = "cfg.json";
pub const WEIGHTS_FILE: &str = "sae_weights.safetensors";
pub const SPARSITY_FILE: &str = "sparsity.safetensors";
/// What the lab's sets hold, as SAELens names a hook: CLIP's final, projected image embedding.
pub const HOOK_NAME: &str = "clip.image_embeds";
/// Added to the firing frequency before its log, as SAELens does.
const SPARSITY_EPS: f32 = 1e-10;

fn config(p: &SaeParams, origin: &Origin) -> Value {
    // The inference form's name: BatchTopK's and Matryoshka's is JumpReLU with their
    // threshold, as SAELens 6 itself saves them.
    let mut cfg = json!({
        "architecture": p.activation.name(),
        "d_in": p.d,
        "d_sae": p.m,
        "dtype": "float32",
        "device": "cpu",
        "apply_b_dec_to_input": true,
        "normalize_activations": "none",
        "reshape_activations": "none",
        "metadata": {
            "model_name": origin.model,
            "hook_name": HOOK_NAME,
            "dataset_path": origin.set,
            "saelab_run": origin.run,
            "saelab_arch": origin.arch,
        },
    });
    if let Activation::TopK { k } = p.activation {
        cfg["k"] = json!(k);
        cfg["rescale_acts_by_decoder_norm"] = json!(false);
    }
    cfg
}

/// Writes the folder; `frequency` is each latent's firing frequency on the set.
pub fn write(dir: &Path, p: &SaeParams, origin: &Origin, frequency: &[f32]) -> Result<()> {
    fsutil::create_dir(dir)?;
    let text = serde_json::to_string_pretty(&config(p, origin)).expect("JSON values serialise");
    fsutil::write_atomic(&dir.join(CFG_FILE), text.as_bytes())?;
    let mut tensors = checkpoint::named("", p);
    if let Activation::JumpRelu { threshold } = &p.activation {
        tensors.push(Named::new("threshold", vec![p.m], threshold));
    }
    tensorfile::write(&dir.join(WEIGHTS_FILE), &tensors, HashMap::new())?;
    let sparsity: Vec<f32> = frequency
        .iter()
        .map(|f| (f + SPARSITY_EPS).log10())
        .collect();
    tensorfile::write(
        &dir.join(SPARSITY_FILE),
        &[Named::new("sparsity", vec![p.m], &sparsity)],
        HashMap::new(),
    )
}

fn field<'a>(cfg: &'a Value, path: &Path, key: &str) -> Result<&'a Value> {
    cfg.get(key)
        .ok_or_else(|| Error::bad_file(path, format!("has no '{key}'")))
}

fn size(cfg: &Value, path: &Path, key: &str) -> Result<usize> {
    field(cfg, path, key)?
        .as_u64()
        .filter(|&v| v > 0)
        .map(|v| v as usize)
        .ok_or_else(|| Error::bad_file(path, format!("says {key} = {}, not a size", cfg[key])))
}

/// Options whose effect the lab's forward does not have are refused by name.
fn refuse_unsupported(cfg: &Value, path: &Path) -> Result<()> {
    for (key, fine) in [
        ("normalize_activations", "none"),
        ("reshape_activations", "none"),
    ] {
        match cfg.get(key).and_then(Value::as_str) {
            None => {}
            Some(v) if v == fine => {}
            Some(v) => {
                return Err(Error::bad_file(
                    path,
                    format!(
                        "sets {key} = \"{v}\", which the lab cannot apply (it needs \"{fine}\")"
                    ),
                ))
            }
        }
    }
    if cfg
        .get("rescale_acts_by_decoder_norm")
        .and_then(Value::as_bool)
        == Some(true)
    {
        return Err(Error::bad_file(
            path,
            "sets rescale_acts_by_decoder_norm, which the lab cannot apply",
        ));
    }
    Ok(())
}

/// Reads a SAELens folder as the lab's weights.
pub fn read(dir: &Path) -> Result<SaeParams> {
    let cfg_path = dir.join(CFG_FILE);
    let cfg: Value = fsutil::read_json(&cfg_path)?;
    refuse_unsupported(&cfg, &cfg_path)?;
    let (d, m) = (
        size(&cfg, &cfg_path, "d_in")?,
        size(&cfg, &cfg_path, "d_sae")?,
    );
    let arch = field(&cfg, &cfg_path, "architecture")?
        .as_str()
        .unwrap_or_default()
        .to_string();
    let path = dir.join(WEIGHTS_FILE);
    let mut t = floats::read_all(&path)?;
    let mut p = SaeParams::zeros(d, m);
    p.w_enc = take(&mut t, &path, "W_enc", &[d, m])?;
    p.b_enc = take(&mut t, &path, "b_enc", &[m])?;
    p.w_dec = take(&mut t, &path, "W_dec", &[m, d])?;
    p.b_dec = take(&mut t, &path, "b_dec", &[d])?;
    p.activation = match arch.as_str() {
        "standard" => Activation::Relu,
        "topk" => {
            let k = size(&cfg, &cfg_path, "k")?;
            if k > m {
                return Err(Error::bad_file(&cfg_path, format!("says k = {k} of {m} latents")));
            }
            Activation::TopK { k }
        }
        "jumprelu" => Activation::JumpRelu {
            threshold: match t.contains_key("threshold") {
                true => take(&mut t, &path, "threshold", &[m])?,
                false => take(&mut t, &path, "log_threshold", &[m])?
                    .into_iter()
                    .map(f32::exp)
                    .collect(),
            },
        },
        other => {
            return Err(Error::bad_file(
                &cfg_path,
                format!("has architecture \"{other}\"; the lab reads standard, topk and jumprelu (batchtopk and matryoshka as SAELens saves them, jumprelu)"),
            ))
        }
    };
    if cfg.get("apply_b_dec_to_input").and_then(Value::as_bool) == Some(false) {
        fold_b_dec_into_b_enc(&mut p);
    }
    Ok(p)
}

/// SAELens without `apply_b_dec_to_input` computes x W_enc + b_enc; the lab subtracts b_dec
/// first, which b_enc' = b_enc + b_dec W_enc undoes exactly.
fn fold_b_dec_into_b_enc(p: &mut SaeParams) {
    for (i, &b) in p.b_dec.iter().enumerate() {
        let row = &p.w_enc[i * p.m..(i + 1) * p.m];
        for (e, w) in p.b_enc.iter_mut().zip(row) {
            *e += b * w;
        }
    }
}
