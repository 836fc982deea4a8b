//! What the use cases need from the outside world. The store has two implementations
//! (PostgreSQL, SQLite); every method is one atomic change or one read.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::auth::Identifier;
use crate::email::Email;
use crate::error::StoreError;
use crate::ids::{ClientId, RoleId, SessionId, UserId};
use crate::model::*;
use crate::phone::PhoneNumber;

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Inserts a user and its role assignments and records `event`, in one transaction.
    async fn create_user_with_roles(
        &self,
        user: &NewUser,
        now: OffsetDateTime,
        event: Option<&NewAuditEvent>,
    ) -> StoreResult<User>;
    /// The same with the new user's first `session`, in one transaction, so that a sign-up
    /// leaves either an account that is signed in or nothing; returns the session with the
    /// user's roles in its application, read in that transaction.
    async fn create_user_with_session(
        &self,
        user: &NewUser,
        now: OffsetDateTime,
        event: Option<&NewAuditEvent>,
        session: &NewSession,
    ) -> StoreResult<(User, Session, Vec<Role>)>;
    async fn find_user(&self, id: &UserId) -> StoreResult<Option<User>>;
    async fn find_user_by_email(&self, email: &Email) -> StoreResult<Option<User>>;
    async fn find_user_by_phone(&self, phone: &PhoneNumber) -> StoreResult<Option<User>>;
    /// Replaces the password hash (an upgrade at sign-in or a new password).
    async fn set_password_hash(&self, id: &UserId, hash: &str, now: OffsetDateTime) -> StoreResult<()>;
    async fn set_user_status(&self, id: &UserId, status: UserStatus, now: OffsetDateTime) -> StoreResult<()>;
    /// Adds a role to a user if not already held.
    async fn grant_role(&self, id: &UserId, role: RoleId) -> StoreResult<()>;
    /// Up to `limit` users matching `filter` with ids after `after`, in id order.
    async fn list_users(&self, filter: &UserFilter, after: Option<&UserId>, limit: u32) -> StoreResult<Vec<User>>;
    async fn count_users(&self, filter: &UserFilter) -> StoreResult<i64>;
    /// Every role assigned to these users (active or not), as (user, role) pairs.
    async fn roles_of_users(&self, users: &[UserId]) -> StoreResult<Vec<(UserId, Role)>>;
    /// Applies `changes` in one transaction (roles replaced, sessions ended on disable).
    async fn update_user(&self, id: &UserId, changes: &UserChanges, now: OffsetDateTime) -> StoreResult<User>;
    /// Deletes the user with its sessions and assignments; audit rows keep the bare id.
    async fn delete_user(&self, id: &UserId) -> StoreResult<Option<User>>;
    async fn user_ids_with_role(&self, role: RoleId) -> StoreResult<Vec<UserId>>;
    /// Records an email or phone the user asked to switch to (replacing an earlier request).
    async fn set_pending_identifier(
        &self,
        id: &UserId,
        identifier: &Identifier,
        now: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Makes a pending email or phone the user's own, verified, in one transaction; returns the
    /// user and the identifier it replaces. `None` if nobody asked to switch to it.
    async fn confirm_pending_identifier(
        &self,
        identifier: &Identifier,
        now: OffsetDateTime,
    ) -> StoreResult<Option<(User, Option<String>)>>;
    /// Marks the phone number verified; true if it had never been.
    async fn mark_phone_verified(&self, id: &UserId, now: OffsetDateTime) -> StoreResult<bool>;
    /// Marks the email verified; true if it had never been.
    async fn mark_email_verified(&self, id: &UserId, now: OffsetDateTime) -> StoreResult<bool>;
    /// Sets a new password hash and ends every session but `keep`, in one transaction.
    async fn change_password(
        &self,
        id: &UserId,
        hash: &str,
        keep: Option<&SessionId>,
        now: OffsetDateTime,
    ) -> StoreResult<()>;
}

