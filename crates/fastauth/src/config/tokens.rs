//! Token settings: algorithm and keys, lifetimes, session limits.

use fastauth_core::secret::Secret;
use fastauth_core::tokens::{Algorithm, Kek};
use time::Duration;

use super::{ConfigError, Env};

/// Where the key-encryption key comes from.
#[derive(Debug, Clone)]
pub enum KekSource {
    /// KEY_ENCRYPTION_KEY.
    Given(Kek),
    /// SQLite with none set: generated once into `kek` beside the database file (mode 0600).
    DataDir,
    /// HS256: there are no stored keys to encrypt.
    NotNeeded,
}

#[derive(Debug, Clone)]
pub struct TokenConfig {
    pub algorithm: Algorithm,
    pub secret_key: Option<Secret>,
    pub kek: KekSource,
    pub access_ttl: Duration,
    pub refresh_idle_ttl: Duration,
    pub session_max_age: Duration,
    pub max_sessions_per_user: u32,
}

impl TokenConfig {
    pub fn from_env(env: &Env, database_url: &str) -> Result<Self, ConfigError> {
        let algorithm = env.parse_with("ALGORITHM", Algorithm::parse)?.unwrap_or(Algorithm::EdDSA);
        let secret_key = env.raw("SECRET_KEY").map(Secret::new);
        if algorithm == Algorithm::HS256 {
            match &secret_key {
                None => return Err(ConfigError::new("SECRET_KEY", "must be set when ALGORITHM=HS256")),
                Some(s) if s.expose().len() < 32 => {
                    return Err(ConfigError::new("SECRET_KEY", "must hold at least 32 bytes for HS256"));
                }
                Some(_) => {}
            }
        }
        let kek = match (algorithm, env.raw("KEY_ENCRYPTION_KEY")) {
            (Algorithm::HS256, _) => KekSource::NotNeeded,
            (_, Some(text)) => {
                KekSource::Given(Kek::from_base64(text).map_err(|p| ConfigError::new("KEY_ENCRYPTION_KEY", p))?)
            }
            (_, None) if database_url.starts_with("sqlite:") => KekSource::DataDir,
            (_, None) => {
                return Err(ConfigError::new(
                    "KEY_ENCRYPTION_KEY",
                    "must be set with PostgreSQL (32 random bytes, base64: openssl rand -base64 32)",
                ));
            }
        };
        let minutes = env.get_in("ACCESS_TOKEN_EXPIRE_MINUTES", 30, 1..=1440)?;
        let refresh_days = env.get_in("REFRESH_TOKEN_EXPIRE_DAYS", 2, 1..=365)?;
        let max_days = env.get_in("SESSION_MAX_DAYS", 30, 1..=3650)?;
        Ok(Self {
            algorithm,
            secret_key,
            kek,
            access_ttl: Duration::minutes(minutes),
            refresh_idle_ttl: Duration::days(refresh_days),
            session_max_age: Duration::days(max_days),
            max_sessions_per_user: env.get_in("MAX_SESSIONS_PER_USER", 50, 1..=10_000)?,
        })
    }
}
