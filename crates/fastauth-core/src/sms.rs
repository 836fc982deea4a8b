//! SMS_PROVIDER as a failover chain: providers are tried in order, and the one that sent a code
//! is remembered so that a provider checking its own codes (Twilio Verify) also checks it.

use std::sync::Arc;

use crate::error::Error;
use crate::phone::PhoneNumber;
use crate::ports::SmsSender;

pub struct SmsChain {
    senders: Vec<Arc<dyn SmsSender>>,
}

impl SmsChain {
    pub fn new(senders: Vec<Arc<dyn SmsSender>>) -> Self {
        Self { senders }
    }

    /// Sends through the first provider that accepts; returns its name.
    pub async fn send(&self, to: &PhoneNumber, code: &str) -> Result<&'static str, Error> {
        for sender in &self.senders {
            match sender.send_code(to, code).await {
                Ok(()) => return Ok(sender.name()),
                // The error names the provider's answer, never the code or the credentials.
                Err(e) => tracing::warn!(provider = sender.name(), error = %e, "SMS provider failed; trying the next"),
            }
        }
        Err(Error::DeliveryFailed)
    }

    /// The provider called `name`, if it checks its own codes.
    pub fn checker(&self, name: &str) -> Option<&Arc<dyn SmsSender>> {
        self.senders.iter().find(|s| s.name() == name && s.checks_codes())
    }
}
