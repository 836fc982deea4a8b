//! Users and their role assignments.

use async_trait::async_trait;
use fastauth_core::auth::Identifier;
use fastauth_core::email::Email;
use fastauth_core::ids::{RoleId, SessionId, UserId};
use fastauth_core::model::{
    NewAuditEvent, NewSession, NewUser, Role, Session, User, UserChanges, UserFilter, UserStatus,
};
use fastauth_core::phone::PhoneNumber;
use fastauth_core::ports::{StoreResult, UserStore};
use time::OffsetDateTime;

use crate::args::Args;
use crate::audit::{audit_columns, event_args, insert_event};
use crate::outbox::{self, insert_outbox_event};
use crate::rows::{self, ms, role_columns, session_columns, user_columns};
use crate::sessions::{insert_event_if_any, insert_session, session_args, session_with_user, with_user};
use crate::{Dialect, SqlStore, Tx};

/// An active user's row from the parameters numbered `$id`, …, `$now` (`user_args`'s order).
macro_rules! insert_user {
    ($id:literal, $first:literal, $last:literal, $email:literal, $phone:literal, $hash:literal, $source:literal,
     $email_at:literal, $phone_at:literal, $now:literal) => {
        concat!(
            "insert into users (id, firstname, lastname, email, phone_number, password_hash, \
             source_profile, status, email_verified_at, phone_verified_at, created_at, updated_at) values (",
            $id,
            ", ",
            $first,
            ", ",
            $last,
            ", ",
            $email,
            ", ",
            $phone,
            ", ",
            $hash,
            ", ",
            $source,
            ", 1, ",
            $email_at,
            ", ",
            $phone_at,
            ", ",
            $now,
            ", ",
            $now,
            ")"
        )
    };
}
const INSERT_USER: &str =
    concat!(insert_user!("$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10"), " returning ", user_columns!());
const GRANT_ROLE: &str = "insert into user_roles (user_id, role_id) values ($1, $2) on conflict do nothing";
/// A user and its first session in one call (`write_in_one_call`): the session's parameters as
/// `session_args` numbers them, `$11` now, the audit row as `$12`-`$17`, the user's fields as
/// `$18`-`$25`, its role ids as a JSON array `$26`, the outbox row's uid and payload `$27`, `$28`.
/// PostgreSQL: one statement, whose parts see one snapshot, so the roles are read from the list.
const CREATE_USER_WITH_SESSION_POSTGRES: &str = concat!(
    "with created as (",
    insert_user!("$2", "$18", "$19", "$20", "$21", "$22", "$23", "$24", "$25", "$11"),
    " returning ",
    user_columns!(),
    "), granted as (insert into user_roles (user_id, role_id) \
       select $2, value::bigint from json_array_elements_text($26::json) on conflict do nothing), \
     outbox as (",
    insert_outbox_event!("$27", "'user.created'", "$2", "$28", "$11"),
    "), event as (",
    insert_event_if_any!(),
    "), opened as (",
    insert_session!(),
    " returning ",
    session_columns!(),
    ") select ",
    session_columns!(s),
    ", ",
    user_columns!(u),
    ", ",
    role_columns!(r),
    " from opened s join created u on true \
     left join roles r on r.id in (select value::bigint from json_array_elements_text($26::json)) \
       and r.is_active = 1 and (r.application is null or r.application = $3) \
     order by r.id"
);
/// SQLite: the same as statements one after another, between `begin` and `commit`.
const CREATE_USER_WITH_SESSION_SQLITE: &str = concat!(
    "begin immediate; ",
    insert_user!("$2", "$18", "$19", "$20", "$21", "$22", "$23", "$24", "$25", "$11"),
    "; insert into user_roles (user_id, role_id) select $2, value from json_each($26) where true \
       on conflict do nothing; ",
    insert_outbox_event!("$27", "'user.created'", "$2", "$28", "$11"),
    "; ",
    insert_event_if_any!(),
    "; ",
    insert_session!(),
    "; ",
    session_with_user!(),
    "; commit"
);

