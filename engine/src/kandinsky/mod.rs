//! Kandinsky 2.2 in candle: the prior that turns a prompt into a ViT-bigG/14 image embedding,
//! the decoder (an image-embedding-conditioned UNet, its DDPM sampler with classifier-free
//! guidance, and MoVQ) that turns the embedding into a picture, and the triptych that steers
//! one SAE latent between them. Weights are read in diffusers' layout, from a folder or the
//! hub (`kandinsky-community/kandinsky-2-2-prior`, `…-decoder`).

pub mod decoder;
pub mod layers;
pub mod movq;
pub mod prior;
pub mod prior_pipeline;
pub mod random;
pub mod record;
pub mod scheduler;
pub mod settings;
pub mod triptych;
pub mod unet;

/// The weights file of a diffusers model folder.
pub const WEIGHTS: &str = "diffusion_pytorch_model.safetensors";

pub use decoder::{DecodeOptions, KandinskyDecoder};
pub use prior_pipeline::{KandinskyPrior, PriorOptions};
pub use scheduler::{Noise, SeededNoise};

#[cfg(test)]
mod tests;
