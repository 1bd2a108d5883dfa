//! A made triptych on disk and the arithmetic around it: a set's unit row taken back to the
//! length Kandinsky's image embeddings have, how far each steered embedding moved, and the
//! folder it is written to (the three pictures, the side-by-side strip, `triptych.json`).

use std::path::Path;

use image::RgbImage;
use serde::Serialize;

use super::triptych::{side_by_side, Kandinsky, PANELS};
use crate::error::Result;
use crate::fsutil;
use crate::steer::ImageRef;

/// How a triptych was made, as `triptych.json` records it.
#[derive(Debug, Clone, Serialize)]
pub struct TriptychRecord {
    pub run: String,
    pub latent: Vec<usize>,
    pub strength: f32,
    pub method: &'static str,
    pub prompt: Option<String>,
    /// The set row or picture steered (none when it started from a prompt).
    pub image: Option<ImageRef>,
    pub seed: u64,
    pub steps: usize,
    pub prior_steps: usize,
    pub guidance: f64,
    pub width: usize,
    pub height: usize,
    pub decoder: String,
    pub prior: String,
}

/// The length a set's unit row is taken to before steering and decoding: the set's recorded
/// mean length, else that of the image encoder's embedding of a blank picture (`true` then).
pub fn start_length(k: &Kandinsky, mean_norm: Option<f32>) -> Result<(f32, bool)> {
    match mean_norm {
        Some(n) => Ok((n, false)),
        None => {
            let zero: Vec<f32> = k.prior.zero_embed()?.flatten_all()?.to_vec1()?;
            Ok((zero.iter().map(|v| v * v).sum::<f32>().sqrt(), true))
        }
    }
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

/// Writes the pictures (orig, plus, minus), `triptych.png` and `triptych.json` into `dir`;
/// returns the JSON, which adds each picture's file and each steered embedding's cosine to
/// the original.
pub fn write(
    dir: &Path,
    record: &TriptychRecord,
    pictures: &[RgbImage],
    embeddings: &[Vec<f32>; 3],
) -> Result<serde_json::Value> {
    fsutil::create_dir(dir)?;
    let mut files = serde_json::Map::new();
    for (panel, picture) in PANELS.iter().zip(pictures) {
        let path = dir.join(format!("{panel}.png"));
        fsutil::write_png(&path, picture)?;
        files.insert(panel.to_string(), serde_json::json!(path));
    }
    fsutil::write_png(&dir.join("triptych.png"), &side_by_side(pictures))?;
    let mut summary = serde_json::json!(record);
    summary["files"] = serde_json::Value::Object(files);
    summary["cosine_to_orig"] = serde_json::json!({
        "plus": cosine(&embeddings[0], &embeddings[1]),
        "minus": cosine(&embeddings[0], &embeddings[2]),
    });
    fsutil::write_json(&dir.join("triptych.json"), &summary)?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_names_its_files_and_how_far_each_side_moved() {
        let dir = tempfile::tempdir().unwrap();
        let record = TriptychRecord {
            run: "r".into(),
            latent: vec![3],
            strength: 2.0,
            method: "add",
            prompt: None,
            image: Some(ImageRef::Row(7)),
            seed: 0,
            steps: 4,
            prior_steps: 2,
            guidance: 4.0,
            width: 8,
            height: 8,
            decoder: "d".into(),
            prior: "p".into(),
        };
        let pictures = vec![RgbImage::new(8, 8); 3];
        let embeddings = [vec![1.0, 0.0], vec![1.0, 1.0], vec![0.0, 1.0]];
        let json = write(dir.path(), &record, &pictures, &embeddings).unwrap();
        assert_eq!(json["run"], "r");
        assert_eq!(json["image"], serde_json::json!(ImageRef::Row(7)));
        assert!((json["cosine_to_orig"]["plus"].as_f64().unwrap() - 0.5f64.sqrt()).abs() < 1e-6);
        assert!(json["cosine_to_orig"]["minus"].as_f64().unwrap().abs() < 1e-6);
        for panel in PANELS {
            assert!(dir.path().join(format!("{panel}.png")).is_file());
        }
        let saved: serde_json::Value =
            fsutil::read_json(&dir.path().join("triptych.json")).unwrap();
        assert_eq!(saved, json);
    }
}
