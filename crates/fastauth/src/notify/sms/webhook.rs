//! A webhook of the operator's: `POST {"to","body","code"}`, signed as Standard Webhooks.

use async_trait::async_trait;
use fastauth_core::phone::PhoneNumber;
use fastauth_core::ports::SmsSender;

use crate::signature::WebhookSecrets;

pub struct Webhook {
    pub http: reqwest::Client,
    pub url: String,
    pub secrets: WebhookSecrets,
}

#[async_trait]
impl SmsSender for Webhook {
    fn name(&self) -> &'static str {
        "webhook"
    }

    async fn send_code(&self, to: &PhoneNumber, code: &str) -> anyhow::Result<()> {
        let body = serde_json::to_vec(
            &serde_json::json!({ "to": to, "body": format!("Your verification code is {code}"), "code": code }),
        )?;
        let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
        let mut request = self.http.post(&self.url).header("content-type", "application/json");
        for (name, value) in self.secrets.headers(&id, time::OffsetDateTime::now_utc().unix_timestamp(), &body) {
            request = request.header(name, value);
        }
        let response = request.body(body).send().await?;
        super::expect_success(response, "webhook").await.map(drop)
    }
}
