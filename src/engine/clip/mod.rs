//! OpenCLIP in candle: so far the tokenizer; the towers, preprocessing and `saelab embed`
//! come next.

pub mod tokenizer;

pub use tokenizer::{ClipTokenizer, CONTEXT_LENGTH};
