//! SMS providers, each a client of the provider's HTTP API with an overridable base URL.

mod kaleyra;
mod log;
mod twilio;
mod twilio_verify;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use fastauth_core::ports::SmsSender;

use crate::config::sms::SmsProvider;
use crate::signature::WebhookSecrets;

/// Builds the senders of the chain, in order.
pub fn senders(providers: &[SmsProvider], secrets: &WebhookSecrets) -> anyhow::Result<Vec<Arc<dyn SmsSender>>> {
    // Redirects are not followed: a provider answering with one has not taken the message.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    Ok(providers
        .iter()
        .map(|p| -> Arc<dyn SmsSender> {
            match p.clone() {
                SmsProvider::Log => Arc::new(log::LogSms),
                SmsProvider::TwilioVerify { account_sid, auth_token, service_id, base } => {
                    Arc::new(twilio_verify::TwilioVerify {
                        http: http.clone(),
                        account_sid,
                        auth_token,
                        service_id,
                        base,
                    })
                }
                SmsProvider::Twilio { account_sid, auth_token, from, base } => {
                    Arc::new(twilio::Twilio { http: http.clone(), account_sid, auth_token, from, base })
                }
                SmsProvider::Kaleyra { api_key, sid, sender_id, template_id, message_template, base } => {
                    Arc::new(kaleyra::Kaleyra {
                        http: http.clone(),
                        api_key,
                        sid,
                        sender_id,
                        template_id,
                        message_template,
                        base,
                    })
                }
                SmsProvider::Webhook { url } => {
                    Arc::new(webhook::Webhook { http: http.clone(), url, secrets: secrets.clone() })
                }
            }
        })
        .collect())
}

/// Turns a non-2xx answer into an error naming the status (never the request).
async fn expect_success(response: reqwest::Response, provider: &str) -> anyhow::Result<reqwest::Response> {
    let status = response.status();
    if status.is_success() { Ok(response) } else { anyhow::bail!("{provider} answered {status}") }
}
