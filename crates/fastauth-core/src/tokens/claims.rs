//! The claims of an access token (SPEC section 4).

use serde::{Deserialize, Serialize};

/// What an access token says. `sub` and `user_id` are the same id (FastAuthCore clients read
/// `user_id`); `aud` is the application's `client_id`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub user_id: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub sid: String,
    pub email: Option<String>,
    pub phone_number: Option<String>,
    pub role_ids: Vec<i64>,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    /// Set on tokens of OTP test identities.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub test: bool,
}
