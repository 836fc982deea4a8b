//! The key-encryption key: AES-256-GCM over private signing keys, the key id as associated data
//! so that a ciphertext cannot be moved to another key's row.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::password::fill_random;

/// A 32-byte key-encryption key (KEY_ENCRYPTION_KEY).
#[derive(Clone)]
pub struct Kek([u8; 32]);

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kek([redacted])")
    }
}

impl Kek {
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        fill_random(&mut key);
        Self(key)
    }

    /// Reads the base64 form; anything but 32 bytes is refused.
    pub fn from_base64(text: &str) -> Result<Self, String> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| "is not valid base64".to_owned())?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| "must decode to exactly 32 bytes".to_owned())?;
        Ok(Self(key))
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// A subkey for another purpose (`label`), so the KEK itself is used only for sealing.
    pub fn derive(&self, label: &str) -> Vec<u8> {
        derive_key(&self.0, label)
    }

    fn key(&self) -> anyhow::Result<LessSafeKey> {
        let key = UnboundKey::new(&AES_256_GCM, &self.0).map_err(|_| anyhow::anyhow!("bad AES key"))?;
        Ok(LessSafeKey::new(key))
    }

    /// nonce || ciphertext || tag
    pub fn seal(&self, kid: &str, plaintext: &[u8]) -> anyhow::Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce);
        let mut out = plaintext.to_vec();
        self.key()?
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(kid.as_bytes()), &mut out)
            .map_err(|_| anyhow::anyhow!("encryption failed"))?;
        Ok([nonce.as_slice(), &out].concat())
    }

    pub fn open(&self, kid: &str, sealed: &[u8]) -> anyhow::Result<Vec<u8>> {
        let (nonce, body) =
            sealed.split_at_checked(NONCE_LEN).ok_or_else(|| anyhow::anyhow!("ciphertext too short"))?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| anyhow::anyhow!("bad nonce"))?;
        let mut buf = body.to_vec();
        let plain = self
            .key()?
            .open_in_place(nonce, Aad::from(kid.as_bytes()), &mut buf)
            .map_err(|_| anyhow::anyhow!("signing key {kid} does not decrypt: wrong KEY_ENCRYPTION_KEY?"))?;
        Ok(plain.to_vec())
    }
}

/// HMAC-SHA256(secret, label): a purpose-bound key from a secret.
pub fn derive_key(secret: &[u8], label: &str) -> Vec<u8> {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    aws_lc_rs::hmac::sign(&key, label.as_bytes()).as_ref().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_keys_open_only_with_the_same_kek_and_kid() {
        let kek = Kek::generate();
        let sealed = kek.seal("k1", b"private").expect("seal");
        assert_eq!(kek.open("k1", &sealed).expect("open"), b"private");
        assert!(kek.open("k2", &sealed).is_err());
        assert!(Kek::generate().open("k1", &sealed).is_err());
        assert!(Kek::from_base64(&kek.to_base64()).is_ok());
        assert!(Kek::from_base64("c2hvcnQ=").is_err());
    }
}