#[async_trait]
pub trait ResetTokenStore: Send + Sync {
    async fn create_reset_token(
        &self,
        user: &UserId,
        hash: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// The user of an unused, unexpired token.
    async fn find_reset_token(&self, hash: &str, now: OffsetDateTime) -> StoreResult<Option<UserId>>;
    /// Uses the token once: sets the password, marks the email verified (the link proved it) and
    /// ends every session, in one transaction. `None` if the token was used, expired or unknown;
    /// of concurrent callers with one token exactly one succeeds.
    async fn consume_reset_token(
        &self,
        hash: &str,
        password_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<UserId>>;
}

#[async_trait]
pub trait RoleStore: Send + Sync {
    /// Creates each global role that does not exist yet; existing ones are left alone.
    async fn ensure_global_roles(&self, roles: &[NewRole]) -> StoreResult<()>;
    /// The roles with these ids (any that exist, active or not).
    async fn find_roles(&self, ids: &[RoleId]) -> StoreResult<Vec<Role>>;
    async fn find_role_by_name(&self, name: &str, application: Option<&ClientId>) -> StoreResult<Option<Role>>;
    /// The active roles that apply to `user` in `app`: global ones and that app's.
    async fn roles_of_user(&self, user: &UserId, app: &ClientId) -> StoreResult<Vec<Role>>;
    /// Active roles, all or one application's.
    async fn list_roles(&self, application: Option<&ClientId>) -> StoreResult<Vec<Role>>;
    /// Creates all the roles or none.
    async fn create_roles(&self, roles: &[NewRole], now: OffsetDateTime) -> StoreResult<Vec<Role>>;
    async fn update_role(&self, id: RoleId, changes: &RoleChanges, now: OffsetDateTime) -> StoreResult<Role>;
    /// Replaces the permissions of every listed role, or of none (`NotFound` if one is missing).
    async fn replace_role_permissions(
        &self,
        changes: &[(RoleId, Vec<String>)],
        now: OffsetDateTime,
    ) -> StoreResult<Vec<Role>>;
    async fn set_role_active(&self, id: RoleId, active: bool, now: OffsetDateTime) -> StoreResult<Role>;
    /// Applies a roles plan in one transaction.
    async fn apply_role_changes(&self, changes: &[RoleChange], now: OffsetDateTime) -> StoreResult<()>;
    /// Every role, active or not.
    async fn all_roles(&self) -> StoreResult<Vec<Role>>;
}

#[async_trait]
pub trait AppStore: Send + Sync {
    async fn ensure_application(&self, app: &Application) -> StoreResult<()>;
    async fn find_application(&self, id: &ClientId) -> StoreResult<Option<Application>>;
    /// `Conflict(ApplicationId)` if the id is taken.
    async fn create_application(&self, app: &Application) -> StoreResult<()>;
    async fn list_applications(&self) -> StoreResult<Vec<Application>>;
}

#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Opens a session with its first refresh token, ends the least recently used ones beyond
    /// `max_per_user` and records `event`, in one transaction; returns the session with its
    /// user's live roles in its application, read in that transaction.
    async fn create_session(
        &self,
        session: &NewSession,
        max_per_user: u32,
        event: Option<&NewAuditEvent>,
    ) -> StoreResult<(Session, Vec<Role>)>;
    /// Rotates `old_hash` to `new_hash` if it is the session's current token; exactly one of
    /// several concurrent callers with the same token gets `Rotated`.
    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new_hash: &str,
        now: OffsetDateTime,
        idle_expires_at: OffsetDateTime,
    ) -> StoreResult<Rotation>;
    /// The session with its user and the user's active roles for its application, in one read.
    async fn find_session_with_user(&self, id: &SessionId) -> StoreResult<Option<SessionWithUser>>;
    /// The user's live sessions, most recently used first.
    async fn list_live_sessions(&self, user: &UserId, now: OffsetDateTime) -> StoreResult<Vec<Session>>;
    /// Ends one of `user`'s sessions; false if it is not theirs or already ended.
    async fn revoke_session(&self, user: &UserId, id: &SessionId, now: OffsetDateTime) -> StoreResult<bool>;
    /// Ends a session whose rotated refresh token came back, and records
    /// `session.reuse_detected`, in one transaction; false if it had already ended.
    async fn revoke_reused_session(&self, user: &UserId, id: &SessionId, now: OffsetDateTime) -> StoreResult<bool>;
    /// Ends all of `user`'s sessions but `keep`; returns how many ended.
    async fn revoke_user_sessions(
        &self,
        user: &UserId,
        keep: Option<&SessionId>,
        now: OffsetDateTime,
    ) -> StoreResult<u64>;
}

#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Adds a signing key and retires the others from signing, in one transaction.
    async fn rotate_signing_key(&self, key: &SigningKeyRecord, now: OffsetDateTime) -> StoreResult<()>;
    /// Keys not revoked, newest first.
    async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>>;
    /// Withdraws a key at once; false if there is no such unrevoked key.
    async fn revoke_signing_key(&self, kid: &str, now: OffsetDateTime) -> StoreResult<bool>;
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn record_audit(&self, event: &NewAuditEvent) -> StoreResult<()>;
    /// Events newest first, filtered.
    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEvent>>;
}

/// The event outbox. Events are written by the store itself, in the transaction of the change
/// they describe (user and role changes, refresh-token reuse); these methods deliver them.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Claims or renews the right to deliver to `endpoint` until `until`; false while another
    /// instance holds it. An endpoint seen for the first time starts after the existing events.
    async fn lease_endpoint(
        &self,
        endpoint: &str,
        holder: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> StoreResult<bool>;
    /// Up to `limit` events `endpoint` has not acknowledged, oldest first.
    async fn undelivered_events(&self, endpoint: &str, limit: u32) -> StoreResult<Vec<OutboxEvent>>;
    async fn mark_delivered(&self, endpoint: &str, event_id: i64, now: OffsetDateTime) -> StoreResult<()>;
}

