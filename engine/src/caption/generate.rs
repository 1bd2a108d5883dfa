//! Greedy decoding, as transformers' `generate` does with its defaults (one beam, no
//! sampling): start from [DEC], append the most likely token until [SEP] or `max_len` tokens.

use crate::error::Result;

/// transformers' default `max_length`: tokens in all, the first [DEC] included.
pub const MAX_LEN: usize = 20;

/// `step` receives the tokens not yet seen by the model (all of them at first, then the newest
/// one: the model keeps a cache) and returns the logits for the next token.
pub fn greedy(
    bos: u32,
    sep: u32,
    max_len: usize,
    mut step: impl FnMut(&[u32]) -> Result<Vec<f32>>,
) -> Result<Vec<u32>> {
    let mut ids = vec![bos];
    while ids.len() < max_len {
        let fresh = if ids.len() == 1 {
            &ids[..]
        } else {
            &ids[ids.len() - 1..]
        };
        let next = argmax(&step(fresh)?);
        ids.push(next);
        if next == sep {
            break;
        }
    }
    Ok(ids)
}

/// The first index of the largest value, as torch's argmax picks it.
fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, v) in logits.iter().enumerate() {
        if *v > logits[best] {
            best = i;
        }
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake model that always prefers token `(last + 1) % 6`.
    fn counting(seen: &mut Vec<u32>) -> impl FnMut(&[u32]) -> Result<Vec<f32>> + '_ {
        move |fresh| {
            seen.extend_from_slice(fresh);
            let mut logits = vec![0.0; 6];
            logits[((seen[seen.len() - 1] + 1) % 6) as usize] = 1.0;
            Ok(logits)
        }
    }

    #[test]
    fn decoding_stops_at_sep_and_feeds_only_new_tokens() {
        let mut seen = Vec::new();
        let ids = greedy(1, 4, 20, counting(&mut seen)).unwrap();
        assert_eq!(ids, [1, 2, 3, 4]);
        assert_eq!(seen, [1, 2, 3], "each token goes to the model once");
    }

    #[test]
    fn decoding_stops_at_the_length_limit() {
        let mut seen = Vec::new();
        let ids = greedy(0, 9, 5, counting(&mut seen)).unwrap();
        assert_eq!(ids, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn ties_go_to_the_first_token() {
        assert_eq!(argmax(&[0.5, 2.0, 2.0, -1.0]), 1);
    }
}
