//! OpenCLIP in candle: so far the tokenizer and the preprocessing; the towers and `saelab embed`
//! come next.

pub mod preprocess;
pub mod tokenizer;

pub use tokenizer::{ClipTokenizer, CONTEXT_LENGTH};
