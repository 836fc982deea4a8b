//! Sessions and their rotating refresh tokens.

use async_trait::async_trait;
use fastauth_core::ids::{SessionId, UserId};
use fastauth_core::model::{NewAuditEvent, NewSession, Role, Rotation, Session, SessionWithUser};
use fastauth_core::ports::{SessionStore, StoreResult};
use sqlx::Row;
use time::OffsetDateTime;

use crate::args::Args;
use crate::audit::{audit_columns, event_args};
use crate::rows::{
    self, Cells, SESSION_COLUMNS, USER_COLUMNS, from_ms, ms, role_columns, session_columns, user_columns,
};
use crate::{Dialect, SqlStore};

/// Replaces the session's current refresh token if the session is live, in one statement: the row
/// lock makes concurrent callers with the same token queue up, and all but the first then match
/// nothing. The migration's trigger keeps the replaced token for reuse detection.
const ROTATE: &str = concat!(
    "update sessions set refresh_hash = $2, last_used_at = $3, \
       idle_expires_at = case when $4 < absolute_expires_at then $4 else absolute_expires_at end \
     where refresh_hash = $1 and revoked_at is null and idle_expires_at > $3 and absolute_expires_at > $3 \
     returning ",
    session_columns!()
);
/// One row per active role of the user for the session's application (role columns null when
/// there is none): the session `$1`, its user and their roles in one round trip (`with_user`).
macro_rules! session_with_user {
    () => {
        concat!(
            "select ",
            session_columns!(s),
            ", ",
            user_columns!(u),
            ", ",
            role_columns!(r),
            " from sessions s join users u on u.id = s.user_id \
             left join user_roles ur on ur.user_id = u.id \
             left join roles r on r.id = ur.role_id and r.is_active = 1 \
               and (r.application is null or r.application = s.client_id) \
             where s.id = $1 order by r.id"
        )
    };
}
pub(crate) use session_with_user;
const FIND_ROTATED: &str = "select t.session_id, t.rotated_at, s.user_id from refresh_tokens t \
     join sessions s on s.id = t.session_id where t.token_hash = $1 and t.rotated_at is not null";
