//! One-time codes by email: six digits from a CSPRNG, stored keyed-hashed, single use.
//! Requests and checks behave alike for known and unknown addresses, so neither the answers
//! nor the limits tell whether an account exists.

use aws_lc_rs::hmac;

use crate::auth::{Identifier, IssuedTokens, Opening};
use crate::email::Email;
use crate::error::Constraint;
use crate::error::Error;
use crate::ids::ClientId;
use crate::model::UserStatus;
use crate::password::fill_random;
use crate::phone::PhoneNumber;
use crate::ports::{Mail, OtpCheck, OtpIssue, OtpTarget};
use crate::service::{Core, RequestMeta};

/// A new code for a destination at most this often.
pub const COOLDOWN: time::Duration = time::Duration::seconds(60);
/// At most this many codes per destination per hour.
pub const HOURLY_MAX: i64 = 5;
/// Wrong tries that burn a code.
pub const MAX_TRIES: i64 = 5;
/// SMS pumping: when fewer than 1 in 5 of the last 200 codes sent to a prefix were verified,
/// sending there pauses for an hour after the newest.
const CONVERSION_WINDOW: i64 = 200;
const CONVERSION_MIN_PERCENT: i64 = 20;

const BUILT_IN_OTP: &str = "<p>Your sign-in code is <strong>{otp}</strong>.</p><p>It works once. If you did not ask for it, ignore this message.</p>";

/// Six decimal digits, uniformly drawn.
fn new_code() -> String {
    loop {
        let mut buf = [0u8; 4];
        fill_random(&mut buf);
        let n = u32::from_le_bytes(buf);
        // Reject the top of the range so that every code is equally likely.
        if n < 4_294_000_000 {
            return format!("{:06}", n % 1_000_000);
        }
    }
}

/// Checks the shape of a code typed by a person.
pub fn parse_code(raw: &str) -> Result<String, Error> {
    let code = raw.trim();
    if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(code.to_owned())
    } else {
        Err(Error::invalid("otp", "must be 6 digits"))
    }
}

