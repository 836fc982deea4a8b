//! Twilio Verify: Twilio makes, sends and checks the code (as FastAuthCore did).

use async_trait::async_trait;
use fastauth_core::phone::PhoneNumber;
use fastauth_core::ports::SmsSender;
use fastauth_core::secret::Secret;
use serde::Deserialize;

pub struct TwilioVerify {
    pub http: reqwest::Client,
    pub account_sid: String,
    pub auth_token: Secret,
    pub service_id: String,
    pub base: String,
}

#[derive(Deserialize)]
struct Check {
    status: String,
}

#[async_trait]
impl SmsSender for TwilioVerify {
    fn name(&self) -> &'static str {
        "twilio-verify"
    }

    fn checks_codes(&self) -> bool {
        true
    }

    async fn send_code(&self, to: &PhoneNumber, _code: &str) -> anyhow::Result<()> {
        let url = format!("{}/v2/Services/{}/Verifications", self.base, self.service_id);
        let response = self
            .http
            .post(url)
            .basic_auth(&self.account_sid, Some(self.auth_token.expose()))
            .form(&[("To", to.as_str()), ("Channel", "sms")])
            .send()
            .await?;
        super::expect_success(response, "twilio-verify").await.map(drop)
    }

    async fn check_code(&self, to: &PhoneNumber, code: &str) -> anyhow::Result<bool> {
        let url = format!("{}/v2/Services/{}/VerificationCheck", self.base, self.service_id);
        let response = self
            .http
            .post(url)
            .basic_auth(&self.account_sid, Some(self.auth_token.expose()))
            .form(&[("To", to.as_str()), ("Code", code)])
            .send()
            .await?;
        // 404: no pending verification (expired or already approved).
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(false);
        }
        let check: Check = super::expect_success(response, "twilio-verify").await?.json().await?;
        Ok(check.status == "approved")
    }
}