/// The `where` clause of `list_users` and `count_users`: $1 role id (0: any), $2 status (-1: any),
/// $3 a lower-case LIKE prefix pattern ('': any).
macro_rules! user_filter {
    () => {
        " where ($1 = 0 or exists (select 1 from user_roles ur where ur.user_id = users.id and ur.role_id = $1)) \
          and ($2 < 0 or status = $2) \
          and ($3 = '' or lower(firstname) like $3 escape '\\' or lower(lastname) like $3 escape '\\' \
               or email like $3 escape '\\' or phone_number like $3 escape '\\')"
    };
}

/// Applies the user's changes; `coalesce` keeps what is not changed. A new email or phone
/// clears its verified mark.
const UPDATE_USER: &str = concat!(
    "update users set firstname = coalesce($2, firstname), lastname = coalesce($3, lastname), \
     email_verified_at = case when $4 is null or $4 = email then email_verified_at else null end, \
     email = coalesce($4, email), \
     phone_verified_at = case when $5 is null or $5 = phone_number then phone_verified_at else null end, \
     phone_number = coalesce($5, phone_number), source_profile = coalesce($6, source_profile), \
     status = coalesce($7, status), password_hash = coalesce($8, password_hash), updated_at = $9 \
     where id = $1 returning ",
    user_columns!()
);

