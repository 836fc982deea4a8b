//! Kaleyra (India DLT): `POST /v1/{sid}/messages` with the `api-key` header, sender and template.

use async_trait::async_trait;
use fastauth_core::phone::PhoneNumber;
use fastauth_core::ports::SmsSender;
use fastauth_core::secret::Secret;

pub struct Kaleyra {
    pub http: reqwest::Client,
    pub api_key: Secret,
    pub sid: String,
    pub sender_id: String,
    pub template_id: Option<String>,
    pub message_template: String,
    pub base: String,
}

#[async_trait]
impl SmsSender for Kaleyra {
    fn name(&self) -> &'static str {
        "kaleyra"
    }

    async fn send_code(&self, to: &PhoneNumber, code: &str) -> anyhow::Result<()> {
        let url = format!("{}/v1/{}/messages", self.base, self.sid);
        let body = self.message_template.replace("{otp}", code);
        let mut form =
            vec![("to", to.as_str()), ("sender", self.sender_id.as_str()), ("type", "OTP"), ("body", body.as_str())];
        if let Some(template) = &self.template_id {
            form.push(("template_id", template.as_str()));
        }
        let response = self.http.post(url).header("api-key", self.api_key.expose()).form(&form).send().await?;
        super::expect_success(response, "kaleyra").await.map(drop)
    }
}
