//! Opaque bearer tokens (refresh, reset): 256 random bits, stored only as a SHA-256 hash.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::password::fill_random;
use crate::secret::Secret;

/// A fresh token and the hash the store keeps.
pub fn generate() -> (Secret, String) {
    let mut bytes = [0u8; 32];
    fill_random(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash(&token);
    (Secret::new(token), hash)
}

/// The stored form of a token. Tokens carry 256 bits of entropy, so a plain hash suffices.
pub fn hash(token: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// A random identifier of `bytes` random bytes, base64url (key ids, jti).
pub fn random_id(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    fill_random(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_and_hashes_are_stable() {
        let (token, h) = generate();
        assert_eq!(token.expose().len(), 43);
        assert_eq!(hash(token.expose()), h);
        assert_ne!(generate().1, h);
    }
}
