//! OpenCLIP in candle: the towers, the tokenizer and the preprocessing; `saelab embed`
//! (hub download, batching, resuming) comes next.

pub mod model;
pub mod preprocess;
pub mod tokenizer;

pub use tokenizer::{ClipTokenizer, CONTEXT_LENGTH};
