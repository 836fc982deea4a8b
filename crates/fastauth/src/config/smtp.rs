//! Email delivery: SMTP when SMTP_HOST is set, else the log.

use fastauth_core::secret::Secret;

use super::{ConfigError, Env};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    StartTls,
    Tls,
    None,
}

#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub from: String,
}

impl SmtpConfig {
    /// `None` when SMTP_HOST is unset: mail goes to the log.
    pub fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        let Some(host) = env.raw("SMTP_HOST") else { return Ok(None) };
        let tls = env
            .parse_with("SMTP_TLS", |v| match v.to_ascii_lowercase().as_str() {
                "starttls" => Ok(SmtpTls::StartTls),
                "tls" => Ok(SmtpTls::Tls),
                "none" => Ok(SmtpTls::None),
                _ => Err("must be starttls, tls or none".into()),
            })?
            .unwrap_or(SmtpTls::StartTls);
        let user = env.raw("SMTP_USER").map(str::to_owned);
        let from = match (env.raw("SMTP_FROM"), &user) {
            (Some(from), _) => from.to_owned(),
            (None, Some(user)) if user.contains('@') => user.clone(),
            _ => return Err(ConfigError::new("SMTP_FROM", "must be set when SMTP_HOST is (the sender address)")),
        };
        if from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError::new("SMTP_FROM", "is not an email address (name <address> or address)"));
        }
        Ok(Some(Self {
            host: host.to_owned(),
            port: env.get("SMTP_PORT", 587)?,
            tls,
            user,
            password: env.raw("SMTP_PASSWORD").map(Secret::new),
            from,
        }))
    }
}