impl Core {
    /// HMAC of the code bound to its destination, channel and app, under a key not kept in the
    /// database, so a stolen table does not give the codes away.
    fn otp_hash(&self, target: &OtpTarget, code: &str) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.settings.otp_key);
        let message = format!("{}\n{}\n{}\n{}", target.channel, target.client_id, target.destination, code);
        hmac::sign(&key, message.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }

    fn email_target(email: &Email, client: &ClientId) -> OtpTarget {
        OtpTarget { destination: email.to_string(), channel: "email", client_id: client.to_string() }
    }

    /// Stores a new code for `target` (voiding the previous one) unless the 60 s or hourly limit
    /// says no: then 429 with the time to wait.
    async fn issue_code(&self, target: &OtpTarget, stored_hash: &str, meta: &RequestMeta) -> Result<(), Error> {
        let expires = meta.now + self.settings.otp_ttl;
        match self.store.issue_otp(target, stored_hash, meta.now, expires, COOLDOWN, HOURLY_MAX).await? {
            OtpIssue::Issued => Ok(()),
            OtpIssue::Limited { retry_after_secs } => {
                Err(Error::RateLimited { retry_after: std::time::Duration::from_secs(retry_after_secs.max(1) as u64) })
            }
        }
    }

    /// Sends a code to a known, active account's stored address; for others a code nobody can
    /// match is recorded, so that limits count alike.
    pub async fn request_email_otp(&self, email: &Email, client: &ClientId, meta: &RequestMeta) -> Result<(), Error> {
        self.application(client).await?;
        let user = self.store.find_user_by_email(email).await?.filter(|u| u.status == UserStatus::Active);
        let target = Self::email_target(email, client);
        let code = new_code();
        let stored = match &user {
            Some(_) => self.otp_hash(&target, &code),
            None => self.otp_hash(&target, &format!("unmatchable-{}", uuid::Uuid::new_v4())),
        };
        self.issue_code(&target, &stored, meta).await?;
        let Some(to) = user.and_then(|u| u.email) else { return Ok(()) };
        let template = self.settings.otp_email_template.as_deref().unwrap_or(BUILT_IN_OTP);
        let minutes = self.settings.otp_ttl.whole_minutes();
        let mail = Mail {
            to,
            subject: "Your sign-in code".into(),
            text: format!("Your sign-in code is {code}. It works once, for {minutes} minutes."),
            html: template.replace("{otp}", &code),
        };
        self.send_later(mail);
        Ok(())
    }

    /// Checks a code and signs in. The first proof of a never-verified email ends every other
    /// session of the account (someone may have signed up with it before its owner).
    pub async fn verify_email_otp(
        &self,
        email: &Email,
        code: &str,
        client: &ClientId,
        meta: &RequestMeta,
    ) -> Result<IssuedTokens, Error> {
        self.application(client).await?;
        let identifier = Identifier::Email(email.clone());
        self.begin_attempt(&identifier, meta).await?;
        let target = Self::email_target(email, client);
        let check = self.store.check_otp(&target, &self.otp_hash(&target, code), meta.now, MAX_TRIES).await?;
        let user = match (&check, self.store.find_user_by_email(email).await?) {
            (OtpCheck::Verified, None) => {
                self.confirm_identifier_change(&Identifier::Email(email.clone()), meta).await?
            }
            (_, user) => user,
        };
        let user = user.filter(|u| u.status == UserStatus::Active);
        let (OtpCheck::Verified, Some(user)) = (check, user) else {
            self.audit("otp.failed", meta, None, None, serde_json::json!({ "channel": "email", "client_id": client }))
                .await;
            return Err(Error::InvalidOtp);
        };
        self.secret_accepted(&identifier).await?;
        if self.store.mark_email_verified(&user.id, meta.now).await? {
            self.store.revoke_user_sessions(&user.id, None, meta.now).await?;
        }
        self.open_session(&user, client, meta, Opening::SignIn("email_otp")).await
    }
}

/// Which phone endpoint is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneFlow {
    /// `/…-otp-phone`: registered numbers only (others get the same answer and no SMS).
    Registered,
    /// `/…-otp-mobile`: any number; an unknown one becomes a new passwordless user.
    Mobile,
}

/// Tokens from a phone code, and whether the account was just created.
#[derive(Debug)]
pub struct PhoneSignIn {
    pub tokens: IssuedTokens,
    pub new_user: bool,
}

impl Core {
    fn phone_target(phone: &PhoneNumber, client: &ClientId) -> OtpTarget {
        OtpTarget { destination: phone.to_string(), channel: "sms", client_id: client.to_string() }
    }

    /// Sends a code by SMS. Limits count alike for every number; with `Registered`, unknown
    /// numbers are recorded but get no SMS.
    pub async fn request_phone_otp(
        &self,
        phone: &PhoneNumber,
        client: &ClientId,
        flow: PhoneFlow,
        meta: &RequestMeta,
    ) -> Result<(), Error> {
        self.application(client).await?;
        if self.test_identity(phone, client, meta).is_some() {
            // Nothing is sent to a test identity; its fixed code is the only one accepted.
            let details = serde_json::json!({ "action": "request", "phone": phone });
            self.audit("otp.test_identity_used", meta, None, None, details).await;
            return Ok(());
        }
        self.limit_phones_per_ip(phone, meta).await?;
        self.check_sms_guards(phone, meta).await?;
        let known = self.store.find_user_by_phone(phone).await?.is_some_and(|u| u.status == UserStatus::Active);
        let sends = known || flow == PhoneFlow::Mobile;
        let target = Self::phone_target(phone, client);
        let code = new_code();
        let stored = if sends {
            self.otp_hash(&target, &code)
        } else {
            self.otp_hash(&target, &format!("unmatchable-{}", uuid::Uuid::new_v4()))
        };
        self.issue_code(&target, &stored, meta).await?;
        match (sends, flow) {
            // Every number gets a code here, so a failed send tells the caller nothing new.
            (true, PhoneFlow::Mobile) => {
                let provider = self.sms.send(phone, &code).await?;
                self.store.set_otp_provider(&target, provider, meta.now).await?;
            }
            // Only registered numbers get one: a failure must look like a success.
            (true, PhoneFlow::Registered) => self.send_sms_later(target, phone.clone(), code, meta.now),
            (false, _) => {}
        }
        Ok(())
    }

