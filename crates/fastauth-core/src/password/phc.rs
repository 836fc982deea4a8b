//! The PHC string form of Argon2 hashes: `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;

/// A parsed Argon2 PHC string.
pub(super) struct Phc {
    pub algorithm: argon2_rust::Algorithm,
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
    pub salt: Vec<u8>,
    pub hash: Vec<u8>,
}

impl Phc {
    pub fn parse(s: &str) -> Option<Self> {
        let mut parts = s.split('$');
        if !parts.next()?.is_empty() {
            return None;
        }
        let algorithm = match parts.next()? {
            "argon2id" => argon2_rust::Algorithm::Argon2id,
            "argon2i" => argon2_rust::Algorithm::Argon2i,
            "argon2d" => argon2_rust::Algorithm::Argon2d,
            _ => return None,
        };
        if parts.next()? != "v=19" {
            return None;
        }
        let (mut m_kib, mut t, mut p) = (None, None, None);
        for param in parts.next()?.split(',') {
            let (key, value) = param.split_once('=')?;
            let value: u32 = value.parse().ok()?;
            match key {
                "m" => m_kib = Some(value),
                "t" => t = Some(value),
                "p" => p = Some(value),
                _ => return None,
            }
        }
        let salt = B64.decode(parts.next()?).ok()?;
        let hash = B64.decode(parts.next()?).ok()?;
        if parts.next().is_some() || hash.len() < 16 || hash.len() > 64 {
            return None;
        }
        Some(Self { algorithm, m_kib: m_kib?, t: t?, p: p?, salt, hash })
    }

    pub fn format(&self) -> String {
        format!(
            "${}$v=19$m={},t={},p={}${}${}",
            self.algorithm.as_str(),
            self.m_kib,
            self.t,
            self.p,
            B64.encode(&self.salt),
            B64.encode(&self.hash)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_the_reference_format() {
        let s = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXowMTIzNDU";
        let phc = Phc::parse(s).expect("parses");
        assert_eq!((phc.m_kib, phc.t, phc.p), (19456, 2, 1));
        assert_eq!(phc.format(), s);
        assert!(Phc::parse("$argon2id$v=16$m=1,t=1,p=1$AA$AA").is_none());
        assert!(Phc::parse("$2b$12$abcdefghijklmnopqrstuv").is_none());
    }
}