/// A new session's row from the ten parameters `session_args` adds.
macro_rules! insert_session {
    () => {
        "insert into sessions (id, user_id, client_id, created_at, last_used_at, idle_expires_at, \
         absolute_expires_at, user_agent, ip, test_identity, refresh_hash) \
         values ($1, $2, $3, $4, $4, $5, $6, $7, $8, $9, $10)"
    };
}
pub(crate) use insert_session;
/// Ends, at `now`, the live sessions of `user` after the first `skip` most recently used: one
/// walk down the index of live sessions, where `id not in (the first n)` took two (SQLite: 8
/// against 22 µs at 50 live sessions). `$skip` is the dialect's clause: `offset n` on
/// PostgreSQL, `limit -1 offset n` on SQLite, which takes no offset without a limit. `$open` and
/// `$close` wrap the chosen rows: on PostgreSQL, in the row locking below.
macro_rules! end_oldest {
    ($now:literal, $user:literal, $skip:literal, $open:literal, $close:literal) => {
        concat!(
            "update sessions set revoked_at = ",
            $now,
            " where id in (",
            $open,
            "select id from sessions where user_id = ",
            $user,
            " and revoked_at is null order by last_used_at desc, id desc ",
            $skip,
            $close,
            ")"
        )
    };
}
/// The audit row of `event_args` as parameters 12 to 17, or none when they are null.
macro_rules! insert_event_if_any {
    () => {
        concat!(
            "insert into audit_events (",
            audit_columns!(),
            ") select $12, $13, $14, $15, $16, $17 where $12 is not null"
        )
    };
}
pub(crate) use insert_event_if_any;
/// The session `$o` with one row per active role of its user `$2` in its application `$3` (role
/// columns null when there is none).
macro_rules! session_with_roles {
    ($from:literal) => {
        concat!(
            "select ",
            session_columns!(o),
            ", ",
            role_columns!(r),
            " from ",
            $from,
            " left join (user_roles ur join roles r on r.id = ur.role_id and r.is_active = 1 \
               and (r.application is null or r.application = $3)) on ur.user_id = $2"
        )
    };
}
/// Opening a session (`$11` the most sessions a user keeps, then the audit row or nulls) in one
/// call to the database: each call wakes the database and an async worker, and both preempt
/// hashing. PostgreSQL: one statement, whose parts see one snapshot, so the eviction does not see
/// the new session and keeps one fewer of the others. Nor does it see the sessions of racing opens
/// of the same user that have not committed: each racer can leave one over the cap until the
/// user's next open (exact would take a lock and a second statement in every sign-in).
/// Of the sessions to end, it skips those another transaction holds (a racing open ending them,
/// a rotation): racing opens that waited for each other's rows took them in differing orders and
/// deadlocked, which stalled them all for PostgreSQL's 1 s deadlock timeout. A skipped session
/// stays live until the user's next open. The lock is taken on the sessions to end only (rows
/// skipped by an offset would be locked too, each lock a write).
const OPEN_SESSION_POSTGRES: &str = concat!(
    "with opened as (",
    insert_session!(),
    " returning ",
    session_columns!(),
    "), ended as (",
    end_oldest!("$4", "$2", "offset $11 - 1", "select id from sessions where id in (", ") for update skip locked"),
    "), event as (",
    insert_event_if_any!(),
    ") ",
    session_with_roles!("opened o"),
    " order by r.id"
);
/// SQLite takes no writes in `with`: the same as statements run one after another in one call
/// (its parameters are numbered across them), between its `begin` and `commit`. The offset is
/// `$11 + 0`: SQLite plans a limit or offset that is a bare parameter with the value bound to
/// it, so it compiled this statement again at every bind, once per sign-in (counted with `perf
/// probe` on sqlite3Reprepare; sign-ins with near-free hashing ran 1-46 % faster without it).
const OPEN_SESSION_SQLITE: &str = concat!(
    "begin immediate; ",
    insert_session!(),
    "; ",
    insert_event_if_any!(),
    "; ",
    end_oldest!("$4", "$2", "limit -1 offset $11 + 0", "", ""),
    "; ",
    session_with_roles!("sessions o"),
    " where o.id = $1 order by r.id; commit"
);

/// Adds `s` as the next ten parameters (`insert_session!` numbers them from `$1`).
pub(crate) fn session_args(args: Args, s: &NewSession) -> Args {
    args.add(s.id.as_str())
        .add(s.user_id.as_str())
        .add(s.client_id.as_str())
        .add(ms(s.created_at))
        .add(ms(s.idle_expires_at))
        .add(ms(s.absolute_expires_at))
        .add(s.user_agent.as_deref())
        .add(s.ip.as_deref())
        .add(i64::from(s.test_identity))
        .add(s.refresh_hash.as_str())
}

/// The session, its user and their roles from the rows of `session_with_user!` (or of a
/// statement with its columns), if there are any.
pub(crate) fn with_user<R: Cells>(rows: &[R]) -> Result<Option<SessionWithUser>, sqlx::Error> {
    let Some(first) = rows.first() else { return Ok(None) };
    let roles = rows::roles_at(rows, SESSION_COLUMNS + USER_COLUMNS)?;
    Ok(Some(SessionWithUser { session: rows::session(first)?, user: rows::user_at(first, SESSION_COLUMNS)?, roles }))
}

