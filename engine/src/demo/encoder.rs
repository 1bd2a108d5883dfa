//! The demo world's stand-in for CLIP: a fixed, seeded map from concepts to unit directions in
//! R^d. An image's embedding is the L2-normalised sum of its concepts' directions with random
//! magnitudes, a shared offset and noise; a prompt's embedding sums the directions of the
//! concepts it names, so zero-shot classification works as with CLIP.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::concepts::{all_concepts, Scene, ATTRIBUTES};
use crate::set::GroundTruth;
use crate::unit::normalise;

/// How much each concept direction shares with its attribute's common direction, so concepts
/// of one attribute overlap (superposition) as related CLIP features do.
const ATTRIBUTE_SHARE: f32 = 0.3;
/// Weight of the offset every image embedding shares (CLIP embeddings have a large mean).
const IMAGE_OFFSET: f32 = 1.0;
/// Weight of the offset every text embedding shares (CLIP's modality gap).
const TEXT_OFFSET: f32 = 1.0;
/// Range of a concept's random magnitude in one image.
const MAGNITUDE: std::ops::Range<f32> = 0.6..1.4;
/// Per-element standard deviation of the image noise.
const IMAGE_NOISE: f32 = 0.015;
/// Size of a prompt's own seeded wobble, so different wordings embed slightly differently.
const PROMPT_NOISE: f32 = 0.05;

pub struct ConceptEncoder {
    dim: usize,
    /// Unit concept directions, in `all_concepts()` order. shape: [k, d]
    directions: Vec<f32>,
    image_offset: Vec<f32>,
    text_offset: Vec<f32>,
    seed: u64,
}

fn gaussian(rng: &mut ChaCha8Rng, dim: usize) -> Vec<f32> {
    let scale = 1.0 / (dim as f32).sqrt();
    (0..dim)
        .map(|_| StandardNormal.sample(rng))
        .map(|v: f32| v * scale)
        .collect()
}

fn add_scaled(acc: &mut [f32], v: &[f32], s: f32) {
    acc.iter_mut().zip(v).for_each(|(a, b)| *a += s * b);
}

impl ConceptEncoder {
    pub fn new(seed: u64, dim: usize) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let shared: Vec<Vec<f32>> = ATTRIBUTES.iter().map(|_| gaussian(&mut rng, dim)).collect();
        let mut directions = Vec::new();
        for (a, _) in all_concepts() {
            let mut u = gaussian(&mut rng, dim);
            add_scaled(&mut u, &shared[a], ATTRIBUTE_SHARE);
            normalise(&mut u);
            directions.extend(u);
        }
        let mut image_offset = gaussian(&mut rng, dim);
        let mut text_offset = gaussian(&mut rng, dim);
        normalise(&mut image_offset);
        normalise(&mut text_offset);
        ConceptEncoder {
            dim,
            directions,
            image_offset,
            text_offset,
            seed,
        }
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    fn direction(&self, concept: usize) -> &[f32] {
        &self.directions[concept * self.dim..(concept + 1) * self.dim]
    }

    fn concept_of(attr: usize, value: &str) -> usize {
        all_concepts()
            .iter()
            .position(|&(a, v)| a == attr && v == value)
            .expect("scene values come from the grammar")
    }

    /// A unit embedding of the scene; `rng` draws its magnitudes and noise.
    pub fn embed_scene(&self, scene: &Scene, rng: &mut impl Rng) -> Vec<f32> {
        let mut x: Vec<f32> = self.image_offset.iter().map(|v| v * IMAGE_OFFSET).collect();
        let visibility = scene.visibility();
        for (a, value) in scene.concepts() {
            let shown = if ATTRIBUTES[a].on_object {
                visibility
            } else {
                1.0
            };
            let magnitude = ATTRIBUTES[a].salience * shown * rng.random_range(MAGNITUDE);
            add_scaled(
                &mut x,
                self.direction(Self::concept_of(a, value)),
                magnitude,
            );
        }
        for v in x.iter_mut() {
            let e: f32 = StandardNormal.sample(rng);
            *v += IMAGE_NOISE * e;
        }
        normalise(&mut x);
        x
    }

    /// A unit embedding of a prompt such as "a photo of a red star.".
    pub fn embed_text(&self, prompt: &str) -> Vec<f32> {
        let words = format!(
            " {} ",
            prompt
                .to_lowercase()
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        );
        let mut x: Vec<f32> = self.text_offset.iter().map(|v| v * TEXT_OFFSET).collect();
        for (c, (a, value)) in all_concepts().into_iter().enumerate() {
            let named =
                words.contains(&format!(" {value} ")) || words.contains(&format!(" {value}s "));
            if named {
                add_scaled(&mut x, self.direction(c), ATTRIBUTES[a].salience);
            }
        }
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ stable_hash(prompt));
        add_scaled(&mut x, &gaussian(&mut rng, self.dim), PROMPT_NOISE);
        normalise(&mut x);
        x
    }

    pub fn ground_truth(&self) -> GroundTruth {
        GroundTruth {
            names: all_concepts().iter().map(|c| c.1.to_string()).collect(),
            directions: self.directions.clone(),
        }
    }
}

/// FNV-1a: a hash that stays the same across Rust releases, unlike `DefaultHasher`, for
/// seeds and cache keys.
pub fn stable_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dot(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn prompts_match_the_scenes_they_name() {
        let enc = ConceptEncoder::new(0, 512);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut correct = 0;
        for _ in 0..50 {
            let scene = Scene::sample(&mut rng);
            let x = enc.embed_scene(&scene, &mut rng);
            assert!((dot(&x, &x) - 1.0).abs() < 1e-5);
            let best = super::super::concepts::SHAPES
                .iter()
                .max_by(|a, b| {
                    let sa = dot(&x, &enc.embed_text(&format!("a photo of a {a}.")));
                    let sb = dot(&x, &enc.embed_text(&format!("a photo of a {b}.")));
                    sa.total_cmp(&sb)
                })
                .unwrap();
            correct += (*best == scene.shape()) as usize;
        }
        assert!(correct >= 45, "{correct}/50 shapes recognised");
    }

    #[test]
    fn encoder_is_deterministic_per_seed() {
        let (a, b) = (ConceptEncoder::new(1, 64), ConceptEncoder::new(1, 64));
        assert_eq!(a.ground_truth(), b.ground_truth());
        assert_eq!(a.embed_text("a red star"), b.embed_text("a red star"));
        assert_ne!(a.ground_truth(), ConceptEncoder::new(2, 64).ground_truth());
    }
}
