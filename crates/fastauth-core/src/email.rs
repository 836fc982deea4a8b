//! Email addresses in canonical form: trimmed, NFKC, lower-cased, domain as IDNA A-labels.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

use crate::error::Error;

/// A canonical email address. Uniqueness and look-ups use this form only.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Canonicalizes and validates an address typed by a person.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let bad = |message: &str| Error::invalid("email", message);
        let normalized: String = raw.trim().nfkc().collect::<String>().to_lowercase();
        if normalized.chars().any(is_hidden_char) {
            return Err(bad("contains invisible or control characters"));
        }
        let (local, domain) = normalized.rsplit_once('@').ok_or_else(|| bad("is not an email address"))?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && !local.chars().any(char::is_whitespace)
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        if !local_ok {
            return Err(bad("is not an email address"));
        }
        let domain = idna::domain_to_ascii_strict(domain).map_err(|_| bad("has an invalid domain"))?;
        if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
            return Err(bad("has an invalid domain"));
        }
        let email = format!("{local}@{domain}");
        if email.len() > 254 {
            return Err(bad("is too long"));
        }
        Ok(Self(email))
    }

    /// Wraps an address read back from the store, which only holds canonical forms.
    pub fn from_trusted(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before `@`, used as a context word by the password policy.
    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map_or(&self.0, |(local, _)| local)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Characters that let two addresses look alike or hide text: controls, format characters
/// (zero-width, bidi controls, soft hyphen, BOM), private use and noncharacters.
fn is_hidden_char(c: char) -> bool {
    let cp = c as u32;
    c.is_control()
        || matches!(cp,
            0x00AD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180B..=0x180F
            | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F
            | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFFB | 0xE000..=0xF8FF | 0xFDD0..=0xFDEF
            | 0xE0000..=0xE0FFF | 0xF0000..=0x10FFFF)
        || (cp & 0xFFFE) == 0xFFFE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_is_trimmed_lowercased_and_punycoded() {
        assert_eq!(Email::parse("  Alice@Example.COM ").map(|e| e.0).ok(), Some("alice@example.com".into()));
        assert_eq!(Email::parse("bob@bücher.de").map(|e| e.0).ok(), Some("bob@xn--bcher-kva.de".into()));
        // Fullwidth letters fold to ASCII under NFKC.
        assert_eq!(Email::parse("ｃａｒｏｌ@example.com").map(|e| e.0).ok(), Some("carol@example.com".into()));
    }

    #[test]
    fn invisible_and_bidi_characters_are_refused() {
        for raw in ["ali\u{200B}ce@example.com", "alice\u{202E}@example.com", "a\u{FEFF}@example.com"] {
            assert!(Email::parse(raw).is_err(), "{raw:?} accepted");
        }
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for raw in ["", "alice", "@example.com", "alice@", "alice@localhost", "a b@example.com", "a..b@example.com"] {
            assert!(Email::parse(raw).is_err(), "{raw:?} accepted");
        }
    }
}
