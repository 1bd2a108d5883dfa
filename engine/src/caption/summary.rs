//! A latent's captions summarised as the study did: the words most of them share, in the
//! sentence "This feature activates on images containing: ...".
//!
//! Words are counted once per caption; stop words and BLIP's habitual artefacts ("arafed",
//! "araffe", ...) are left out; ties keep the order in which words first appear.

use serde::{Deserialize, Serialize};

/// Words kept per label.
pub const KEY_WORDS: usize = 5;
/// The study's sentence.
pub const PREFIX: &str = "This feature activates on images containing: ";

const STOP_WORDS: &[&str] = &[
    "a", "an", "the", "of", "on", "in", "with", "and", "is", "are", "at", "to", "it", "its",
    "there", "this", "that", "some", "for", "from", "by", "as", "his", "her", "their", "has",
    "have", "into", "near", "next", "other", "each", "while", "be", "photo", "picture", "image",
    "arafed", "araffe", "arafe", "araffes", "arafly", "araf",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub top_words: Vec<String>,
    /// The share of captions that hold the first key word.
    pub agreement: f32,
    pub description: String,
}

/// The content words of a caption, each once, in order.
fn words(caption: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in caption
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 1 && !STOP_WORDS.contains(w))
    {
        if !out.iter().any(|o| o == w) {
            out.push(w.to_string());
        }
    }
    out
}

/// Key words of `captions` and the study's sentence.
pub fn summarise(captions: &[String]) -> Summary {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for c in captions {
        for w in words(c) {
            match counts.iter_mut().find(|(x, _)| *x == w) {
                Some((_, n)) => *n += 1,
                None => counts.push((w, 1)),
            }
        }
    }
    // A stable sort keeps first appearance among equal counts.
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    counts.truncate(KEY_WORDS);
    let agreement = counts
        .first()
        .map_or(0.0, |(_, n)| *n as f32 / captions.len().max(1) as f32);
    let top_words: Vec<String> = counts.into_iter().map(|(w, _)| w).collect();
    let description = if top_words.is_empty() {
        "No captions.".to_string()
    } else {
        format!("{PREFIX}{}.", top_words.join(", "))
    };
    Summary {
        top_words,
        agreement,
        description,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_words_lead_and_stop_words_and_artefacts_go() {
        let captions: Vec<String> = [
            "arafed man riding a red bike down the street",
            "a man riding a bike on a street, a man",
            "a woman walking down the street",
            "there is a red bike",
        ]
        .map(String::from)
        .to_vec();
        let s = summarise(&captions);
        assert_eq!(s.top_words, ["bike", "street", "man", "riding", "red"]);
        assert_eq!(s.agreement, 0.75);
        assert_eq!(
            s.description,
            "This feature activates on images containing: bike, street, man, riding, red."
        );
        assert_eq!(summarise(&[]).top_words, Vec::<String>::new());
    }
}
