//! SMS_PROVIDER and each provider's settings; a comma-separated list is a failover chain.

use fastauth_core::secret::Secret;

use super::{ConfigError, Env};

#[derive(Debug, Clone)]
pub enum SmsProvider {
    Log,
    TwilioVerify {
        account_sid: String,
        auth_token: Secret,
        service_id: String,
        base: String,
    },
    Twilio {
        account_sid: String,
        auth_token: Secret,
        from: String,
        base: String,
    },
    Kaleyra {
        api_key: Secret,
        sid: String,
        sender_id: String,
        template_id: Option<String>,
        message_template: String,
        base: String,
    },
    Webhook {
        url: String,
    },
}

impl SmsProvider {
    pub fn is_log(&self) -> bool {
        matches!(self, SmsProvider::Log)
    }
}

pub fn from_env(env: &Env) -> Result<Vec<SmsProvider>, ConfigError> {
    let names = env.list("SMS_PROVIDER").unwrap_or_else(|| vec!["log".to_owned()]);
    let need = |var: &str| {
        env.raw(var).map(str::to_owned).ok_or_else(|| ConfigError::new(var, "must be set for the chosen SMS_PROVIDER"))
    };
    let twilio_base = |default: &str| env.raw("TWILIO_API_BASE").unwrap_or(default).trim_end_matches('/').to_owned();
    names
        .iter()
        .map(|name| {
            Ok(match name.as_str() {
                "log" => SmsProvider::Log,
                "twilio-verify" => SmsProvider::TwilioVerify {
                    account_sid: need("TWILIO_ACCOUNT_SID")?,
                    auth_token: Secret::new(need("TWILIO_AUTH_TOKEN")?),
                    service_id: need("TWILIO_SERVICE_ID")?,
                    base: twilio_base("https://verify.twilio.com"),
                },
                "twilio" => SmsProvider::Twilio {
                    account_sid: need("TWILIO_ACCOUNT_SID")?,
                    auth_token: Secret::new(need("TWILIO_AUTH_TOKEN")?),
                    from: need("TWILIO_FROM")?,
                    base: twilio_base("https://api.twilio.com"),
                },
                "kaleyra" => {
                    let message_template =
                        env.raw("MESSAGE_TEMPLATE").unwrap_or("Your verification code is {otp}").to_owned();
                    if !message_template.contains("{otp}") {
                        return Err(ConfigError::new("MESSAGE_TEMPLATE", "must contain {otp}"));
                    }
                    SmsProvider::Kaleyra {
                        api_key: Secret::new(need("SSO_KALEYRA_API_KEY")?),
                        sid: need("SSO_KALEYRA_SID")?,
                        sender_id: need("SENDER_ID")?,
                        template_id: env.raw("TEMPLATE_ID").map(str::to_owned),
                        message_template,
                        base: env
                            .raw("KALEYRA_API_BASE")
                            .unwrap_or("https://api.kaleyra.io")
                            .trim_end_matches('/')
                            .to_owned(),
                    }
                }
                "webhook" => SmsProvider::Webhook { url: need("SMS_WEBHOOK_URL")? },
                other => {
                    return Err(ConfigError::new(
                        "SMS_PROVIDER",
                        format!("has {other:?}; use log, twilio-verify, twilio, kaleyra or webhook"),
                    ));
                }
            })
        })
        .collect()
}

/// The SMS-pumping guards, with the defaults SPEC gives once a real provider is configured.
#[derive(Debug, Clone, Default)]
pub struct SmsGuards {
    pub countries: Option<Vec<fastauth_core::phone::Region>>,
    pub daily_limit: Option<i64>,
    pub prefix_hourly_limit: Option<i64>,
}

pub fn guards_from_env(
    env: &Env,
    providers: &[SmsProvider],
    default_region: Option<fastauth_core::phone::Region>,
) -> Result<SmsGuards, ConfigError> {
    let real = providers.iter().any(|p| !p.is_log());
    let countries = match env.list("SMS_ALLOWED_COUNTRIES") {
        Some(list) if list.iter().any(|c| c.eq_ignore_ascii_case("all")) => None,
        Some(list) => Some(
            list.iter()
                .map(|c| {
                    c.to_uppercase().parse().map_err(|_| {
                        ConfigError::new("SMS_ALLOWED_COUNTRIES", format!("has {c:?}, not an ISO region code"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        None if real => match default_region {
            Some(region) => Some(vec![region]),
            None => {
                return Err(ConfigError::new(
                    "SMS_ALLOWED_COUNTRIES",
                    "must be set (or DEFAULT_PHONE_REGION) when SMS_PROVIDER sends real SMS; `all` allows every country",
                ));
            }
        },
        None => None,
    };
    let limit = |var: &str, default: Option<i64>| -> Result<Option<i64>, ConfigError> {
        match env.raw(var) {
            None => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("unlimited") => Ok(None),
            Some(_) => env.get_in(var, 0i64, 1..=100_000_000).map(Some),
        }
    };
    Ok(SmsGuards {
        countries,
        daily_limit: limit("SMS_DAILY_LIMIT", real.then_some(1000))?,
        prefix_hourly_limit: limit("SMS_PREFIX_HOURLY_LIMIT", None)?,
    })
}

/// OTP_TEST_NUMBERS: `NUMBER:CODE[@APP][:YYYY-MM-DD]`, comma-separated. With a real provider each
/// needs an end date at most 180 days ahead, so a forgotten review number cannot live forever.
pub fn test_identities(
    env: &Env,
    providers: &[SmsProvider],
    region: Option<fastauth_core::phone::Region>,
    today: time::Date,
) -> Result<Vec<fastauth_core::service::TestIdentity>, ConfigError> {
    let bad = |entry: &str, why: &str| ConfigError::new("OTP_TEST_NUMBERS", format!("entry {entry:?}: {why}"));
    let real = providers.iter().any(|p| !p.is_log());
    let date_format = time::macros::format_description!("[year]-[month]-[day]");
    let mut out = Vec::new();
    for entry in env.list("OTP_TEST_NUMBERS").unwrap_or_default() {
        // The entry is echoed only up to the number: the code is a secret.
        let shown = entry.split(':').next().unwrap_or_default().to_owned();
        let mut parts = entry.split(':');
        let number = parts.next().unwrap_or_default();
        let code_app = parts.next().ok_or_else(|| bad(&shown, "needs NUMBER:CODE"))?;
        let until = parts
            .next()
            .map(|d| time::Date::parse(d, date_format).map_err(|_| bad(&shown, "the date must be YYYY-MM-DD")))
            .transpose()?;
        if parts.next().is_some() {
            return Err(bad(&shown, "has too many parts"));
        }
        let (code, app) = match code_app.split_once('@') {
            Some((code, app)) => (
                code,
                Some(fastauth_core::ids::ClientId::parse(app).map_err(|_| bad(&shown, "the app is not a client_id"))?),
            ),
            None => (code_app, None),
        };
        let code = fastauth_core::otp::parse_code(code).map_err(|_| bad(&shown, "the code must be 6 digits"))?;
        let phone = fastauth_core::phone::PhoneNumber::parse(number, region)
            .map_err(|_| bad(&shown, "is not a valid phone number"))?;
        if real && until.is_none_or(|d| d > today + time::Duration::days(180)) {
            return Err(bad(&shown, "needs an end date within 180 days while a real SMS provider is configured"));
        }
        out.push(fastauth_core::service::TestIdentity {
            phone,
            code: fastauth_core::secret::Secret::new(code),
            app,
            until,
        });
    }
    Ok(out)
}
