//! The signing keys: which one signs, which ones verify, and the JWKS that publishes them.
//! Stored keys (EdDSA, ES256, RS256) live encrypted in the database and are reloaded every few
//! seconds, so a rotation or revocation on one instance reaches the others; HS256 uses
//! SECRET_KEY and publishes nothing.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use anyhow::{Context, anyhow};
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use time::{Duration, OffsetDateTime};

use super::claims::AccessClaims;
use super::kek::Kek;
use super::opaque::random_id;
use super::verified::Verified;
use crate::error::Error;
use crate::model::SigningKeyRecord;

/// A signing algorithm (ALGORITHM).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    EdDSA,
    ES256,
    RS256,
    HS256,
}

impl Algorithm {
    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "EdDSA" => Ok(Algorithm::EdDSA),
            "ES256" => Ok(Algorithm::ES256),
            "RS256" => Ok(Algorithm::RS256),
            "HS256" => Ok(Algorithm::HS256),
            _ => Err("must be one of EdDSA, ES256, RS256, HS256".to_owned()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::EdDSA => "EdDSA",
            Algorithm::ES256 => "ES256",
            Algorithm::RS256 => "RS256",
            Algorithm::HS256 => "HS256",
        }
    }

    fn to_jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Algorithm::EdDSA => jsonwebtoken::Algorithm::EdDSA,
            Algorithm::ES256 => jsonwebtoken::Algorithm::ES256,
            Algorithm::RS256 => jsonwebtoken::Algorithm::RS256,
            Algorithm::HS256 => jsonwebtoken::Algorithm::HS256,
        }
    }
}

/// The key id HS256 tokens carry, so that every token names its key.
const HS256_KID: &str = "hs256";
/// The `typ` header of access tokens (RFC 9068).
const ACCESS_TYP: &str = "at+jwt";

/// Holds the current keys; cheap to read on every request.
pub struct KeyRing {
    mode: Mode,
    issuer: String,
    keys: RwLock<Arc<KeySet>>,
}

enum Mode {
    Hmac,
    Stored { algorithm: Algorithm, kek: Kek, access_ttl: Duration },
}

#[derive(Default)]
struct KeySet {
    signer: Option<(String, Algorithm, EncodingKey)>,
    verifiers: HashMap<String, (Algorithm, DecodingKey)>,
    jwks: Arc<str>,
    verified: Verified,
}

