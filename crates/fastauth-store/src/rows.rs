//! Turning result rows into core records, and times into the stored milliseconds.

use fastauth_core::email::Email;
use fastauth_core::ids::{ClientId, SessionId, UserId};
use fastauth_core::model::{AuditEvent, Role, Session, SigningKeyRecord, User, UserStatus};
use fastauth_core::phone::PhoneNumber;
use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

/// The stored form of a time: milliseconds since the Unix epoch.
pub(crate) fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

pub(crate) fn from_ms(ms: i64) -> Result<OffsetDateTime, sqlx::Error> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).map_err(|e| sqlx::Error::Decode(e.into()))
}

fn opt_time(row: &AnyRow, col: &str) -> Result<Option<OffsetDateTime>, sqlx::Error> {
    row.try_get::<Option<i64>, _>(col)?.map(from_ms).transpose()
}

fn time(row: &AnyRow, col: &str) -> Result<OffsetDateTime, sqlx::Error> {
    from_ms(row.try_get(col)?)
}

/// The columns `user` reads, as a literal for `concat!`.
macro_rules! user_columns {
    () => {
        "id, firstname, lastname, email, phone_number, password_hash, source_profile, status, \
         email_verified_at, phone_verified_at, created_at, updated_at"
    };
}
pub(crate) use user_columns;

pub(crate) fn user(row: &AnyRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: UserId::from_trusted(row.try_get("id")?),
        firstname: row.try_get("firstname")?,
        lastname: row.try_get("lastname")?,
        email: row.try_get::<Option<String>, _>("email")?.map(Email::from_trusted),
        phone_number: row.try_get::<Option<String>, _>("phone_number")?.map(PhoneNumber::from_trusted),
        password_hash: row.try_get("password_hash")?,
        source_profile: row.try_get("source_profile")?,
        status: UserStatus::from_code(row.try_get("status")?),
        email_verified_at: opt_time(row, "email_verified_at")?,
        phone_verified_at: opt_time(row, "phone_verified_at")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

macro_rules! role_columns {
    () => {
        "id, role_name, permissions, department_name, department_id, is_active, application"
    };
}
pub(crate) use role_columns;

pub(crate) fn role(row: &AnyRow) -> Result<Role, sqlx::Error> {
    let permissions: String = row.try_get("permissions")?;
    Ok(Role {
        id: row.try_get("id")?,
        role_name: row.try_get("role_name")?,
        permissions: serde_json::from_str(&permissions).map_err(|e| sqlx::Error::Decode(e.into()))?,
        department_name: row.try_get("department_name")?,
        department_id: row.try_get("department_id")?,
        is_active: row.try_get::<i64, _>("is_active")? != 0,
        application: row.try_get::<Option<String>, _>("application")?.map(ClientId::from_trusted),
    })
}

macro_rules! session_columns {
    () => {
        "id, user_id, client_id, created_at, last_used_at, idle_expires_at, absolute_expires_at, revoked_at, \
         user_agent, ip, test_identity"
    };
}
pub(crate) use session_columns;

pub(crate) fn session(row: &AnyRow) -> Result<Session, sqlx::Error> {
    Ok(Session {
        id: SessionId::from_trusted(row.try_get("id")?),
        user_id: UserId::from_trusted(row.try_get("user_id")?),
        client_id: ClientId::from_trusted(row.try_get("client_id")?),
        created_at: time(row, "created_at")?,
        last_used_at: time(row, "last_used_at")?,
        idle_expires_at: time(row, "idle_expires_at")?,
        absolute_expires_at: time(row, "absolute_expires_at")?,
        revoked_at: opt_time(row, "revoked_at")?,
        user_agent: row.try_get("user_agent")?,
        ip: row.try_get("ip")?,
        test_identity: row.try_get::<i64, _>("test_identity")? != 0,
    })
}

pub(crate) fn signing_key(row: &AnyRow) -> Result<SigningKeyRecord, sqlx::Error> {
    Ok(SigningKeyRecord {
        kid: row.try_get("kid")?,
        algorithm: row.try_get("algorithm")?,
        private_key_encrypted: row.try_get("private_key_encrypted")?,
        created_at: time(row, "created_at")?,
        retired_at: opt_time(row, "retired_at")?,
        revoked_at: opt_time(row, "revoked_at")?,
    })
}

pub(crate) fn audit_event(row: &AnyRow) -> Result<AuditEvent, sqlx::Error> {
    let details: String = row.try_get("details")?;
    Ok(AuditEvent {
        id: row.try_get("id")?,
        kind: row.try_get("type")?,
        at: time(row, "at")?,
        actor_id: row.try_get("actor_id")?,
        subject_id: row.try_get("subject_id")?,
        ip: row.try_get("ip")?,
        details: serde_json::from_str(&details).map_err(|e| sqlx::Error::Decode(e.into()))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_round_trip() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_764_000_000_123_000_000).expect("time");
        assert_eq!(from_ms(ms(t)).expect("decode"), t);
    }
}
