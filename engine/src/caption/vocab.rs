//! BLIP's BERT WordPiece vocabulary (`vocab.txt`, one token a line), for turning generated ids
//! into text as transformers' `decode(ids, skip_special_tokens=True)` does.

use std::path::Path;

use crate::error::{Error, Result};

/// transformers' `clean_up_tokenization`: spaces the tokenizer put before punctuation and
/// English contractions are removed.
const CLEAN_UPS: [(&str, &str); 10] = [
    (" .", "."),
    (" ?", "?"),
    (" !", "!"),
    (" ,", ","),
    (" ' ", "'"),
    (" n't", "n't"),
    (" 'm", "'m"),
    (" 's", "'s"),
    (" 've", "'ve"),
    (" 're", "'re"),
];
/// Continuation pieces start with this.
const CONTINUATION: &str = "##";

pub struct Vocab {
    tokens: Vec<String>,
}

fn is_special(token: &str) -> bool {
    token.starts_with('[') && token.ends_with(']')
}

impl Vocab {
    pub fn read(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).map_err(|e| Error::io("could not read", path, e))?;
        let tokens: Vec<String> = text.lines().map(str::to_string).collect();
        if tokens.is_empty() {
            return Err(Error::bad_file(
                path,
                "is empty: a WordPiece vocabulary has one token a line",
            ));
        }
        Ok(Vocab { tokens })
    }

    pub fn from_tokens(tokens: Vec<String>) -> Self {
        Vocab { tokens }
    }

    /// The text of `ids`; special tokens ([CLS], [SEP], [PAD], ...) and ids past the
    /// vocabulary (tokens added to it, such as BLIP's [DEC]) are dropped.
    pub fn decode(&self, ids: &[u32]) -> String {
        let words: Vec<&str> = ids
            .iter()
            .filter_map(|&i| self.tokens.get(i as usize))
            .map(String::as_str)
            .filter(|t| !is_special(t))
            .collect();
        let mut text = words.join(" ").replace(&format!(" {CONTINUATION}"), "");
        for (from, to) in CLEAN_UPS {
            text = text.replace(from, to);
        }
        text.trim().to_string()
    }
}
