//! Tokens: signed JWT access tokens (`key_ring`, `claims`), opaque refresh and reset tokens
//! (`opaque`), and the encryption of private signing keys at rest (`kek`).

pub mod claims;
pub mod kek;
pub mod key_ring;
pub mod opaque;
mod verified;

pub use claims::AccessClaims;
pub use kek::Kek;
pub use key_ring::{Algorithm, KeyRing};
