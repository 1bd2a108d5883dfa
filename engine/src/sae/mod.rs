//! Sparse autoencoders: the study's ReLU + L1 and the TopK family and JumpReLU (`arch.rs`),
//! trained with Adam.

pub mod adam;
pub mod arch;
pub mod candle_family;
pub mod candle_trainer;
pub mod checkpoint;
pub mod config;
pub mod evaluate;
pub mod family_state;
pub mod family_step;
pub mod family_trainer;
pub mod gt_match;
pub mod init;
pub mod linalg;
pub mod loss;
pub mod model;
pub mod params;
pub mod products;
pub mod rows;
pub mod snapshot;
pub mod step;
pub mod trainer;

#[cfg(test)]
mod candle_tests;
#[cfg(test)]
mod family_tests;
#[cfg(test)]
mod tests;

pub use arch::{Activation, Arch};
pub use config::{BiasInit, L1Convention, Precision, TrainConfig};
pub use evaluate::{evaluate, EvalMetrics, Truth};
pub use init::Init;
pub use model::Sae;
pub use params::SaeParams;
pub use trainer::{Snapshot, Trainer};
