//! Configuration from the environment and `.env` (the environment wins), with FastAuthCore's
//! variable names. One struct per area; a bad value is one `ConfigError` naming the variable.

mod env;
mod http;
mod passwords;
pub mod sms;
pub mod smtp;
mod tokens;
mod uploads;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use fastauth_core::email::Email;
use fastauth_core::password::Password;
use fastauth_core::phone::Region;

pub use env::{ConfigError, Env};
pub use http::HttpConfig;
pub use passwords::PasswordConfig;
pub use tokens::{KekSource, TokenConfig};
pub use uploads::{S3Config, UploadConfig};

/// Everything `serve` and the commands need.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen_addr: SocketAddr,
    /// Public base URL, always ending in `/`; the token issuer.
    pub base_url: String,
    pub database: DatabaseConfig,
    pub tokens: TokenConfig,
    pub passwords: PasswordConfig,
    pub http: HttpConfig,
    pub uploads: UploadConfig,
    pub smtp: Option<smtp::SmtpConfig>,
    pub sms: Vec<sms::SmsProvider>,
    pub sms_guards: sms::SmsGuards,
    pub test_identities: Vec<fastauth_core::service::TestIdentity>,
    /// WEBHOOK_SECRET: signs event deliveries and the SMS webhook.
    pub webhook_secrets: crate::signature::WebhookSecrets,
    /// WEBHOOK_URLS: where events go.
    pub webhook_urls: Vec<String>,
    /// Origins allowed as `base_url` of reset links (RESET_REDIRECT_ALLOWLIST).
    pub reset_origins: Vec<String>,
    /// EMAIL_TEMPLATE: the HTML, or a file holding it.
    pub reset_email_template: Option<String>,
    /// OTP_EMAIL_TEMPLATE: the HTML, or a file holding it.
    pub otp_email_template: Option<String>,
    pub roles: Vec<String>,
    pub default_role: String,
    pub admin: Option<(Email, Password)>,
    pub require_email_verification: bool,
    pub phone_region: Option<Region>,
    pub otp_minutes: u32,
    /// AUDIT_RETENTION_DAYS.
    pub audit_retention: time::Duration,
    pub log_format: Option<LogFormat>,
    pub limits: LimitsConfig,
}

/// Where rate-limit counts live (RATE_LIMITS itself is `http.rate_limits`).
#[derive(Debug, Clone)]
pub struct LimitsConfig {
    /// REDIS_URL: counts shared by every instance; in memory when unset.
    pub redis_url: Option<String>,
    /// REDIS_KEY_PREFIX: lets several deployments share one Redis.
    pub redis_prefix: String,
}

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: String,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let phone_region = env.parse_with("DEFAULT_PHONE_REGION", |v| {
            v.to_uppercase().parse::<Region>().map_err(|_| "is not an ISO region code such as IN or US".into())
        })?;
        let sms_providers = sms::from_env(env)?;
        let database = DatabaseConfig {
            url: env.get("DATABASE_URL", "sqlite://data/fastauth.db".to_owned())?,
            max_connections: env.get_in("DATABASE_MAX_CONNECTIONS", 16, 1..=1000)?,
            acquire_timeout: Duration::from_millis(env.get_in("DATABASE_TIMEOUT_MS", 3000, 100..=60_000)?),
        };
        fastauth_store::Dialect::from_url(&database.url).map_err(|e| ConfigError::new("DATABASE_URL", e))?;
        let base_url = parse_base_url(&env.get("BASE_URL", "http://127.0.0.1:8000/".to_owned())?)?;
        let roles =
            env.list("ROLES").unwrap_or_else(|| ["Visitors", "Guest", "User", "Admin"].map(String::from).to_vec());
        if roles.is_empty() {
            return Err(ConfigError::new("ROLES", "must name at least one role"));
        }
        let default_role = env.get("DEFAULT_ROLE", roles[0].clone())?;
        if !roles.contains(&default_role) {
            return Err(ConfigError::new("DEFAULT_ROLE", format!("{default_role:?} is not one of ROLES")));
        }
        Ok(Self {
            listen_addr: env.get("LISTEN_ADDR", SocketAddr::from(([127, 0, 0, 1], 8000)))?,
            tokens: TokenConfig::from_env(env, &database.url)?,
            passwords: PasswordConfig::from_env(env)?,
            http: HttpConfig::from_env(env, &base_url)?,
            uploads: UploadConfig::from_env(env)?,
            smtp: smtp::SmtpConfig::from_env(env)?,
            sms_guards: sms::guards_from_env(env, &sms_providers, phone_region)?,
            test_identities: sms::test_identities(
                env,
                &sms_providers,
                phone_region,
                time::OffsetDateTime::now_utc().date(),
            )?,
            sms: sms_providers,
            webhook_secrets: env
                .parse_with("WEBHOOK_SECRET", crate::signature::WebhookSecrets::parse)?
                .unwrap_or_default(),
            webhook_urls: webhook_urls(env)?,
            reset_origins: reset_origins(env, &base_url)?,
            reset_email_template: template(env, "EMAIL_TEMPLATE", "{set_new_password_link}")?,
            otp_email_template: template(env, "OTP_EMAIL_TEMPLATE", "{otp}")?,
            admin: admin_from_env(env)?,
            require_email_verification: env.bool("REQUIRE_EMAIL_VERIFICATION", false)?,
            phone_region,
            otp_minutes: env.get_in("OTP_EXPIRATION_TIME", 10, 1..=1440)?,
            audit_retention: time::Duration::days(env.get_in("AUDIT_RETENTION_DAYS", 365, 1..=36_500)?),
            log_format: env.parse_with("LOG_FORMAT", |v| match v {
                "pretty" => Ok(LogFormat::Pretty),
                "json" => Ok(LogFormat::Json),
                _ => Err("must be pretty or json".into()),
            })?,
            limits: LimitsConfig {
                redis_url: env.parse_with("REDIS_URL", |v| {
                    if v.starts_with("redis://") || v.starts_with("rediss://") || v.starts_with("unix://") {
                        Ok(v.to_owned())
                    } else {
                        Err("must be a redis:// or rediss:// URL".into())
                    }
                })?,
                redis_prefix: env.get("REDIS_KEY_PREFIX", "fastauth:".to_owned())?,
            },
            database,
            base_url,
            roles,
            default_role,
        })
    }

    /// The folder SQLite keeps its file in (for the generated key-encryption key).
    pub fn data_dir(&self) -> PathBuf {
        let file = self.database.url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
        let file = file.split('?').next().unwrap_or_default();
        std::path::Path::new(file).parent().map(PathBuf::from).unwrap_or_default()
    }
}