    /// Sends in the background and records the provider; a failure is logged without the code.
    fn send_sms_later(&self, target: OtpTarget, phone: PhoneNumber, code: String, now: time::OffsetDateTime) {
        let core = self.clone();
        self.after_answer(async move {
            match core.sms.send(&phone, &code).await {
                Ok(provider) => {
                    if let Err(e) = core.store.set_otp_provider(&target, provider, now).await {
                        tracing::warn!(error = %e, "could not record which provider sent a code");
                    }
                }
                Err(_) => tracing::error!("no SMS provider could send a code to a registered number"),
            }
        });
    }

    /// SMS-pumping guards, checked alike for every number: 429 `sms_limit` and an audit event.
    async fn check_sms_guards(&self, phone: &PhoneNumber, meta: &RequestMeta) -> Result<(), Error> {
        let s = &self.settings;
        let hour = time::Duration::HOUR;
        let reason =
            if s.sms_countries.as_ref().is_some_and(|allowed| phone.region().is_none_or(|r| !allowed.contains(&r))) {
                Some("country")
            } else if let Some(limit) = s.sms_daily_limit
                && self.store.count_sms_sent(meta.now - time::Duration::DAY, None).await? >= limit
            {
                Some("daily_limit")
            } else if let Some(limit) = s.sms_prefix_hourly_limit
                && self.store.count_sms_sent(meta.now - hour, Some(&phone.prefix())).await? >= limit
            {
                Some("prefix_hourly_limit")
            } else {
                None
            };
        let blocked = match reason {
            Some(reason) => Some((reason, hour)),
            None => self.pumped_prefix_wait(phone, meta).await?.map(|wait| ("conversion", wait)),
        };
        let Some((reason, wait)) = blocked else { return Ok(()) };
        let details = serde_json::json!({ "reason": reason, "prefix": phone.prefix() });
        self.audit("sms.limit_hit", meta, None, None, details).await;
        let retry_after = std::time::Duration::from_secs(wait.whole_seconds().max(1) as u64);
        Err(Error::SmsLimit { retry_after })
    }

    /// How long sending to the number's prefix stays paused: fewer than 1 in 5 of its last 200
    /// codes were verified, until an hour after the newest.
    async fn pumped_prefix_wait(
        &self,
        phone: &PhoneNumber,
        meta: &RequestMeta,
    ) -> Result<Option<time::Duration>, Error> {
        let recent = self.store.sms_conversion(&phone.prefix(), CONVERSION_WINDOW).await?;
        let low = recent.sent >= CONVERSION_WINDOW && recent.verified * 100 < recent.sent * CONVERSION_MIN_PERCENT;
        let resumes = recent.newest.map(|newest| newest + time::Duration::HOUR);
        Ok(resumes.filter(|at| low && meta.now < *at).map(|at| at - meta.now))
    }