/// Where uploaded images go: a local directory or an S3-compatible bucket.
#[async_trait]
pub trait Blobs: Send + Sync {
    /// Stores `bytes` under `key` and returns the URL clients fetch it from.
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> StoreResult<String>;
    /// Deletes the object `url` points to, if it is one of ours (other URLs are left alone).
    async fn delete_url(&self, url: &str) -> StoreResult<()>;
}

/// Where and how a one-time code goes: the address, `email` or `sms`, and the app asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtpTarget {
    pub destination: String,
    pub channel: &'static str,
    pub client_id: String,
}

/// The outcome of asking for a new code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OtpIssue {
    Issued,
    /// Too soon after the last code, or too many this hour.
    Limited {
        retry_after_secs: i64,
    },
}

/// Recent SMS codes to one prefix and how many were verified (the SMS-pumping signal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsConversion {
    pub sent: i64,
    pub verified: i64,
    pub newest: Option<OffsetDateTime>,
}

/// The outcome of checking a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OtpCheck {
    /// Right code: it is now consumed.
    Verified,
    /// Wrong code, or none live (expired, used, voided, or out of tries).
    Rejected,
}

#[async_trait]
pub trait OtpStore: Send + Sync {
    /// Voids the destination's live codes and stores a new one, unless the last code is younger
    /// than `cooldown` or `hourly_max` were issued in the past hour.
    async fn issue_otp(
        &self,
        target: &OtpTarget,
        code_hash: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
        cooldown: time::Duration,
        hourly_max: i64,
    ) -> StoreResult<OtpIssue>;
    /// Consumes the live code if `code_hash` matches, else counts a wrong try against it; at
    /// most `max_attempts` tries reach a code, and of concurrent right answers one wins.
    async fn check_otp(
        &self,
        target: &OtpTarget,
        code_hash: &str,
        now: OffsetDateTime,
        max_attempts: i64,
    ) -> StoreResult<OtpCheck>;
    /// SMS actually sent since `since`, to numbers starting with `prefix` if given.
    async fn count_sms_sent(&self, since: OffsetDateTime, prefix: Option<&str>) -> StoreResult<i64>;
    /// Of the last `window` SMS codes sent to numbers starting with `prefix`: how many were
    /// sent, how many verified, and when the newest went out.
    async fn sms_conversion(&self, prefix: &str, window: i64) -> StoreResult<SmsConversion>;
    /// Records which SMS provider sent the live code.
    async fn set_otp_provider(&self, target: &OtpTarget, provider: &str, now: OffsetDateTime) -> StoreResult<()>;
    /// The provider that sent the live code, if there is a live code and it was recorded.
    async fn live_otp_provider(
        &self,
        target: &OtpTarget,
        now: OffsetDateTime,
        max_attempts: i64,
    ) -> StoreResult<Option<String>>;
    /// For codes a provider checked itself: consumes the live code if `approved`, else counts a
    /// wrong try.
    async fn settle_otp(
        &self,
        target: &OtpTarget,
        approved: bool,
        now: OffsetDateTime,
        max_attempts: i64,
    ) -> StoreResult<OtpCheck>;
}

/// Sends SMS: our code through a messaging API, or the provider's own code (Twilio Verify).
#[async_trait]
pub trait SmsSender: Send + Sync {
    fn name(&self) -> &'static str;
    /// True when the provider makes and checks the code itself; `code` is then ignored.
    fn checks_codes(&self) -> bool {
        false
    }
    async fn send_code(&self, to: &PhoneNumber, code: &str) -> anyhow::Result<()>;
    /// Asks the provider whether `code` is right (only for providers that check codes).
    async fn check_code(&self, _to: &PhoneNumber, _code: &str) -> anyhow::Result<bool> {
        Ok(false)
    }
}

/// A message to one address.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Email,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Mail {
    /// A plain notice: the same text as text and as HTML.
    pub fn notice(to: Email, subject: &str, text: &str) -> Self {
        Self { to, subject: subject.to_owned(), text: text.to_owned(), html: format!("<p>{text}</p>") }
    }
}

/// Sends email: SMTP, or the log in development.
#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, mail: &Mail) -> anyhow::Result<()>;
}

/// Everything fastauth keeps.
#[async_trait]
pub trait Store:
    UserStore + RoleStore + AppStore + SessionStore + KeyStore + AuditStore + ResetTokenStore + OtpStore + OutboxStore
{
    /// Applies pending migrations.
    async fn migrate(&self) -> StoreResult<()>;
    /// Deletes audit rows older than `audit_before`, and codes, reset tokens, sessions and
    /// delivered events that expired or ended before `expired_before`; returns the rows deleted.
    async fn purge(&self, audit_before: OffsetDateTime, expired_before: OffsetDateTime) -> StoreResult<u64>;
    /// Moves SQLite's write-ahead log into the database, beside the writes rather than in
    /// one (called every second); nothing on PostgreSQL.
    async fn checkpoint(&self) -> StoreResult<()>;
    /// A cheap round trip, for readiness.
    async fn ping(&self) -> StoreResult<()>;
}
