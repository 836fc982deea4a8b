//! `Core`: the use cases and the ports they run on. Cheap to clone.

use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use crate::apps::KnownApps;
use crate::auth::Caller;
use crate::error::Error;
use crate::ids::UserId;
use crate::model::NewAuditEvent;
use crate::password::PasswordHasher;
use crate::permission::Permission;
use crate::phone::Region;
use crate::ports::{Blobs, Mailer, Store};
use crate::sms::SmsChain;
use crate::tokens::KeyRing;

/// The rules' knobs, read from configuration once.
#[derive(Debug, Clone)]
pub struct CoreSettings {
    pub access_ttl: Duration,
    pub refresh_idle_ttl: Duration,
    pub session_max_age: Duration,
    pub max_sessions_per_user: u32,
    /// How long a just-rotated refresh token may be presented again without revoking the
    /// session (a client's retry racing its own refresh).
    pub refresh_grace: Duration,
    pub default_role: String,
    pub require_email_verification: bool,
    pub phone_region: Option<Region>,
    /// Origins (`scheme://host[:port]`) a caller may name as `base_url` for reset links.
    pub reset_origins: Vec<String>,
    /// The reset link base when the caller names none (BASE_URL without its trailing `/`).
    pub reset_base: String,
    pub reset_ttl: Duration,
    /// EMAIL_TEMPLATE: HTML with `{set_new_password_link}`; the built-in one when `None`.
    pub reset_email_template: Option<String>,
    /// OTP_EXPIRATION_TIME.
    pub otp_ttl: Duration,
    /// OTP_EMAIL_TEMPLATE: HTML with `{otp}`; the built-in one when `None`.
    pub otp_email_template: Option<String>,
    /// SMS-pumping guards: allowed regions (`None`: all), SMS per day in total, per prefix per hour.
    pub sms_countries: Option<Vec<Region>>,
    pub sms_daily_limit: Option<i64>,
    pub sms_prefix_hourly_limit: Option<i64>,
    /// OTP_TEST_NUMBERS: fixed codes for app-store review.
    pub test_identities: Vec<TestIdentity>,
    /// The key codes are hashed with (derived from the key-encryption key or SECRET_KEY).
    pub otp_key: Vec<u8>,
}

/// A phone number with a fixed code (OTP_TEST_NUMBERS), for one app or all, until a date.
#[derive(Clone)]
pub struct TestIdentity {
    pub phone: crate::phone::PhoneNumber,
    pub code: crate::secret::Secret,
    pub app: Option<crate::ids::ClientId>,
    /// Valid through this day (UTC); past it the number behaves as any other.
    pub until: Option<time::Date>,
}

impl std::fmt::Debug for TestIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TestIdentity({}, app {:?}, until {:?})", self.phone, self.app, self.until)
    }
}

/// The use cases. Handlers call one method per request.
#[derive(Clone)]
pub struct Core {
    pub store: Arc<dyn Store>,
    pub blobs: Arc<dyn Blobs>,
    pub mailer: Arc<dyn Mailer>,
    pub sms: Arc<SmsChain>,
    pub hasher: PasswordHasher,
    /// Rate limits and failure counters (memory, Redis, or none with RATE_LIMITS=off).
    pub limiter: Arc<dyn crate::limits::Limiter>,
    pub keys: Arc<KeyRing>,
    pub settings: Arc<CoreSettings>,
    pub apps: Arc<KnownApps>,
}

/// Who is asking and from where; `now` is read once per request.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub now: OffsetDateTime,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl RequestMeta {
    pub fn at(now: OffsetDateTime) -> Self {
        Self { now, ip: None, user_agent: None }
    }
}

impl Core {
    /// `Forbidden` (and an `authz.denied` event) unless the caller holds `permission`.
    pub async fn require(&self, caller: &Caller, permission: Permission, meta: &RequestMeta) -> Result<(), Error> {
        match caller.require(permission) {
            Ok(()) => Ok(()),
            Err(_) => Err(self.deny(caller, meta, permission.as_str()).await),
        }
    }

    /// Refuses with 403 and records `authz.denied`.
    pub(crate) async fn deny(&self, caller: &Caller, meta: &RequestMeta, action: &str) -> Error {
        let details = serde_json::json!({ "action": action });
        self.audit("authz.denied", meta, Some(&caller.user.id), None, details).await;
        Error::Forbidden
    }

    /// Runs `work` in the background, starting once the answer has had time to leave: work that
    /// only known accounts cause (a mail, an SMS, a reset link) must not slow their answers.
    pub(crate) fn after_answer(&self, work: impl std::future::Future<Output = ()> + Send + 'static) {
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            work.await;
        });
    }

    /// Records an audit event. A failure is logged, not returned: the change it describes has
    /// already happened and the caller must learn its outcome.
    pub(crate) async fn audit(
        &self,
        kind: &'static str,
        meta: &RequestMeta,
        actor: Option<&UserId>,
        subject: Option<&UserId>,
        details: serde_json::Value,
    ) {
        let event = self.audit_event(kind, meta, actor, subject, details);
        if let Err(err) = self.store.record_audit(&event).await {
            tracing::warn!(kind, error = %err, "could not record audit event");
        }
    }

    /// An audit event of this request, for `audit` or for the transaction of the change it records.
    pub(crate) fn audit_event(
        &self,
        kind: &'static str,
        meta: &RequestMeta,
        actor: Option<&UserId>,
        subject: Option<&UserId>,
        details: serde_json::Value,
    ) -> NewAuditEvent {
        NewAuditEvent {
            kind,
            at: meta.now,
            actor_id: actor.cloned(),
            subject_id: subject.cloned(),
            ip: meta.ip.clone(),
            details,
        }
    }
}