/// The bound values of a `UserFilter`.
fn filter_args(filter: &UserFilter) -> (i64, i64, String) {
    let q = filter.q.as_deref().map_or(String::new(), |q| {
        let escaped: String = q
            .to_lowercase()
            .chars()
            .flat_map(|c| match c {
                '%' | '_' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        format!("{escaped}%")
    });
    (filter.role_id.unwrap_or(0), filter.status.map_or(-1, UserStatus::code), q)
}

impl SqlStore {
    /// Sets a verified mark that was never set; true if this call set it.
    async fn mark_verified(&self, sql: &'static str, id: &UserId, now: OffsetDateTime) -> StoreResult<bool> {
        let done = sqlx::query(sql)
            .bind(id.as_str())
            .bind(ms(now))
            .execute(self.writer.turn().pool())
            .await
            .map_err(|e| self.error(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn find_user_where(&self, sql: &'static str, value: &str) -> StoreResult<Option<User>> {
        self.read_hot(sql, &[value], |rows| rows.first().map(rows::user).transpose()).await
    }
}

/// Adds the fields of `user` from its first name to its phone's verification (`insert_user!`).
fn user_args(args: Args, user: &NewUser) -> Args {
    args.add(user.firstname.as_str())
        .add(user.lastname.as_str())
        .add(user.email.as_ref().map(Email::as_str))
        .add(user.phone_number.as_ref().map(PhoneNumber::as_str))
        .add(user.password_hash.as_deref())
        .add(user.source_profile.as_deref())
        .add(user.email_verified_at.map(ms))
        .add(user.phone_verified_at.map(ms))
}

/// The payload of `user.created`: the user as written (active) and the roles it was given.
fn created_data(new: &NewUser, now: OffsetDateTime) -> serde_json::Value {
    let user = User {
        id: new.id.clone(),
        firstname: new.firstname.clone(),
        lastname: new.lastname.clone(),
        email: new.email.clone(),
        phone_number: new.phone_number.clone(),
        password_hash: None, // never in an event
        source_profile: None,
        status: UserStatus::Active,
        email_verified_at: new.email_verified_at,
        phone_verified_at: new.phone_verified_at,
        created_at: now,
        updated_at: now,
    };
    let mut data = outbox::user_data(&user);
    data["role_ids"] = serde_json::json!(new.role_ids);
    data
}

impl SqlStore {
    /// The user, its role assignments, its `user.created` outbox event and `event`, in `tx`.
    async fn insert_user(
        &self,
        tx: &mut Tx,
        user: &NewUser,
        now: OffsetDateTime,
        event: Option<&NewAuditEvent>,
    ) -> StoreResult<User> {
        let args = user_args(Args::default().add(user.id.as_str()), user).add(ms(now));
        let row = args.query(INSERT_USER).fetch_one(&mut **tx).await.map_err(|e| self.error(e))?;
        for role in &user.role_ids {
            sqlx::query(GRANT_ROLE)
                .bind(user.id.as_str())
                .bind(role)
                .execute(&mut **tx)
                .await
                .map_err(|e| self.error(e))?;
        }
        let created = rows::user(&row).map_err(|e| self.error(e))?;
        let data = created_data(user, now);
        outbox::record(tx, "user.created", created.id.as_str(), &data, now).await.map_err(|e| self.error(e))?;
        if let Some(event) = event {
            insert_event(&mut **tx, event).await.map_err(|e| self.error(e))?;
        }
        Ok(created)
    }
}

#[async_trait]
impl UserStore for SqlStore {
    async fn create_user_with_roles(
        &self,
        user: &NewUser,
        now: OffsetDateTime,
        event: Option<&NewAuditEvent>,
    ) -> StoreResult<User> {
        let mut tx = self.begin().await?;
        let created = self.insert_user(&mut tx, user, now, event).await?;
        tx.commit().await.map_err(|e| self.error(e))?;
        Ok(created)
    }

    async fn create_user_with_session(
        &self,
        user: &NewUser,
        now: OffsetDateTime,
        event: Option<&NewAuditEvent>,
        session: &NewSession,
    ) -> StoreResult<(User, Session, Vec<Role>)> {
        let sql = match self.dialect {
            Dialect::Postgres => CREATE_USER_WITH_SESSION_POSTGRES,
            Dialect::Sqlite => CREATE_USER_WITH_SESSION_SQLITE,
        };
        let args = event_args(session_args(Args::default(), session).add(ms(now)), event);
        let args = user_args(args, user)
            .add(serde_json::json!(user.role_ids).to_string())
            .add(outbox::new_uid())
            .add(created_data(user, now).to_string());
        let opened = self.write_in_one_call(sql, args, |rows| with_user(rows)?.ok_or(sqlx::Error::RowNotFound)).await?;
        Ok((opened.user, opened.session, opened.roles))
    }

    async fn find_user(&self, id: &UserId) -> StoreResult<Option<User>> {
        self.find_user_where(concat!("select ", user_columns!(), " from users where id = $1"), id.as_str()).await
    }

    async fn find_user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        self.find_user_where(concat!("select ", user_columns!(), " from users where email = $1"), email.as_str()).await
    }

    async fn find_user_by_phone(&self, phone: &PhoneNumber) -> StoreResult<Option<User>> {
        let sql = concat!("select ", user_columns!(), " from users where phone_number = $1");
        self.find_user_where(sql, phone.as_str()).await
    }

    async fn set_password_hash(&self, id: &UserId, hash: &str, now: OffsetDateTime) -> StoreResult<()> {
        sqlx::query("update users set password_hash = $2, updated_at = $3 where id = $1")
            .bind(id.as_str())
            .bind(hash)
            .bind(ms(now))
            .execute(self.writer.turn().pool())
            .await
            .map(drop)
            .map_err(|e| self.error(e))
    }

    async fn set_user_status(&self, id: &UserId, status: UserStatus, now: OffsetDateTime) -> StoreResult<()> {
        sqlx::query("update users set status = $2, updated_at = $3 where id = $1")
            .bind(id.as_str())
            .bind(status.code())
            .bind(ms(now))
            .execute(self.writer.turn().pool())
            .await
            .map(drop)
            .map_err(|e| self.error(e))
    }

    async fn grant_role(&self, id: &UserId, role: RoleId) -> StoreResult<()> {
        sqlx::query(GRANT_ROLE)
            .bind(id.as_str())
            .bind(role)
            .execute(self.writer.turn().pool())
            .await
            .map(drop)
            .map_err(|e| self.error(e))
    }

    async fn list_users(&self, filter: &UserFilter, after: Option<&UserId>, limit: u32) -> StoreResult<Vec<User>> {
        let (role, status, q) = filter_args(filter);
        let sql = concat!(
            "select ",
            user_columns!(),
            " from users",
            user_filter!(),
            " and ($4 = '' or id > $4) order by id limit $5"
        );
        let rows = sqlx::query(sql)
            .bind(role)
            .bind(status)
            .bind(q)
            .bind(after.map_or("", UserId::as_str))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        rows.iter().map(rows::user).collect::<Result<_, _>>().map_err(|e| self.error(e))
    }

    async fn count_users(&self, filter: &UserFilter) -> StoreResult<i64> {
        let (role, status, q) = filter_args(filter);
        sqlx::query_scalar(concat!("select count(*) from users", user_filter!()))
            .bind(role)
            .bind(status)
            .bind(q)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.error(e))
    }

    async fn roles_of_users(&self, users: &[UserId]) -> StoreResult<Vec<(UserId, Role)>> {
        if users.is_empty() {
            return Ok(vec![]);
        }
        // Only placeholders are generated here; the ids are bound.
        let placeholders: Vec<String> = (1..=users.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            concat!(
                "select ur.user_id, ",
                role_columns!(r),
                " from user_roles ur join roles r on r.id = ur.role_id where ur.user_id in ({}) \
                 order by ur.user_id, r.id"
            ),
            placeholders.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in users {
            query = query.bind(id.as_str());
        }
        let rows = query.fetch_all(&self.pool).await.map_err(|e| self.error(e))?;
        rows.iter()
            .map(|row| Ok((UserId::from_trusted(sqlx::Row::try_get(row, 0)?), rows::role_at(row, 1)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(|e| self.error(e))
    }

    async fn update_user(&self, id: &UserId, changes: &UserChanges, now: OffsetDateTime) -> StoreResult<User> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(UPDATE_USER)
            .bind(id.as_str())
            .bind(changes.firstname.as_deref())
            .bind(changes.lastname.as_deref())
            .bind(changes.email.as_ref().map(Email::as_str))
            .bind(changes.phone_number.as_ref().map(PhoneNumber::as_str))
            .bind(changes.source_profile.as_deref())
            .bind(changes.status.map(UserStatus::code))
            .bind(changes.password_hash.as_deref())
            .bind(ms(now))
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| self.error(e))?
            .ok_or(fastauth_core::StoreError::NotFound)?;
        if let Some(roles) = &changes.role_ids {
            sqlx::query("delete from user_roles where user_id = $1")
                .bind(id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(|e| self.error(e))?;
            for role in roles {
                sqlx::query(GRANT_ROLE)
                    .bind(id.as_str())
                    .bind(role)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.error(e))?;
            }
        }
        let user = rows::user(&row).map_err(|e| self.error(e))?;
        let mut data = outbox::user_data(&user);
        if let Some(roles) = &changes.role_ids {
            data["role_ids"] = serde_json::json!(roles);
        }
        outbox::record(&mut tx, "user.updated", id.as_str(), &data, now).await.map_err(|e| self.error(e))?;
        if changes.status == Some(UserStatus::Disabled) {
            sqlx::query("update sessions set revoked_at = $2 where user_id = $1 and revoked_at is null")
                .bind(id.as_str())
                .bind(ms(now))
                .execute(&mut *tx)
                .await
                .map_err(|e| self.error(e))?;
        }
        tx.commit().await.map_err(|e| self.error(e))?;
        Ok(user)
    }

    async fn delete_user(&self, id: &UserId) -> StoreResult<Option<User>> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(concat!("delete from users where id = $1 returning ", user_columns!()))
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| self.error(e))?;
        let Some(row) = row else { return Ok(None) };
        let user = rows::user(&row).map_err(|e| self.error(e))?;
        let data = serde_json::json!({ "id": user.id });
        outbox::record(&mut tx, "user.deleted", id.as_str(), &data, OffsetDateTime::now_utc())
            .await
            .map_err(|e| self.error(e))?;
        tx.commit().await.map_err(|e| self.error(e))?;
        Ok(Some(user))
    }

    async fn set_pending_identifier(
        &self,
        id: &UserId,
        identifier: &Identifier,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let (sql, value) = match identifier {
            Identifier::Email(e) => ("update users set pending_email = $2, updated_at = $3 where id = $1", e.as_str()),
            Identifier::Phone(p) => ("update users set pending_phone = $2, updated_at = $3 where id = $1", p.as_str()),
        };
        sqlx::query(sql)
            .bind(id.as_str())
            .bind(value)
            .bind(ms(now))
            .execute(self.writer.turn().pool())
            .await
            .map(drop)
            .map_err(|e| self.error(e))
    }

    async fn confirm_pending_identifier(
        &self,
        identifier: &Identifier,
        now: OffsetDateTime,
    ) -> StoreResult<Option<(User, Option<String>)>> {
        let (find, apply, value) = match identifier {
            Identifier::Email(e) => (
                "select id, email as previous from users where pending_email = $1 order by updated_at desc limit 1",
                concat!(
                    "update users set email = pending_email, email_verified_at = $2, pending_email = null, updated_at = $2 where id = $1 returning ",
                    user_columns!()
                ),
                e.as_str(),
            ),
            Identifier::Phone(p) => (
                "select id, phone_number as previous from users where pending_phone = $1 order by updated_at desc limit 1",
                concat!(
                    "update users set phone_number = pending_phone, phone_verified_at = $2, pending_phone = null, updated_at = $2 where id = $1 returning ",
                    user_columns!()
                ),
                p.as_str(),
            ),
        };
        let mut tx = self.begin().await?;
        let Some(found) = sqlx::query(find).bind(value).fetch_optional(&mut *tx).await.map_err(|e| self.error(e))?
        else {
            return Ok(None);
        };
        let id: String = sqlx::Row::try_get(&found, "id").map_err(|e| self.error(e))?;
        let previous: Option<String> = sqlx::Row::try_get(&found, "previous").map_err(|e| self.error(e))?;
        // A unique violation here means someone else took the address meanwhile.
        let row = sqlx::query(apply).bind(&id).bind(ms(now)).fetch_one(&mut *tx).await.map_err(|e| self.error(e))?;
        let user = rows::user(&row).map_err(|e| self.error(e))?;
        outbox::record(&mut tx, "user.updated", &id, &outbox::user_data(&user), now)
            .await
            .map_err(|e| self.error(e))?;
        tx.commit().await.map_err(|e| self.error(e))?;
        Ok(Some((user, previous)))
    }

    async fn mark_phone_verified(&self, id: &UserId, now: OffsetDateTime) -> StoreResult<bool> {
        self.mark_verified(
            "update users set phone_verified_at = $2, updated_at = $2 where id = $1 and phone_verified_at is null",
            id,
            now,
        )
        .await
    }

    async fn mark_email_verified(&self, id: &UserId, now: OffsetDateTime) -> StoreResult<bool> {
        self.mark_verified(
            "update users set email_verified_at = $2, updated_at = $2 where id = $1 and email_verified_at is null",
            id,
            now,
        )
        .await
    }

    async fn change_password(
        &self,
        id: &UserId,
        hash: &str,
        keep: Option<&SessionId>,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("update users set password_hash = $2, updated_at = $3 where id = $1")
            .bind(id.as_str())
            .bind(hash)
            .bind(ms(now))
            .execute(&mut *tx)
            .await
            .map_err(|e| self.error(e))?;
        sqlx::query("update sessions set revoked_at = $3 where user_id = $1 and revoked_at is null and id <> $2")
            .bind(id.as_str())
            .bind(keep.map_or("", SessionId::as_str))
            .bind(ms(now))
            .execute(&mut *tx)
            .await
            .map_err(|e| self.error(e))?;
        tx.commit().await.map_err(|e| self.error(e))
    }

    async fn user_ids_with_role(&self, role: RoleId) -> StoreResult<Vec<UserId>> {
        let ids: Vec<String> = sqlx::query_scalar("select user_id from user_roles where role_id = $1 order by user_id")
            .bind(role)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        Ok(ids.into_iter().map(UserId::from_trusted).collect())
    }
}