impl KeyRing {
    /// HS256 with a shared secret (FastAuthCore compatibility); the JWKS stays empty.
    pub fn hmac(secret: &[u8], issuer: &str) -> Self {
        let mut verifiers = HashMap::new();
        verifiers.insert(HS256_KID.to_owned(), (Algorithm::HS256, DecodingKey::from_secret(secret)));
        let set = KeySet {
            signer: Some((HS256_KID.to_owned(), Algorithm::HS256, EncodingKey::from_secret(secret))),
            verifiers,
            jwks: Arc::from(r#"{"keys":[]}"#),
            verified: Verified::default(),
        };
        Self { mode: Mode::Hmac, issuer: issuer.to_owned(), keys: RwLock::new(Arc::new(set)) }
    }

    /// Asymmetric keys kept in the store; empty until `load`.
    pub fn stored(algorithm: Algorithm, kek: Kek, access_ttl: Duration, issuer: &str) -> Self {
        let keys = RwLock::new(Arc::new(KeySet { jwks: Arc::from(r#"{"keys":[]}"#), ..KeySet::default() }));
        Self { mode: Mode::Stored { algorithm, kek, access_ttl }, issuer: issuer.to_owned(), keys }
    }

    /// The algorithm new tokens are signed with.
    pub fn algorithm(&self) -> Algorithm {
        match &self.mode {
            Mode::Hmac => Algorithm::HS256,
            Mode::Stored { algorithm, .. } => *algorithm,
        }
    }

    /// True when the stored keys hold no unretired key of the configured algorithm.
    pub fn needs_new_key(&self, records: &[SigningKeyRecord]) -> bool {
        match &self.mode {
            Mode::Hmac => false,
            Mode::Stored { algorithm, .. } => !records
                .iter()
                .any(|r| r.retired_at.is_none() && r.revoked_at.is_none() && r.algorithm == algorithm.as_str()),
        }
    }

    /// Generates a key of the configured algorithm, its private half sealed under the KEK.
    pub fn generate_key(&self, now: OffsetDateTime) -> anyhow::Result<SigningKeyRecord> {
        let Mode::Stored { algorithm, kek, .. } = &self.mode else {
            anyhow::bail!("HS256 uses SECRET_KEY; there are no keys to rotate");
        };
        let kid = random_id(12);
        let private = generate_private_key(*algorithm)?;
        Ok(SigningKeyRecord {
            kid: kid.clone(),
            algorithm: algorithm.as_str().to_owned(),
            private_key_encrypted: kek.seal(&kid, &private)?,
            created_at: now,
            retired_at: None,
            revoked_at: None,
        })
    }

    /// Replaces the key set from the store's records: the newest unretired key of the configured
    /// algorithm signs; keys retired less than one token lifetime ago still verify.
    pub fn load(&self, records: &[SigningKeyRecord], now: OffsetDateTime) -> anyhow::Result<()> {
        let Mode::Stored { algorithm, kek, access_ttl } = &self.mode else {
            return Ok(());
        };
        let mut set = KeySet::default();
        let mut jwks = JwkSet { keys: Vec::new() };
        for record in records {
            let published = record.revoked_at.is_none() && record.retired_at.is_none_or(|at| at + *access_ttl > now);
            if !published {
                continue;
            }
            let alg = Algorithm::parse(&record.algorithm).map_err(|e| anyhow!("key {}: {e}", record.kid))?;
            let private = kek.open(&record.kid, &record.private_key_encrypted)?;
            let encoding = encoding_key(alg, &private).with_context(|| format!("key {}", record.kid))?;
            let mut jwk = Jwk::from_encoding_key(&encoding, alg.to_jwt())?;
            jwk.common.key_id = Some(record.kid.clone());
            jwk.common.public_key_use = Some(PublicKeyUse::Signature);
            set.verifiers.insert(record.kid.clone(), (alg, DecodingKey::from_jwk(&jwk)?));
            jwks.keys.push(jwk);
            let newest = set.signer.is_none();
            if newest && alg == *algorithm && record.retired_at.is_none() {
                set.signer = Some((record.kid.clone(), alg, encoding));
            }
        }
        set.jwks = Arc::from(serde_json::to_string(&jwks)?);
        *self.keys.write().map_err(|_| anyhow!("key ring lock poisoned"))? = Arc::new(set);
        Ok(())
    }

    fn current(&self) -> Arc<KeySet> {
        match self.keys.read() {
            Ok(keys) => keys.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The JWKS document, serialized once per load.
    pub fn jwks(&self) -> Arc<str> {
        self.current().jwks.clone()
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Signs access-token claims with the current key.
    pub fn sign(&self, claims: &AccessClaims) -> Result<String, Error> {
        let keys = self.current();
        let (kid, alg, key) = keys.signer.as_ref().ok_or_else(|| Error::Internal(anyhow!("no signing key loaded")))?;
        let mut header = Header::new(alg.to_jwt());
        header.typ = Some(ACCESS_TYP.to_owned());
        header.kid = Some(kid.clone());
        jsonwebtoken::encode(&header, claims, key).map_err(|e| Error::Internal(e.into()))
    }

    /// Verifies an access token: `typ` at+jwt, a known `kid` used with its own algorithm only,
    /// no key-carrying or `crit` headers, our issuer, not expired. A token that passed before
    /// under the current keys skips the signature check; its expiry is checked again.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, Error> {
        let keys = self.current();
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let claims = match keys.verified.get(token) {
            Some(claims) => claims,
            None => {
                let claims = self.check_signature(&keys, token)?;
                keys.verified.insert(token, &claims, now);
                claims
            }
        };
        // jsonwebtoken's rule, with no leeway: expired once `exp` is in the past.
        if claims.exp < now {
            return Err(Error::TokenExpired);
        }
        Ok(claims)
    }

    /// `verify` without the remembered tokens: the full cost of a token seen for the first time.
    pub fn verify_uncached(&self, token: &str) -> Result<AccessClaims, Error> {
        self.check_signature(&self.current(), token)
    }

    fn check_signature(&self, keys: &KeySet, token: &str) -> Result<AccessClaims, Error> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Error::InvalidToken)?;
        let has_foreign_key = header.jku.is_some()
            || header.jwk.is_some()
            || header.x5u.is_some()
            || header.x5c.is_some()
            || header.crit.is_some();
        if has_foreign_key || header.typ.as_deref() != Some(ACCESS_TYP) {
            return Err(Error::InvalidToken);
        }
        let (alg, key) = header.kid.as_deref().and_then(|kid| keys.verifiers.get(kid)).ok_or(Error::InvalidToken)?;
        if header.alg != alg.to_jwt() {
            return Err(Error::InvalidToken);
        }
        let mut validation = Validation::new(alg.to_jwt());
        validation.leeway = 0;
        validation.validate_aud = false;
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        match jsonwebtoken::decode::<AccessClaims>(token, key, &validation) {
            Ok(data) => Ok(data.claims),
            Err(e) if matches!(e.kind(), ErrorKind::ExpiredSignature) => Err(Error::TokenExpired),
            Err(_) => Err(Error::InvalidToken),
        }
    }
}

fn generate_private_key(algorithm: Algorithm) -> anyhow::Result<Vec<u8>> {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
    let rng = SystemRandom::new();
    let failed = |_| anyhow!("key generation failed");
    Ok(match algorithm {
        // jsonwebtoken reads Ed25519 keys as PKCS#8 v1 only.
        Algorithm::EdDSA => Ed25519KeyPair::generate_pkcs8v1(&rng).map_err(failed)?.as_ref().to_vec(),
        Algorithm::ES256 => {
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).map_err(failed)?.as_ref().to_vec()
        }
        Algorithm::RS256 => {
            let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).map_err(failed)?;
            let der = pair.as_der().map_err(failed)?;
            der.as_ref().to_vec()
        }
        Algorithm::HS256 => anyhow::bail!("HS256 keys are not generated"),
    })
}

fn encoding_key(algorithm: Algorithm, pkcs8: &[u8]) -> anyhow::Result<EncodingKey> {
    Ok(match algorithm {
        Algorithm::EdDSA => EncodingKey::from_ed_der(pkcs8),
        Algorithm::ES256 => EncodingKey::from_ec_der(pkcs8),
        Algorithm::RS256 => EncodingKey::from_rsa_der(pkcs1_from_pkcs8(pkcs8)?),
        Algorithm::HS256 => anyhow::bail!("HS256 keys are not stored"),
    })
}

/// jsonwebtoken wants RSA private keys as PKCS#1; PKCS#8 wraps exactly that in an OCTET STRING:
/// `SEQUENCE { INTEGER version, SEQUENCE algorithm, OCTET STRING privateKey }`.
fn pkcs1_from_pkcs8(der: &[u8]) -> anyhow::Result<&[u8]> {
    let bad = || anyhow!("malformed PKCS#8 RSA key");
    let (tag, body, _) = der_element(der).ok_or_else(bad)?;
    anyhow::ensure!(tag == 0x30, "malformed PKCS#8 RSA key");
    let (_, _, rest) = der_element(body).ok_or_else(bad)?; // version
    let (_, _, rest) = der_element(rest).ok_or_else(bad)?; // algorithm
    let (tag, key, _) = der_element(rest).ok_or_else(bad)?;
    anyhow::ensure!(tag == 0x04, "malformed PKCS#8 RSA key");
    Ok(key)
}

/// Splits one DER element off `input`: (tag, contents, rest).
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> AccessClaims {
        AccessClaims {
            iss: "http://issuer/".into(),
            sub: "u1".into(),
            user_id: "u1".into(),
            aud: "default".into(),
            iat: 0,
            exp,
            jti: "j".into(),
            sid: "s".into(),
            email: None,
            phone_number: None,
            role_ids: vec![1],
            roles: vec!["User".into()],
            permissions: vec![],
            test: false,
        }
    }

    fn ring(alg: Algorithm) -> KeyRing {
        let ring = KeyRing::stored(alg, Kek::generate(), Duration::minutes(30), "http://issuer/");
        let now = OffsetDateTime::now_utc();
        let key = ring.generate_key(now).expect("key");
        ring.load(&[key], now).expect("load");
        ring
    }

    fn far_future() -> i64 {
        OffsetDateTime::now_utc().unix_timestamp() + 600
    }

    #[test]
    fn every_algorithm_signs_and_verifies() {
        for alg in [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256] {
            let ring = ring(alg);
            let token = ring.sign(&claims(far_future())).expect("sign");
            assert_eq!(ring.verify(&token).expect("verify").sub, "u1", "{alg:?}");
            assert!(ring.jwks().contains("\"kid\""));
        }
        let hmac = KeyRing::hmac(&[7u8; 32], "http://issuer/");
        let token = hmac.sign(&claims(far_future())).expect("sign");
        assert!(hmac.verify(&token).is_ok());
        assert_eq!(&*hmac.jwks(), r#"{"keys":[]}"#);
    }

    #[test]
    fn expired_tampered_and_foreign_tokens_fail() {
        let ring = ring(Algorithm::EdDSA);
        let expired = ring.sign(&claims(1)).expect("sign");
        assert!(matches!(ring.verify(&expired), Err(Error::TokenExpired)));
        let other = self::ring(Algorithm::EdDSA).sign(&claims(far_future())).expect("sign");
        assert!(matches!(ring.verify(&other), Err(Error::InvalidToken)));
        let token = ring.sign(&claims(far_future())).expect("sign");
        let tampered = format!("{}x", token);
        assert!(ring.verify(&tampered).is_err());
    }

    #[test]
    fn a_token_verified_before_still_expires_and_dies_with_its_key() {
        let ring = ring(Algorithm::EdDSA);
        let now = OffsetDateTime::now_utc();
        let soon = ring.sign(&claims(now.unix_timestamp() + 1)).expect("sign");
        for _ in 0..2 {
            assert!(ring.verify(&soon).is_ok(), "checked, then remembered");
        }
        std::thread::sleep(std::time::Duration::from_millis(2100));
        assert!(matches!(ring.verify(&soon), Err(Error::TokenExpired)));

        let token = ring.sign(&claims(far_future())).expect("sign");
        assert!(ring.verify(&token).is_ok());
        let replacement = ring.generate_key(now).expect("key");
        ring.load(&[replacement], now).expect("load without the old key");
        assert!(matches!(ring.verify(&token), Err(Error::InvalidToken)));
    }

    #[test]
    fn key_carrying_and_crit_headers_and_other_types_are_refused_even_when_correctly_signed() {
        let ring = ring(Algorithm::EdDSA);
        let keys = ring.current();
        let (kid, alg, key) = keys.signer.as_ref().expect("signer");
        let sign = |edit: &dyn Fn(&mut Header)| {
            let mut header = Header::new(alg.to_jwt());
            header.typ = Some(ACCESS_TYP.into());
            header.kid = Some(kid.clone());
            edit(&mut header);
            jsonwebtoken::encode(&header, &claims(far_future()), key).expect("encode")
        };
        assert!(ring.verify(&sign(&|_| {})).is_ok(), "the control token verifies");
        let refused: [&dyn Fn(&mut Header); 6] = [
            &|h| h.jku = Some("https://evil.example/jwks".into()),
            &|h| h.x5u = Some("https://evil.example/cert".into()),
            &|h| h.x5c = Some(vec!["MII".into()]),
            &|h| h.crit = Some(vec!["exp".into()]),
            &|h| h.typ = Some("JWT".into()),
            &|h| h.kid = Some(format!("{}x", h.kid.clone().unwrap_or_default())),
        ];
        for edit in refused {
            assert!(matches!(ring.verify(&sign(edit)), Err(Error::InvalidToken)));
        }
    }

    #[test]
    fn alg_confusion_with_the_public_key_as_hmac_secret_fails() {
        let ring = ring(Algorithm::EdDSA);
        let keys = ring.current();
        let kid = keys.verifiers.keys().next().expect("kid").clone();
        let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
        header.typ = Some(ACCESS_TYP.into());
        header.kid = Some(kid);
        let forged =
            jsonwebtoken::encode(&header, &claims(far_future()), &EncodingKey::from_secret(ring.jwks().as_bytes()))
                .expect("encode");
        assert!(matches!(ring.verify(&forged), Err(Error::InvalidToken)));
    }
}
