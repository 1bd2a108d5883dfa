//! A checksum of bytes, to tell a file that was changed or damaged after it was written from
//! the one written: 64 bits, mixed a word at a time (not cryptographic).

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// The checksum of `parts` in order, in hex.
pub fn of(parts: &[&[u8]]) -> String {
    let mut h = OFFSET;
    for part in parts {
        let words = part.chunks_exact(8);
        let tail = words.remainder();
        for w in words {
            let word = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
            h = (h ^ word).wrapping_mul(PRIME);
            h ^= h >> 29;
        }
        for &b in tail {
            h = (h ^ b as u64).wrapping_mul(PRIME);
        }
        h = (h ^ part.len() as u64).wrapping_mul(PRIME);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_flipped_bit_changes_the_checksum() {
        let mut bytes: Vec<u8> = (0..1000u32).flat_map(|i| i.to_le_bytes()).collect();
        let before = super::of(&[&bytes]);
        bytes[777] ^= 0x04;
        assert_ne!(super::of(&[&bytes]), before);
        assert_ne!(super::of(&[b"ab", b"c"]), super::of(&[b"a", b"bc"]));
    }
}