fn parse_base_url(raw: &str) -> Result<String, ConfigError> {
    let ok = (raw.starts_with("http://") || raw.starts_with("https://"))
        && raw.split("://").nth(1).is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
        && !raw.contains(['?', '#', ' ']);
    if !ok {
        return Err(ConfigError::new("BASE_URL", "must be an absolute http(s) URL such as https://auth.example.com/"));
    }
    Ok(if raw.ends_with('/') { raw.to_owned() } else { format!("{raw}/") })
}

fn webhook_urls(env: &Env) -> Result<Vec<String>, ConfigError> {
    let urls = env.list("WEBHOOK_URLS").unwrap_or_default();
    let is_http =
        |u: &str| reqwest::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    if let Some(bad) = urls.iter().find(|u| !is_http(u)) {
        return Err(ConfigError::new("WEBHOOK_URLS", format!("has {bad:?}, not an absolute http(s) URL")));
    }
    if !urls.is_empty() && env.raw("WEBHOOK_SECRET").is_none() {
        return Err(ConfigError::new("WEBHOOK_SECRET", "must be set when WEBHOOK_URLS is (whsec_ + base64)"));
    }
    Ok(urls)
}

fn reset_origins(env: &Env, base_url: &str) -> Result<Vec<String>, ConfigError> {
    let listed = env.list("RESET_REDIRECT_ALLOWLIST").unwrap_or_else(|| vec![base_url.to_owned()]);
    listed
        .iter()
        .map(|o| {
            http::origin_of(o).ok_or_else(|| {
                ConfigError::new("RESET_REDIRECT_ALLOWLIST", format!("has {o:?}, not an http(s) origin"))
            })
        })
        .collect()
}

/// A template given inline or as a file path; it must contain its placeholder.
fn template(env: &Env, var: &str, placeholder: &str) -> Result<Option<String>, ConfigError> {
    let Some(value) = env.raw(var) else { return Ok(None) };
    let text = if std::path::Path::new(value).is_file() {
        std::fs::read_to_string(value).map_err(|e| ConfigError::new(var, format!("file cannot be read: {e}")))?
    } else {
        value.to_owned()
    };
    if !text.contains(placeholder) {
        return Err(ConfigError::new(var, format!("must contain {placeholder}")));
    }
    Ok(Some(text))
}

