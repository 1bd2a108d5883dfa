//! OpenCLIP in candle: where the weights come from, the towers, the tokenizer, decoding and
//! preprocessing exactly as open_clip does them, and the text tower as a prompt encoder.

pub mod decode;
pub mod image;
pub mod model;
pub(crate) mod ops;
pub mod preprocess;
pub mod random;
pub mod text;
pub mod tokenizer;

pub use tokenizer::{ClipTokenizer, CONTEXT_LENGTH};
