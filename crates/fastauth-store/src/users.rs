//! Users and their role assignments.

use async_trait::async_trait;
use fastauth_core::email::Email;
use fastauth_core::ids::{RoleId, UserId};
use fastauth_core::model::{NewUser, User, UserStatus};
use fastauth_core::phone::PhoneNumber;
use fastauth_core::ports::{StoreResult, UserStore};
use time::OffsetDateTime;

use crate::SqlStore;
use crate::rows::{self, ms, user_columns};

const INSERT_USER: &str = "insert into users (id, firstname, lastname, email, phone_number, password_hash, \
     source_profile, status, email_verified_at, phone_verified_at, created_at, updated_at) \
     values ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9, $10, $10)";
const GRANT_ROLE: &str = "insert into user_roles (user_id, role_id) values ($1, $2) on conflict do nothing";

impl SqlStore {
    async fn find_user_where(&self, sql: &'static str, value: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(sql).bind(value).fetch_optional(&self.pool).await.map_err(|e| self.error(e))?;
        row.map(|r| rows::user(&r)).transpose().map_err(|e| self.error(e))
    }
}

#[async_trait]
impl UserStore for SqlStore {
    async fn create_user_with_roles(&self, user: &NewUser, now: OffsetDateTime) -> StoreResult<User> {
        let mut tx = self.begin().await?;
        sqlx::query(INSERT_USER)
            .bind(user.id.as_str())
            .bind(&user.firstname)
            .bind(&user.lastname)
            .bind(user.email.as_ref().map(Email::as_str))
            .bind(user.phone_number.as_ref().map(PhoneNumber::as_str))
            .bind(user.password_hash.as_deref())
            .bind(user.source_profile.as_deref())
            .bind(user.email_verified_at.map(ms))
            .bind(user.phone_verified_at.map(ms))
            .bind(ms(now))
            .execute(&mut *tx)
            .await
            .map_err(|e| self.error(e))?;
        for role in &user.role_ids {
            sqlx::query(GRANT_ROLE)
                .bind(user.id.as_str())
                .bind(role)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.error(e))?;
        }
        tx.commit().await.map_err(|e| self.error(e))?;
        let row = sqlx::query(concat!("select ", user_columns!(), " from users where id = $1"))
            .bind(user.id.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        rows::user(&row).map_err(|e| self.error(e))
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
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(|e| self.error(e))
    }

    async fn set_user_status(&self, id: &UserId, status: UserStatus, now: OffsetDateTime) -> StoreResult<()> {
        sqlx::query("update users set status = $2, updated_at = $3 where id = $1")
            .bind(id.as_str())
            .bind(status.code())
            .bind(ms(now))
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(|e| self.error(e))
    }

    async fn grant_role(&self, id: &UserId, role: RoleId) -> StoreResult<()> {
        sqlx::query(GRANT_ROLE)
            .bind(id.as_str())
            .bind(role)
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(|e| self.error(e))
    }
}
