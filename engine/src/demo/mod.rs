//! The demo world: a procedural picture grammar, a seeded concept encoder standing in for CLIP,
//! and the embedding set made from them, with ground truth no real model gives.

pub mod concepts;
pub mod encoder;
pub mod render;

use std::path::PathBuf;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

pub use concepts::Scene;
pub use encoder::ConceptEncoder;

use super::error::Result;
use super::set::{now_unix, write_set, EmbeddingSet, Item, SetFiles, SetMeta};
use super::workspace::Workspace;

pub const SET_NAME: &str = "demo";
/// As many images as Flickr30k, the study's dataset.
pub const DEFAULT_IMAGES: usize = 31_783;
pub const DEFAULT_SEED: u64 = 0;
/// Width of the embeddings, as CLIP ViT-B/32's.
pub const DIM: usize = 512;
pub const MODEL_NAME: &str = "demo-concept-encoder";
pub const TASKS: [&str; 2] = ["demo10", "demo100"];

/// Each item draws from its own random stream, so any item is reproducible on its own.
fn item_rng(seed: u64, id: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(id as u64 + 1);
    rng
}

/// Held-out sets draw their scenes from streams this far along, which no training set reaches.
pub const HELD_OUT_OFFSET: usize = 1 << 40;
/// The `source` of a held-out demo set in `set.toml`.
pub const HELD_OUT_SOURCE: &str = "demo:held-out";

/// The scene of item `id` of the demo set made with `seed`.
pub fn scene_of(seed: u64, id: usize) -> Scene {
    Scene::sample(&mut item_rng(seed, id))
}

/// The demo set's embeddings and items. embeddings: [images, DIM]
pub fn generate(images: usize, seed: u64) -> (Vec<f32>, Vec<Item>) {
    generate_from(images, seed, 0)
}

/// Like [`generate`], with scenes from streams `first..first + images`.
fn generate_from(images: usize, seed: u64, first: usize) -> (Vec<f32>, Vec<Item>) {
    let encoder = ConceptEncoder::new(seed, DIM);
    let rows: Vec<(Vec<f32>, Item)> = (0..images)
        .into_par_iter()
        .map(|id| {
            let mut rng = item_rng(seed, first + id);
            let scene = Scene::sample(&mut rng);
            let x = encoder.embed_scene(&scene, &mut rng);
            let item = Item {
                id,
                source_index: Some(first + id),
                label: Some(scene.label()),
                caption: Some(scene.caption()),
                concepts: scene
                    .concepts()
                    .map(|(a, v)| (concepts::ATTRIBUTES[a].name.to_string(), v.to_string()))
                    .collect(),
                ..Default::default()
            };
            (x, item)
        })
        .collect();
    let mut embeddings = Vec::with_capacity(images * DIM);
    let mut items = Vec::with_capacity(images);
    for (x, item) in rows {
        embeddings.extend(x);
        items.push(item);
    }
    (embeddings, items)
}

/// (Re)creates the demo set in the workspace and returns its folder.
pub fn create(ws: &Workspace, images: usize, seed: u64) -> Result<PathBuf> {
    write_demo_set(ws, SET_NAME, "demo", images, seed, 0)
}

/// Makes a held-out set of the same world (same encoder) from scenes no training set has.
pub fn create_held_out(ws: &Workspace, name: &str, images: usize, seed: u64) -> Result<PathBuf> {
    write_demo_set(ws, name, HELD_OUT_SOURCE, images, seed, HELD_OUT_OFFSET)
}

fn write_demo_set(
    ws: &Workspace,
    name: &str,
    source: &str,
    images: usize,
    seed: u64,
    first: usize,
) -> Result<PathBuf> {
    let (embeddings, items) = generate_from(images, seed, first);
    let gt = ConceptEncoder::new(seed, DIM).ground_truth();
    let meta = SetMeta {
        name: name.into(),
        source: source.into(),
        model: MODEL_NAME.into(),
        dim: DIM,
        count: images,
        preprocessing: "none (procedural scenes)".into(),
        created: now_unix(),
        seed: Some(seed),
        tasks: TASKS.iter().map(|t| t.to_string()).collect(),
        ..Default::default()
    };
    write_set(
        &ws.sets_dir(),
        &SetFiles {
            meta,
            embeddings: &embeddings,
            items: &items,
            ground_truth: Some(&gt),
            report: None,
        },
    )
}

/// Whether a set is drawn from the demo world (and so can render its pictures).
pub fn is_demo(set: &EmbeddingSet) -> bool {
    set.meta.source == "demo" || set.meta.source == HELD_OUT_SOURCE
}

/// The scene of row `id` of a demo set.
pub fn scene_of_row(set: &EmbeddingSet, id: usize) -> Scene {
    let (seed, first) = scene_numbering(set);
    scene_of(seed, first + id)
}

/// The seed of a demo set's scenes and the scene number of its row 0.
pub fn scene_numbering(set: &EmbeddingSet) -> (u64, usize) {
    let first = if set.meta.source == HELD_OUT_SOURCE {
        HELD_OUT_OFFSET
    } else {
        0
    };
    (set.meta.seed.unwrap_or(DEFAULT_SEED), first)
}

/// Renders row `id` of a demo set (the tests' way to draw the picture a row stands for).
#[cfg(test)]
pub(crate) fn render_item(set: &EmbeddingSet, id: usize) -> image::RgbImage {
    render::render(&scene_of_row(set, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_items_match_scenes() {
        let (a, items) = generate(20, 5);
        let (b, _) = generate(20, 5);
        assert_eq!(a, b);
        assert_eq!(
            items[7].label.as_deref(),
            Some(scene_of(5, 7).label().as_str())
        );
        assert_eq!(a.len(), 20 * DIM);
    }
}
