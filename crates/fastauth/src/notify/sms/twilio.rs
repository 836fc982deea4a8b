//! Twilio Messaging: our code in a message, `POST /2010-04-01/Accounts/{sid}/Messages.json`.

use async_trait::async_trait;
use fastauth_core::phone::PhoneNumber;
use fastauth_core::ports::SmsSender;
use fastauth_core::secret::Secret;

pub struct Twilio {
    pub http: reqwest::Client,
    pub account_sid: String,
    pub auth_token: Secret,
    pub from: String,
    pub base: String,
}

#[async_trait]
impl SmsSender for Twilio {
    fn name(&self) -> &'static str {
        "twilio"
    }

    async fn send_code(&self, to: &PhoneNumber, code: &str) -> anyhow::Result<()> {
        let url = format!("{}/2010-04-01/Accounts/{}/Messages.json", self.base, self.account_sid);
        let body = format!("Your verification code is {code}");
        let response = self
            .http
            .post(url)
            .basic_auth(&self.account_sid, Some(self.auth_token.expose()))
            .form(&[("To", to.as_str()), ("From", self.from.as_str()), ("Body", body.as_str())])
            .send()
            .await?;
        super::expect_success(response, "twilio").await.map(drop)
    }
}
