//! OpenCLIP in candle: the config, the shared transformer layers, the vision and text towers, the
//! tokenizer, decoding and preprocessing exactly as open_clip does them, and the text tower as a
//! prompt encoder. Weights are read by `hub` (a hub repo or a local folder).

pub mod config;
pub mod decode;
pub mod image;
pub(crate) mod layers;
pub mod model;
pub(crate) mod ops;
#[cfg(target_arch = "x86_64")]
mod packed_layer;
pub mod preprocess;
pub mod random;
mod resample;
pub mod text;
mod text_tower;
pub mod tokenizer;
mod vision_tower;

pub use tokenizer::{ClipTokenizer, CONTEXT_LENGTH};
