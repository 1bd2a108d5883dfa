//! Steering: move SAE features of an embedding and preview what changes.

pub mod examples;
pub mod input;
pub mod nearest;
pub mod ops;
pub mod preview;

pub use input::ImageRef;
pub use ops::{steer, Change, Edit, Method, Units};
pub use preview::{Preview, Steerer};

#[cfg(test)]
mod tests;
