//! The favicon hash that search engines of exposed services index
//! (Shodan's `http.favicon.hash`): MurmurHash3 x86 32-bit, seed 0, as a
//! signed integer, over the base64 encoding of the icon with a line break
//! after every 76 characters and at the end (Python's `base64.encodebytes`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// MurmurHash3, x86 32-bit variant.
pub(crate) fn mmh3_32(data: &[u8], seed: u32) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let scramble = |k: u32| k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    let mut hash = seed;
    let blocks = data.chunks_exact(4);
    let tail = blocks.remainder();
    for block in blocks {
        let k = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        hash ^= scramble(k);
        hash = hash
            .rotate_left(13)
            .wrapping_mul(5)
            .wrapping_add(0xe654_6b64);
    }
    let mut k = 0u32;
    for (i, &byte) in tail.iter().enumerate() {
        k |= u32::from(byte) << (8 * i);
    }
    if !tail.is_empty() {
        hash ^= scramble(k);
    }
    // The length is mixed in modulo 2^32, as the reference implementation does.
    hash ^= data.len() as u32;
    hash ^= hash >> 16;
    hash = hash.wrapping_mul(0x85eb_ca6b);
    hash ^= hash >> 13;
    hash = hash.wrapping_mul(0xc2b2_ae35);
    hash ^ (hash >> 16)
}

/// The favicon hash of an icon's bytes.
pub(crate) fn favicon_hash(icon: &[u8]) -> i32 {
    let encoded = STANDARD.encode(icon);
    let mut wrapped = Vec::with_capacity(encoded.len() + encoded.len() / 76 + 1);
    for line in encoded.as_bytes().chunks(76) {
        wrapped.extend_from_slice(line);
        wrapped.push(b'\n');
    }
    // Reinterpreting the bits as signed is the published convention.
    mmh3_32(&wrapped, 0).cast_signed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur3_matches_the_reference_vectors() {
        assert_eq!(mmh3_32(b"", 0), 0);
        assert_eq!(mmh3_32(b"", 1), 0x514e_28b7);
        assert_eq!(mmh3_32(b"hello", 0), 0x248b_fa47);
        assert_eq!(
            mmh3_32(b"The quick brown fox jumps over the lazy dog", 0),
            0x2e4f_f723
        );
        assert_eq!(mmh3_32(b"abc", 0), 0xb3dd_93fa);
    }

    #[test]
    fn favicon_hash_wraps_base64_like_python() {
        // 100 bytes encode to 136 base64 characters: two lines, 76 + 60.
        let icon = [0u8; 100];
        let encoded = STANDARD.encode(icon);
        let python_style = format!("{}\n{}\n", &encoded[..76], &encoded[76..]);
        assert_eq!(
            favicon_hash(&icon),
            mmh3_32(python_style.as_bytes(), 0).cast_signed()
        );
        // Empty input: Python's encodebytes gives b"" and the hash is 0.
        assert_eq!(favicon_hash(b""), 0);
    }
}
