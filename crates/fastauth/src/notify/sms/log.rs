//! Codes printed to the log (SMS_PROVIDER=log, the default for local development).

use async_trait::async_trait;
use fastauth_core::phone::PhoneNumber;
use fastauth_core::ports::SmsSender;

pub struct LogSms;

#[async_trait]
impl SmsSender for LogSms {
    fn name(&self) -> &'static str {
        "log"
    }

    async fn send_code(&self, to: &PhoneNumber, code: &str) -> anyhow::Result<()> {
        tracing::info!(target: "fastauth::sms", %to, code, "SMS code (log transport; set SMS_PROVIDER to send)");
        Ok(())
    }
}
