//! Identifiers: user, session and application ids, parsed once at the edge.

use std::fmt;

use crate::error::Error;

/// A user's id: text, a UUIDv7 for new users; imported users may keep their own.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }

    /// Accepts ids of 1 to 64 characters from a conservative alphabet.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let ok = !raw.is_empty()
            && raw.len() <= 64
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok { Ok(Self(raw.to_owned())) } else { Err(Error::invalid("user_id", "not a valid user id")) }
    }

    /// Wraps an id read back from the store, which only ever holds parsed ids.
    pub fn from_trusted(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A session's id (one per sign-in).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct SessionId(String);

impl SessionId {
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }

    pub fn from_trusted(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An application's id (`client_id`): a lowercase slug.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct ClientId(String);

impl ClientId {
    pub const DEFAULT: &'static str = "default";

    pub fn default_app() -> Self {
        Self(Self::DEFAULT.to_owned())
    }

    /// A slug of 1 to 64 characters: lowercase letters, digits, `-` and `_`.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let ok = !raw.is_empty()
            && raw.len() <= 64
            && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok { Ok(Self(raw.to_owned())) } else { Err(Error::invalid("client_id", "not a valid client_id")) }
    }

    pub fn from_trusted(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A role's integer id.
pub type RoleId = i64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_accept_uuids_and_fastauthcore_hex_ids() {
        assert!(UserId::parse(&UserId::generate().to_string()).is_ok());
        assert!(UserId::parse("5f3c9a0b1d2e4f6a7b8c9d0e").is_ok());
        assert!(UserId::parse("").is_err());
        assert!(UserId::parse("a/../b").is_err());
        assert!(UserId::parse(&"a".repeat(65)).is_err());
    }

    #[test]
    fn client_ids_are_lowercase_slugs() {
        assert!(ClientId::parse("mobile-app_2").is_ok());
        assert!(ClientId::parse("Mobile").is_err());
        assert!(ClientId::parse("").is_err());
    }
}
