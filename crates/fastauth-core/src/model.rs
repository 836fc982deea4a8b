//! The records use cases and stores exchange.

use time::OffsetDateTime;

use crate::email::Email;
use crate::ids::{ClientId, RoleId, SessionId, UserId};
use crate::phone::PhoneNumber;

/// An account.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: UserId,
    pub firstname: String,
    pub lastname: String,
    pub email: Option<Email>,
    pub phone_number: Option<PhoneNumber>,
    /// Argon2 PHC string or imported bcrypt hash; absent for passwordless users.
    pub password_hash: Option<String>,
    pub source_profile: Option<String>,
    pub status: UserStatus,
    pub email_verified_at: Option<OffsetDateTime>,
    pub phone_verified_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// 1 active, 0 disabled, as in FastAuthCore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    Disabled = 0,
    Active = 1,
}

impl UserStatus {
    pub fn from_code(code: i64) -> Self {
        if code == 1 { UserStatus::Active } else { UserStatus::Disabled }
    }

    pub fn code(self) -> i64 {
        self as i64
    }
}

/// What a new account is made of.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: UserId,
    pub firstname: String,
    pub lastname: String,
    pub email: Option<Email>,
    pub phone_number: Option<PhoneNumber>,
    pub password_hash: Option<String>,
    pub source_profile: Option<String>,
    pub email_verified_at: Option<OffsetDateTime>,
    pub phone_verified_at: Option<OffsetDateTime>,
    pub role_ids: Vec<RoleId>,
}

/// A named set of permissions, global (`application: None`) or for one application.
#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    pub id: RoleId,
    pub role_name: String,
    pub permissions: Vec<String>,
    pub department_name: Option<String>,
    pub department_id: Option<String>,
    pub is_active: bool,
    pub application: Option<ClientId>,
}

/// A role to create.
#[derive(Debug, Clone)]
pub struct NewRole {
    /// An explicit id (imports, FastAuthCore clients); the next free one when `None`.
    pub id: Option<RoleId>,
    pub role_name: String,
    pub permissions: Vec<String>,
    pub department_name: Option<String>,
    pub department_id: Option<String>,
    pub application: Option<ClientId>,
}

/// What `list_users` selects.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub role_id: Option<RoleId>,
    pub status: Option<UserStatus>,
    /// A prefix of the first name, last name, email or phone number (case-insensitive).
    pub q: Option<String>,
}

/// Fields to change on a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub firstname: Option<String>,
    pub lastname: Option<String>,
    /// A new email; its verified mark is cleared.
    pub email: Option<Email>,
    /// A new phone number; its verified mark is cleared.
    pub phone_number: Option<PhoneNumber>,
    pub source_profile: Option<String>,
    /// Disabling also ends every session, in the same transaction.
    pub status: Option<UserStatus>,
    /// Replaces all role assignments.
    pub role_ids: Option<Vec<RoleId>>,
    pub password_hash: Option<String>,
}

/// Fields to change on a role.
#[derive(Debug, Clone, Default)]
pub struct RoleChanges {
    pub role_name: Option<String>,
    pub department_name: Option<String>,
    pub department_id: Option<String>,
}

/// What `list_audit` selects; `before` is the cursor (an event id).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub user: Option<UserId>,
    pub kind: Option<String>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    pub before: Option<i64>,
    pub limit: u32,
}

/// A client application.
#[derive(Debug, Clone, PartialEq)]
pub struct Application {
    pub id: ClientId,
    pub name: String,
    pub allowed_origins: Vec<String>,
}

/// One sign-in: the refresh tokens it issues rotate, the session stays.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub client_id: ClientId,
    pub created_at: OffsetDateTime,
    pub last_used_at: OffsetDateTime,
    pub idle_expires_at: OffsetDateTime,
    pub absolute_expires_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// Opened by an OTP test identity: tokens say `test` and grant no more than DEFAULT_ROLE.
    pub test_identity: bool,
}

impl Session {
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && self.idle_expires_at > now && self.absolute_expires_at > now
    }
}

/// A session with its user and the user's active roles for the session's application: what
/// checking an access token needs, read at once.
#[derive(Debug, Clone)]
pub struct SessionWithUser {
    pub session: Session,
    pub user: User,
    pub roles: Vec<Role>,
}

/// A session to open, with the hash of its first refresh token.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: SessionId,
    pub user_id: UserId,
    pub client_id: ClientId,
    pub refresh_hash: String,
    pub created_at: OffsetDateTime,
    pub idle_expires_at: OffsetDateTime,
    pub absolute_expires_at: OffsetDateTime,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub test_identity: bool,
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, PartialEq)]
pub enum Rotation {
    /// The token was current: it is now rotated and `session` is live.
    Rotated(Session),
    /// The token had already been rotated at `rotated_at`.
    Reused { session_id: SessionId, user_id: UserId, rotated_at: OffsetDateTime },
    /// Unknown token, or its session has ended.
    Invalid,
}

/// A signing key as stored: the private half encrypted under the key-encryption key.
#[derive(Debug, Clone, PartialEq)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub algorithm: String,
    pub private_key_encrypted: Vec<u8>,
    pub created_at: OffsetDateTime,
    /// Set when a newer key took over signing; still published until its tokens expire.
    pub retired_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

/// An audit event to record.
#[derive(Debug, Clone)]
pub struct NewAuditEvent {
    pub kind: &'static str,
    pub at: OffsetDateTime,
    pub actor_id: Option<UserId>,
    pub subject_id: Option<UserId>,
    pub ip: Option<String>,
    pub details: serde_json::Value,
}

/// A recorded audit event.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub id: i64,
    pub kind: String,
    pub at: OffsetDateTime,
    pub actor_id: Option<String>,
    pub subject_id: Option<String>,
    pub ip: Option<String>,
    pub details: serde_json::Value,
}

/// A role as a roles file declares it.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleSpec {
    pub role_name: String,
    pub application: Option<ClientId>,
    pub permissions: Vec<String>,
    pub department_name: Option<String>,
    pub department_id: Option<String>,
    pub is_active: bool,
}

/// One step of a roles plan.
#[derive(Debug, Clone, PartialEq)]
pub enum RoleChange {
    CreateApplication(Application),
    UpdateApplication(Application),
    CreateRole(RoleSpec),
    /// Brings role `id` to `spec`; `fields` names what differs, for the plan's display.
    UpdateRole {
        id: RoleId,
        spec: RoleSpec,
        fields: Vec<String>,
    },
}

/// A change waiting in the outbox for the webhooks (SPEC section 8).
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    /// Commit-ordered within a subject.
    pub id: i64,
    /// The `webhook-id`: the same for every delivery attempt of this event.
    pub uid: String,
    pub kind: String,
    /// The user (or role) the event is about: deliveries keep each subject's order.
    pub subject: String,
    /// The event's `data`, as JSON text.
    pub data: String,
    pub created_at: OffsetDateTime,
}
