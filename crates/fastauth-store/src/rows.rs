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

/// `a, b` or, given a table alias `t`, `t.a, t.b`: a column list as a literal for `concat!`.
macro_rules! column_list {
    (; $first:ident $(, $c:ident)*) => {
        concat!(stringify!($first) $(, ", ", stringify!($c))*)
    };
    ($t:ident; $first:ident $(, $c:ident)*) => {
        concat!(stringify!($t), ".", stringify!($first) $(, ", ", stringify!($t), ".", stringify!($c))*)
    };
}

pub(crate) use column_list;

// Users, roles and sessions are read by position, in the order of their column lists, so that
// one query can join them although their column names clash (`id`, `created_at`).

/// The columns `user` reads, in its order; `user_columns!(u)` prefixes them with `u.`.
macro_rules! user_columns {
    ($($t:ident)?) => {
        $crate::rows::column_list!($($t)?; id, firstname, lastname, email, phone_number, password_hash, source_profile, status,
            email_verified_at, phone_verified_at, created_at, updated_at)
    };
}
pub(crate) use user_columns;
pub(crate) const USER_COLUMNS: usize = 12;

/// The cells of one result row, read by position: a row of sqlx's, or one read directly from
/// SQLite (`sqlite_direct`). Every column the decoders below read is an integer or text.
pub(crate) trait Cells {
    fn int(&self, at: usize) -> Result<Option<i64>, sqlx::Error>;
    fn text(&self, at: usize) -> Result<Option<String>, sqlx::Error>;
}

/// Rows of either kind, for a decoder that takes both.
pub(crate) fn as_cells<R: Cells>(rows: &[R]) -> Vec<&dyn Cells> {
    rows.iter().map(|r| r as &dyn Cells).collect()
}

impl Cells for AnyRow {
    fn int(&self, at: usize) -> Result<Option<i64>, sqlx::Error> {
        self.try_get(at)
    }

    fn text(&self, at: usize) -> Result<Option<String>, sqlx::Error> {
        self.try_get(at)
    }
}

impl<C: Cells + ?Sized> Cells for &C {
    fn int(&self, at: usize) -> Result<Option<i64>, sqlx::Error> {
        (**self).int(at)
    }

    fn text(&self, at: usize) -> Result<Option<String>, sqlx::Error> {
        (**self).text(at)
    }
}

/// Reads consecutive columns of one row from a starting position.
struct Columns<'r> {
    row: &'r dyn Cells,
    next: usize,
}

impl<'r> Columns<'r> {
    fn new(row: &'r dyn Cells, from: usize) -> Self {
        Self { row, next: from }
    }

    fn opt_int(&mut self) -> Result<Option<i64>, sqlx::Error> {
        self.next += 1;
        self.row.int(self.next - 1)
    }

    fn opt_text(&mut self) -> Result<Option<String>, sqlx::Error> {
        self.next += 1;
        self.row.text(self.next - 1)
    }

    fn int(&mut self) -> Result<i64, sqlx::Error> {
        let at = self.next;
        self.opt_int()?.ok_or_else(|| null(at))
    }

    fn text(&mut self) -> Result<String, sqlx::Error> {
        let at = self.next;
        self.opt_text()?.ok_or_else(|| null(at))
    }

    fn time(&mut self) -> Result<OffsetDateTime, sqlx::Error> {
        from_ms(self.int()?)
    }

    fn opt_time(&mut self) -> Result<Option<OffsetDateTime>, sqlx::Error> {
        self.opt_int()?.map(from_ms).transpose()
    }
}

fn null(at: usize) -> sqlx::Error {
    sqlx::Error::ColumnDecode { index: at.to_string(), source: "null in a column that holds a value".into() }
}

pub(crate) fn user<R: Cells>(row: &R) -> Result<User, sqlx::Error> {
    user_at(row, 0)
}

pub(crate) fn user_at(row: &dyn Cells, from: usize) -> Result<User, sqlx::Error> {
    let mut c = Columns::new(row, from);
    Ok(User {
        id: UserId::from_trusted(c.text()?),
        firstname: c.text()?,
        lastname: c.text()?,
        email: c.opt_text()?.map(Email::from_trusted),
        phone_number: c.opt_text()?.map(PhoneNumber::from_trusted),
        password_hash: c.opt_text()?,
        source_profile: c.opt_text()?,
        status: UserStatus::from_code(c.int()?),
        email_verified_at: c.opt_time()?,
        phone_verified_at: c.opt_time()?,
        created_at: c.time()?,
        updated_at: c.time()?,
    })
}

macro_rules! role_columns {
    ($($t:ident)?) => {
        $crate::rows::column_list!($($t)?; id, role_name, permissions, department_name, department_id, is_active, application)
    };
}
pub(crate) use role_columns;

pub(crate) fn role<R: Cells>(row: &R) -> Result<Role, sqlx::Error> {
    role_at(row, 0)
}

pub(crate) fn role_at(row: &dyn Cells, from: usize) -> Result<Role, sqlx::Error> {
    let mut c = Columns::new(row, from);
    Ok(Role {
        id: c.int()?,
        role_name: c.text()?,
        permissions: serde_json::from_str(&c.text()?).map_err(|e| sqlx::Error::Decode(e.into()))?,
        department_name: c.opt_text()?,
        department_id: c.opt_text()?,
        is_active: c.int()? != 0,
        application: c.opt_text()?.map(ClientId::from_trusted),
    })
}

/// The roles of a left join, one per row from column `from` on (none where those are null).
pub(crate) fn roles_at<R: Cells>(rows: &[R], from: usize) -> Result<Vec<Role>, sqlx::Error> {
    let mut roles = Vec::with_capacity(rows.len());
    for row in rows {
        if row.int(from)?.is_some() {
            roles.push(role_at(row, from)?);
        }
    }
    Ok(roles)
}

macro_rules! session_columns {
    ($($t:ident)?) => {
        $crate::rows::column_list!($($t)?; id, user_id, client_id, created_at, last_used_at, idle_expires_at, absolute_expires_at,
            revoked_at, user_agent, ip, test_identity)
    };
}
pub(crate) use session_columns;
pub(crate) const SESSION_COLUMNS: usize = 11;

pub(crate) fn session<R: Cells>(row: &R) -> Result<Session, sqlx::Error> {
    session_at(row, 0)
}

pub(crate) fn session_at(row: &dyn Cells, from: usize) -> Result<Session, sqlx::Error> {
    let mut c = Columns::new(row, from);
    Ok(Session {
        id: SessionId::from_trusted(c.text()?),
        user_id: UserId::from_trusted(c.text()?),
        client_id: ClientId::from_trusted(c.text()?),
        created_at: c.time()?,
        last_used_at: c.time()?,
        idle_expires_at: c.time()?,
        absolute_expires_at: c.time()?,
        revoked_at: c.opt_time()?,
        user_agent: c.opt_text()?,
        ip: c.opt_text()?,
        test_identity: c.int()? != 0,
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
