//! Passwords: NFKC normalization, the policy, and hashing on a bounded pool (`hasher`).

mod hasher;
mod phc;

use std::collections::HashSet;
use std::sync::LazyLock;

use unicode_normalization::UnicodeNormalization;

pub(crate) use hasher::fill_random;
pub use hasher::{HashParams, PasswordHasher, Verification};

use crate::error::{Error, FieldError};
use crate::secret::Secret;

/// The 8+ character passwords of zxcvbn's frequency list (see COMMON_PASSWORDS_LICENSE.txt).
static COMMON: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| include_str!("password/common_passwords.txt").lines().collect());

pub const MIN_CHARS: usize = 8;
pub const MAX_CHARS: usize = 128;

/// A password as typed, plus its NFKC form (what new hashes are made of).
#[derive(Clone, Debug)]
pub struct Password {
    raw: Secret,
    normalized: Secret,
}

impl Password {
    pub fn new(raw: &str) -> Self {
        Self { raw: Secret::new(raw), normalized: Secret::new(raw.nfkc().collect::<String>()) }
    }

    /// The bytes as typed; imported bcrypt hashes were made from these.
    pub fn raw(&self) -> &str {
        self.raw.expose()
    }

    pub fn normalized(&self) -> &str {
        self.normalized.expose()
    }

    /// Checks the policy: 8 to 128 code points, not a common password, not one of the
    /// `context` words (email, names, app names). Failures are `WeakPassword` on `field`.
    pub fn check_policy(&self, field: &str, context: &[&str]) -> Result<(), Error> {
        let value = self.normalized();
        let chars = value.chars().count();
        let folded = value.to_lowercase();
        let message = if chars < MIN_CHARS {
            Some(format!("must be at least {MIN_CHARS} characters"))
        } else if chars > MAX_CHARS {
            Some(format!("must be at most {MAX_CHARS} characters"))
        } else if COMMON.contains(folded.as_str()) {
            Some("is too common".to_owned())
        } else if is_context_word(&folded, context) {
            Some("is too easy to guess from your account details".to_owned())
        } else {
            None
        };
        match message {
            Some(message) => Err(Error::WeakPassword(vec![FieldError::new(field, message)])),
            None => Ok(()),
        }
    }
}

/// True when the password is a context word, or a context word with a few characters around it
/// (`fastauth1`, `alice2024!`).
fn is_context_word(folded: &str, context: &[&str]) -> bool {
    context
        .iter()
        .map(|word| word.trim().to_lowercase())
        .filter(|word| word.chars().count() >= 3)
        .any(|word| folded == word || (folded.contains(&word) && folded.len() <= word.len() + 4))
}

/// Whether an imported hash is one fastauth can verify: bcrypt (`$2a$`, `$2b$`, `$2y$`, cost 4-31)
/// or an Argon2 PHC string.
pub fn is_importable_hash(hash: &str) -> bool {
    let bcrypt = hash.len() == 60
        && ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p))
        && hash[4..6].parse::<u32>().is_ok_and(|cost| (4..=31).contains(&cost))
        && hash.as_bytes()[6] == b'$';
    bcrypt || phc::Phc::parse(hash).is_some()
}

/// Context words every password is checked against.
pub const PRODUCT_WORDS: &[&str] = &["fastauth", "fastauthcore"];

#[cfg(test)]
mod tests {
    use super::*;

    fn check(p: &str, context: &[&str]) -> Result<(), Error> {
        Password::new(p).check_policy("password", context)
    }

    #[test]
    fn length_counts_code_points_after_nfkc() {
        assert!(check("short1!", &[]).is_err());
        assert!(check("ééééééé", &[]).is_err(), "7 code points, 14 bytes");
        assert!(check("éééééééé", &[]).is_ok());
        assert!(check(&"x".repeat(129), &[]).is_err());
        assert!(check(&"x€".repeat(64), &[]).is_ok());
    }

    #[test]
    fn common_passwords_and_context_words_are_refused() {
        assert!(COMMON.len() >= 10_000);
        assert!(check("password", &[]).is_err());
        assert!(check("Password1", &[]).is_err());
        assert!(check("fastauth1", PRODUCT_WORDS).is_err());
        assert!(check("alice.smith", &["alice.smith"]).is_err());
        assert!(check("correct horse battery", &["alice"]).is_ok());
    }

    #[test]
    fn only_bcrypt_and_argon2_hashes_can_be_imported() {
        assert!(is_importable_hash("$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"));
        assert!(is_importable_hash(
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXowMTIzNDU"
        ));
        for bad in
            ["plaintext", "$2b$99$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW", "$1$md5$x", "$2b$12$short"]
        {
            assert!(!is_importable_hash(bad), "{bad}");
        }
    }

    #[test]
    fn nfkc_folds_compatibility_forms() {
        assert_eq!(Password::new("ﬁne-tuned").normalized(), "fine-tuned");
        assert_eq!(Password::new("ﬁne-tuned").raw(), "ﬁne-tuned");
    }
}