#[async_trait]
impl SessionStore for SqlStore {
    async fn create_session(
        &self,
        s: &NewSession,
        max_per_user: u32,
        event: Option<&NewAuditEvent>,
    ) -> StoreResult<(Session, Vec<Role>)> {
        // Opens `s`, ends the user's least recently used sessions beyond `max_per_user`, writes
        // `event`, and reads the roles the session's tokens carry.
        let sql = match self.dialect {
            Dialect::Postgres => OPEN_SESSION_POSTGRES,
            Dialect::Sqlite => OPEN_SESSION_SQLITE,
        };
        let args = event_args(session_args(Args::default(), s).add(i64::from(max_per_user)), event);
        self.write_in_one_call(sql, args, |rows| {
            Ok((rows::session(rows.first().ok_or(sqlx::Error::RowNotFound)?)?, rows::roles_at(rows, SESSION_COLUMNS)?))
        })
        .await
    }

    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new_hash: &str,
        now: OffsetDateTime,
        idle_expires_at: OffsetDateTime,
    ) -> StoreResult<Rotation> {
        let args = Args::default().add(old_hash).add(new_hash).add(ms(now)).add(ms(idle_expires_at));
        let rotated = self.write_in_one_call(ROTATE, args, |rows| rows.first().map(rows::session).transpose()).await?;
        if let Some(session) = rotated {
            return Ok(Rotation::Rotated(session));
        }
        let rotated_before = sqlx::query(FIND_ROTATED).bind(old_hash).fetch_optional(&self.pool).await;
        let read = |row: sqlx::any::AnyRow| -> Result<Rotation, sqlx::Error> {
            Ok(Rotation::Reused {
                session_id: SessionId::from_trusted(row.try_get("session_id")?),
                user_id: UserId::from_trusted(row.try_get("user_id")?),
                rotated_at: from_ms(row.try_get("rotated_at")?)?,
            })
        };
        rotated_before.and_then(|found| found.map_or(Ok(Rotation::Invalid), read)).map_err(|e| self.error(e))
    }

    async fn find_session_with_user(&self, id: &SessionId) -> StoreResult<Option<SessionWithUser>> {
        self.read_hot(session_with_user!(), &[id.as_str()], |rows| with_user(rows)).await
    }

    async fn list_live_sessions(&self, user: &UserId, now: OffsetDateTime) -> StoreResult<Vec<Session>> {
        let rows = sqlx::query(concat!(
            "select ",
            session_columns!(),
            " from sessions where user_id = $1 and revoked_at is null and idle_expires_at > $2 \
             and absolute_expires_at > $2 order by last_used_at desc, id desc"
        ))
        .bind(user.as_str())
        .bind(ms(now))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        rows.iter().map(rows::session).collect::<Result<_, _>>().map_err(|e| self.error(e))
    }

    async fn revoke_session(&self, user: &UserId, id: &SessionId, now: OffsetDateTime) -> StoreResult<bool> {
        let done =
            sqlx::query("update sessions set revoked_at = $3 where id = $1 and user_id = $2 and revoked_at is null")
                .bind(id.as_str())
                .bind(user.as_str())
                .bind(ms(now))
                .execute(self.writer.turn().pool())
                .await
                .map_err(|e| self.error(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_reused_session(&self, user: &UserId, id: &SessionId, now: OffsetDateTime) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done =
            sqlx::query("update sessions set revoked_at = $3 where id = $1 and user_id = $2 and revoked_at is null")
                .bind(id.as_str())
                .bind(user.as_str())
                .bind(ms(now))
                .execute(&mut *tx)
                .await
                .map_err(|e| self.error(e))?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        let data = serde_json::json!({ "user_id": user, "session_id": id });
        crate::outbox::record(&mut tx, "session.reuse_detected", user.as_str(), &data, now)
            .await
            .map_err(|e| self.error(e))?;
        tx.commit().await.map_err(|e| self.error(e))?;
        Ok(true)
    }

    async fn revoke_user_sessions(
        &self,
        user: &UserId,
        keep: Option<&SessionId>,
        now: OffsetDateTime,
    ) -> StoreResult<u64> {
        let done =
            sqlx::query("update sessions set revoked_at = $3 where user_id = $1 and revoked_at is null and id <> $2")
                .bind(user.as_str())
                .bind(keep.map_or("", SessionId::as_str))
                .bind(ms(now))
                .execute(self.writer.turn().pool())
                .await
                .map_err(|e| self.error(e))?;
        Ok(done.rows_affected())
    }
}
