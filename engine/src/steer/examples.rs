//! Steering examples kept under a run (`runs/NAME/steering/*.json`), for the report.

use serde::{Deserialize, Serialize};

use super::input::ImageRef;
use crate::error::Result;
use crate::fsutil;
use crate::run::RunDir;

pub const STEERING_DIR: &str = "steering";

/// One steering result, as `saelab steer --json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Example {
    pub image: ImageRef,
    pub latent: Vec<usize>,
    pub strength: f32,
    pub method: String,
    /// What the image shows (its caption where the set has one).
    pub image_caption: String,
    /// The latents' labels.
    pub latent_labels: Vec<String>,
    /// Top class before and after, with probabilities.
    pub class_before: Option<(String, f32)>,
    pub class_after: Option<(String, f32)>,
    /// Best vocabulary labels after.
    pub labels_after: Vec<String>,
    /// Demo world: the concepts that moved most, with their change.
    pub concepts: Vec<(String, f32)>,
}

/// Saves an example under the run; the same image, latents, strength and method overwrite.
pub fn save(run: &RunDir, e: &Example) -> Result<()> {
    let dir = run.path(STEERING_DIR);
    fsutil::create_dir(&dir)?;
    let latents: Vec<String> = e.latent.iter().map(|j| j.to_string()).collect();
    let name = format!(
        "{}-latent{}-{}{:+}.json",
        e.image.slug(),
        latents.join("_"),
        e.method,
        e.strength
    );
    fsutil::write_json(&dir.join(name), e)
}

/// The run's saved examples, sorted by file name.
pub fn list(run: &RunDir) -> Result<Vec<Example>> {
    let dir = run.path(STEERING_DIR);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths.iter().map(|p| fsutil::read_json(p)).collect()
}