    /// Checks an SMS code (with the provider when it made the code) and signs in; `Mobile`
    /// creates a passwordless, phone-verified user for an unknown number.
    pub async fn verify_phone_otp(
        &self,
        phone: &PhoneNumber,
        code: &str,
        client: &ClientId,
        flow: PhoneFlow,
        meta: &RequestMeta,
    ) -> Result<PhoneSignIn, Error> {
        self.application(client).await?;
        let identifier = Identifier::Phone(phone.clone());
        self.begin_attempt(&identifier, meta).await?;
        if let Some(identity) = self.test_identity(phone, client, meta) {
            let right = identity.code.expose() == code;
            return self.verify_test_identity(right, phone, client, flow, meta).await;
        }
        let target = Self::phone_target(phone, client);
        let provider = self.store.live_otp_provider(&target, meta.now, MAX_TRIES).await?;
        let check = match provider.as_deref().and_then(|p| self.sms.checker(p)) {
            Some(checker) => {
                let approved = checker.check_code(phone, code).await.map_err(|e| {
                    tracing::warn!(provider = checker.name(), error = %e, "SMS provider could not check a code");
                    Error::DeliveryFailed
                })?;
                self.store.settle_otp(&target, approved, meta.now, MAX_TRIES).await?
            }
            None => self.store.check_otp(&target, &self.otp_hash(&target, code), meta.now, MAX_TRIES).await?,
        };
        if check != OtpCheck::Verified {
            self.audit("otp.failed", meta, None, None, serde_json::json!({ "channel": "sms", "client_id": client }))
                .await;
            return Err(Error::InvalidOtp);
        }
        self.secret_accepted(&identifier).await?;
        let existing = match self.store.find_user_by_phone(phone).await? {
            Some(user) => Some(user),
            None => self.confirm_identifier_change(&Identifier::Phone(phone.clone()), meta).await?,
        };
        let (user, new_user) = match existing {
            Some(user) if user.status == UserStatus::Active => (user, false),
            Some(_) => return Err(Error::InvalidOtp),
            None if flow == PhoneFlow::Mobile => (self.create_phone_user(phone, meta).await?, true),
            None => return Err(Error::InvalidOtp),
        };
        if self.store.mark_phone_verified(&user.id, meta.now).await? && !new_user {
            self.store.revoke_user_sessions(&user.id, None, meta.now).await?;
        }
        let tokens = self.open_session(&user, client, meta, Opening::SignIn("sms_otp")).await?;
        Ok(PhoneSignIn { tokens, new_user })
    }

    /// Sends a code to the email or phone a signed-in user asked to switch to, and a notice to the
    /// address it replaces. An address another account holds is 409.
    pub(crate) async fn start_identifier_change(
        &self,
        caller: &crate::auth::Caller,
        identifier: &Identifier,
        meta: &RequestMeta,
    ) -> Result<(), Error> {
        let client = &caller.client_id;
        let taken = match identifier {
            Identifier::Email(e) => self.store.find_user_by_email(e).await?.map(|_| Constraint::UserEmail),
            Identifier::Phone(p) => self.store.find_user_by_phone(p).await?.map(|_| Constraint::UserPhone),
        };
        if let Some(constraint) = taken {
            return Err(Error::Conflict(constraint));
        }
        self.store.set_pending_identifier(&caller.user.id, identifier, meta.now).await?;
        let target = match identifier {
            Identifier::Email(e) => Self::email_target(e, client),
            Identifier::Phone(p) => Self::phone_target(p, client),
        };
        let code = new_code();
        self.issue_code(&target, &self.otp_hash(&target, &code), meta).await?;
        match identifier {
            Identifier::Email(email) => {
                let mail = Mail {
                    to: email.clone(),
                    subject: "Confirm your new email".into(),
                    text: format!("Your confirmation code is {code}. Enter it to make this your account's email."),
                    html: format!("<p>Your confirmation code is <strong>{code}</strong>.</p>"),
                };
                self.mailer.send(&mail).await.map_err(|e| {
                    tracing::error!(error = %e, "could not send an email confirmation code");
                    Error::DeliveryFailed
                })?;
            }
            Identifier::Phone(phone) => {
                let provider = self.sms.send(phone, &code).await?;
                self.store.set_otp_provider(&target, provider, meta.now).await?;
            }
        }
        self.notify(&caller.user, "A change of your sign-in address was requested", "Someone signed in to your account asked to change its email or phone number. If it was not you, reset your password at once.");
        Ok(())
    }

