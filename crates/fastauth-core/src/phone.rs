//! Phone numbers, stored and compared in E.164.

use std::fmt;

use crate::error::Error;

pub use phonenumber::country::Id as Region;

/// A valid phone number in E.164 form (`+919999988888`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Reads a number; one given without `+` is read in `default_region`, if any.
    pub fn parse(raw: &str, default_region: Option<Region>) -> Result<Self, Error> {
        let bad = || Error::invalid("phone_number", "is not a valid phone number");
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > 32 {
            return Err(bad());
        }
        let region = if raw.starts_with('+') { None } else { Some(default_region.ok_or_else(bad)?) };
        let number = phonenumber::parse(region, raw).map_err(|_| bad())?;
        if !phonenumber::is_valid(&number) {
            return Err(bad());
        }
        Ok(Self(number.format().mode(phonenumber::Mode::E164).to_string()))
    }

    pub fn from_trusted(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number's region, if libphonenumber can tell.
    pub fn region(&self) -> Option<Region> {
        phonenumber::parse(None, &self.0).ok().and_then(|n| n.country().id())
    }

    /// The calling code and the next three digits (`+91987`): the unit SMS-pumping limits count.
    pub fn prefix(&self) -> String {
        let code = phonenumber::parse(None, &self.0).map(|n| n.code().value().to_string()).unwrap_or_default();
        let rest = self.0.get(1 + code.len()..).unwrap_or_default();
        format!("+{code}{}", rest.get(..3).unwrap_or(rest))
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_become_e164() {
        let e164 = |raw, region| PhoneNumber::parse(raw, region).map(|p| p.0).ok();
        assert_eq!(e164("+91 99999 88888", None), Some("+919999988888".into()));
        assert_eq!(e164("099999 88888", Some(Region::IN)), Some("+919999988888".into()));
        assert_eq!(e164("9999988888", None), None);
        assert_eq!(e164("+1555", None), None);
        let number = PhoneNumber::parse("+919876543210", None).expect("valid");
        assert_eq!((number.region(), number.prefix().as_str()), (Some(Region::IN), "+91987"));
    }
}
