//! Randomness and hashing, from `ring` (already linked for TLS): worker tokens, gateway keys,
//! and short content hashes in child names.

use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom as _, SystemRandom};

/// The system random number generator failed.
#[derive(Debug, thiserror::Error)]
#[error("the system random number generator failed")]
pub struct RandomError;

/// `N` bytes from the system's secure random number generator.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| RandomError)?;
    Ok(bytes)
}

/// Lowercase hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The first 8 hex digits of the SHA-256 of `data`: a stable content hash for names and
/// annotations.
pub fn short_hash(data: &[u8]) -> String {
    hex(&digest(&SHA256, data).as_ref()[..4])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_hash_are_stable() {
        assert_eq!(hex(&[0, 15, 255]), "000fff");
        // SHA-256("abc") = ba7816bf…
        assert_eq!(short_hash(b"abc"), "ba7816bf");
    }

    #[test]
    fn random_bytes_differ() {
        let a = random_bytes::<32>().unwrap();
        let b = random_bytes::<32>().unwrap();
        assert_ne!(a, b);
    }
}
