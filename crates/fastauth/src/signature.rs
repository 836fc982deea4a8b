//! Standard Webhooks signatures: `webhook-id`, `webhook-timestamp` and `webhook-signature`
//! (`v1,` + base64 HMAC-SHA256 of `id.timestamp.body`), one signature per secret for rotation.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// WEBHOOK_SECRET: space-separated `whsec_<base64>` secrets.
#[derive(Clone, Default)]
pub struct WebhookSecrets(Vec<Vec<u8>>);

impl std::fmt::Debug for WebhookSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebhookSecrets({} secret(s))", self.0.len())
    }
}

impl WebhookSecrets {
    pub fn parse(text: &str) -> Result<Self, String> {
        text.split_whitespace()
            .map(|s| {
                let b64 = s.strip_prefix("whsec_").ok_or("each secret must start with whsec_")?;
                STANDARD.decode(b64).map_err(|_| "a secret is not valid base64".to_owned())
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// The three headers for `body` sent now as message `id`.
    pub fn headers(&self, id: &str, timestamp: i64, body: &[u8]) -> Vec<(&'static str, String)> {
        let mut signed = format!("{id}.{timestamp}.").into_bytes();
        signed.extend_from_slice(body);
        let signatures: Vec<String> = self
            .0
            .iter()
            .map(|secret| {
                let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
                format!("v1,{}", STANDARD.encode(aws_lc_rs::hmac::sign(&key, &signed).as_ref()))
            })
            .collect();
        vec![
            ("webhook-id", id.to_owned()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signatures.join(" ")),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_like_the_standard_webhooks_reference() {
        // The example of the Standard Webhooks specification.
        let secrets = WebhookSecrets::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret");
        let body = br#"{"test": 2432232314}"#;
        let headers = secrets.headers("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(headers[2].1, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(WebhookSecrets::parse("nope").is_err());
    }
}
