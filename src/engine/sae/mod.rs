//! The study's sparse autoencoder: ReLU + L1, trained with Adam.

pub mod adam;
pub mod candle_trainer;
pub mod checkpoint;
pub mod config;
pub mod evaluate;
pub mod linalg;
pub mod model;
pub mod params;
pub mod step;
pub mod trainer;

#[cfg(test)]
mod tests;

pub use config::{BiasInit, L1Convention, TrainConfig};
pub use evaluate::{evaluate, EvalMetrics};
pub use model::Sae;
pub use params::SaeParams;
pub use trainer::Trainer;
