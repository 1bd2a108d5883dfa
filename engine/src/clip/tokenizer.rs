//! The CLIP tokenizer as open_clip applies it: its text clean-up (the parts of ftfy that
//! matter for prompts, HTML entities unescaped twice, whitespace collapsed), lower-casing, the
//! OpenAI BPE (carried by `instant-clip-tokenizer`), start and end tokens, and truncation to
//! the context length with the end token kept last.

use instant_clip_tokenizer::{Token, Tokenizer};
use unicode_normalization::UnicodeNormalization;

/// CLIP's context length.
pub const CONTEXT_LENGTH: usize = 77;

pub struct ClipTokenizer {
    bpe: Tokenizer,
    context: usize,
}

impl Default for ClipTokenizer {
    fn default() -> Self {
        Self::new()
    }
}

/// ftfy's fixes that change ordinary prompts: curly quotes straightened, full-width forms
/// and the ideographic space made ASCII, Latin ligatures spelled out, control characters
/// dropped; then NFC, as ftfy normalises.
fn fix_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\u{02bc}' | '\u{2018}'..='\u{201b}' => out.push('\''),
            '\u{201c}'..='\u{201f}' => out.push('"'),
            '\u{ff01}'..='\u{ff5e}' => {
                out.push(char::from_u32(c as u32 - 0xff01 + 0x21).unwrap_or(c))
            }
            '\u{3000}' => out.push(' '),
            '\u{fb00}' => out.push_str("ff"),
            '\u{fb01}' => out.push_str("fi"),
            '\u{fb02}' => out.push_str("fl"),
            '\u{fb03}' => out.push_str("ffi"),
            '\u{fb04}' => out.push_str("ffl"),
            '\u{fb05}' | '\u{fb06}' => out.push_str("st"),
            c if c.is_control() && !c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out.nfc().collect()
}

/// open_clip's `whitespace_clean(basic_clean(text)).lower()`.
pub fn clean(text: &str) -> String {
    let fixed = fix_text(text);
    let once = html_escape::decode_html_entities(&fixed).into_owned();
    let twice = html_escape::decode_html_entities(&once).into_owned();
    twice
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

impl ClipTokenizer {
    /// The tokenizer with OpenAI's vocabulary, bundled (no download).
    pub fn new() -> Self {
        ClipTokenizer {
            bpe: Tokenizer::new(),
            context: CONTEXT_LENGTH,
        }
    }

    /// The same tokenizer for a model with a shorter (or longer) text context.
    pub fn with_context(mut self, context: usize) -> Self {
        self.context = context.max(2);
        self
    }

    /// Token ids of one prompt: start, BPE of the cleaned text, end; at most the context
    /// length, the end token kept last when truncated. Not padded.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut tokens: Vec<Token> = vec![self.bpe.start_of_text()];
        self.bpe.encode(&clean(text), &mut tokens);
        tokens.push(self.bpe.end_of_text());
        let mut ids: Vec<u32> = tokens.into_iter().map(|t| t.to_u16() as u32).collect();
        if ids.len() > self.context {
            ids.truncate(self.context);
            ids[self.context - 1] = self.bpe.end_of_text().to_u16() as u32;
        }
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Case {
        prompt: String,
        ids: Vec<u32>,
    }

    #[derive(serde::Deserialize)]
    struct Fixture {
        context_length: usize,
        cases: Vec<Case>,
    }

    #[test]
    fn token_ids_equal_open_clips() {
        // Written by tools/make_token_fixtures.py with open_clip's own tokenizer.
        let fixture: Fixture =
            serde_json::from_str(include_str!("../../../fixtures/clip_tokens.json")).unwrap();
        assert_eq!(fixture.context_length, CONTEXT_LENGTH);
        let tok = ClipTokenizer::new();
        for case in &fixture.cases {
            assert_eq!(
                tok.encode(&case.prompt),
                case.ids,
                "prompt {:?} (cleaned {:?})",
                case.prompt,
                clean(&case.prompt)
            );
        }
    }
}