    /// Makes a pending email or phone active once its code checked out; notices go to the old
    /// and the new address.
    async fn confirm_identifier_change(
        &self,
        identifier: &Identifier,
        meta: &RequestMeta,
    ) -> Result<Option<crate::model::User>, Error> {
        let Some((user, previous)) = self.store.confirm_pending_identifier(identifier, meta.now).await? else {
            return Ok(None);
        };
        let kind = match identifier {
            Identifier::Email(_) => "email.changed",
            Identifier::Phone(_) => "phone.changed",
        };
        self.audit(kind, meta, Some(&user.id), Some(&user.id), serde_json::json!({ "by": "owner", "confirmed": true }))
            .await;
        let text = "The sign-in address of your account was changed. If it was not you, contact support at once.";
        self.notify(&user, "Your sign-in address was changed", text);
        if let Some(old) = previous.and_then(|p| Email::parse(&p).ok()) {
            self.send_later(Mail::notice(old, "Your sign-in address was changed", text));
        }
        Ok(Some(user))
    }

    /// The test identity for this number and app, if one is configured and not past its date.
    fn test_identity(
        &self,
        phone: &PhoneNumber,
        client: &ClientId,
        meta: &RequestMeta,
    ) -> Option<&crate::service::TestIdentity> {
        self.settings.test_identities.iter().find(|t| {
            &t.phone == phone
                && t.app.as_ref().is_none_or(|a| a == client)
                && t.until.is_none_or(|d| meta.now.date() <= d)
        })
    }

    async fn verify_test_identity(
        &self,
        right: bool,
        phone: &PhoneNumber,
        client: &ClientId,
        flow: PhoneFlow,
        meta: &RequestMeta,
    ) -> Result<PhoneSignIn, Error> {
        let details = serde_json::json!({ "action": "verify", "phone": phone, "client_id": client, "accepted": right });
        self.audit("otp.test_identity_used", meta, None, None, details).await;
        if !right {
            return Err(Error::InvalidOtp);
        }
        self.secret_accepted(&Identifier::Phone(phone.clone())).await?;
        let (user, new_user) = match self.store.find_user_by_phone(phone).await? {
            Some(user) if user.status == UserStatus::Active => (user, false),
            None if flow == PhoneFlow::Mobile => (self.create_phone_user(phone, meta).await?, true),
            _ => return Err(Error::InvalidOtp),
        };
        let tokens = self.open_session(&user, client, meta, Opening::TestIdentity).await?;
        Ok(PhoneSignIn { tokens, new_user })
    }

    async fn create_phone_user(&self, phone: &PhoneNumber, meta: &RequestMeta) -> Result<crate::model::User, Error> {
        let user = crate::model::NewUser {
            id: crate::ids::UserId::generate(),
            firstname: String::new(),
            lastname: String::new(),
            email: None,
            phone_number: Some(phone.clone()),
            password_hash: None,
            source_profile: None,
            email_verified_at: None,
            phone_verified_at: Some(meta.now),
            role_ids: vec![self.default_role_id().await?],
        };
        let details = serde_json::json!({ "via": "verify-otp-mobile" });
        let event = self.audit_event("user.created", meta, None, Some(&user.id), details);
        Ok(self.store.create_user_with_roles(&user, meta.now, Some(&event)).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_vary() {
        let codes: std::collections::BTreeSet<String> = (0..200).map(|_| new_code()).collect();
        assert!(codes.iter().all(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit())));
        assert!(codes.len() > 190);
        assert!(parse_code(" 012345 ").is_ok());
        assert!(parse_code("12345").is_err() && parse_code("12345a").is_err());
    }
}
