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