fn admin_from_env(env: &Env) -> Result<Option<(Email, Password)>, ConfigError> {
    match (env.raw("ADMIN_EMAIL"), env.raw("ADMIN_PASSWORD")) {
        (Some(email), Some(password)) => {
            let email =
                Email::parse(email).map_err(|_| ConfigError::new("ADMIN_EMAIL", "is not a valid email address"))?;
            let password = Password::new(password);
            password.check_policy("password", &[email.as_str(), email.local_part()]).map_err(|_| {
                ConfigError::new("ADMIN_PASSWORD", "does not meet the password policy (8-128 characters, not common)")
            })?;
            Ok(Some((email, password)))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_env(&Env::from_pairs(vars))
    }

    #[test]
    fn no_configuration_gives_the_embedded_defaults() {
        let c = config(&[]).expect("defaults are valid");
        assert_eq!(c.listen_addr.to_string(), "127.0.0.1:8000");
        assert_eq!(c.database.url, "sqlite://data/fastauth.db");
        assert_eq!(c.base_url, "http://127.0.0.1:8000/");
        assert_eq!(c.default_role, "Visitors");
        assert_eq!(c.data_dir(), PathBuf::from("data"));
    }

    #[test]
    fn bad_values_name_their_variable() {
        let var = |vars: &[(&str, &str)]| config(vars).expect_err("refused").var;
        assert_eq!(var(&[("LISTEN_ADDR", "nowhere")]), "LISTEN_ADDR");
        assert_eq!(var(&[("DATABASE_URL", "mysql://x")]), "DATABASE_URL");
        assert_eq!(var(&[("ACCESS_TOKEN_EXPIRE_MINUTES", "-3")]), "ACCESS_TOKEN_EXPIRE_MINUTES");
        assert_eq!(var(&[("ALGORITHM", "none")]), "ALGORITHM");
        assert_eq!(var(&[("ALGORITHM", "HS256"), ("SECRET_KEY", "short")]), "SECRET_KEY");
        assert_eq!(var(&[("DATABASE_URL", "postgres://localhost/x")]), "KEY_ENCRYPTION_KEY");
        assert_eq!(var(&[("ROLES", "A,B"), ("DEFAULT_ROLE", "C")]), "DEFAULT_ROLE");
        assert_eq!(var(&[("ARGON2_MEMORY_KIB", "1")]), "ARGON2_MEMORY_KIB");
        assert_eq!(var(&[("TRUSTED_PROXIES", "10.0.0.0/99")]), "TRUSTED_PROXIES");
        assert_eq!(var(&[("REQUIRE_EMAIL_VERIFICATION", "maybe")]), "REQUIRE_EMAIL_VERIFICATION");
        assert_eq!(var(&[("BASE_URL", "auth.example.com")]), "BASE_URL");
        assert_eq!(var(&[("RATE_LIMITS", "maybe")]), "RATE_LIMITS");
        assert_eq!(var(&[("WEBHOOK_URLS", "https://hooks.example.com/in")]), "WEBHOOK_SECRET");
        assert_eq!(var(&[("WEBHOOK_URLS", "hooks.example.com")]), "WEBHOOK_URLS");
        assert_eq!(var(&[("REDIS_URL", "localhost:6379")]), "REDIS_URL");
        assert_eq!(
            var(&[("SMS_PROVIDER", "webhook"), ("SMS_WEBHOOK_URL", "https://h.example.com")]),
            "SMS_ALLOWED_COUNTRIES"
        );
        assert_eq!(var(&[("SMS_PROVIDER", "twilio")]), "TWILIO_ACCOUNT_SID");
        assert_eq!(var(&[("SMS_PROVIDER", "carrier-pigeon")]), "SMS_PROVIDER");
        assert_eq!(var(&[("SMTP_HOST", "mail.example.com")]), "SMTP_FROM");
        let real =
            [("SMS_PROVIDER", "webhook"), ("SMS_WEBHOOK_URL", "https://h.example.com"), ("DEFAULT_PHONE_REGION", "IN")];
        let with = |entry: &str| {
            let mut vars = real.to_vec();
            vars.push(("OTP_TEST_NUMBERS", entry));
            config(&vars).map(|_| ())
        };
        assert_eq!(with("+919999988888:123456").expect_err("no date").var, "OTP_TEST_NUMBERS");
        assert_eq!(with("+919999988888:123456:2999-01-01").expect_err("too far").var, "OTP_TEST_NUMBERS");
        assert_eq!(with("+919999988888:12345").expect_err("short code").var, "OTP_TEST_NUMBERS");
        let soon = (time::OffsetDateTime::now_utc() + time::Duration::days(10)).date().to_string();
        assert!(with(&format!("+919999988888:123456@mobile:{soon}")).is_ok());
        let err = with("+919999988888:987654").expect_err("no date");
        assert!(!err.problem.contains("987654"), "the code never appears in errors");
    }

    #[test]
    fn roles_list_ignores_empty_items_and_default_role_is_the_first() {
        let c = config(&[("ROLES", " Member, ,Staff,")]).expect("valid");
        assert_eq!(c.roles, ["Member", "Staff"]);
        assert_eq!(c.default_role, "Member");
    }
}
