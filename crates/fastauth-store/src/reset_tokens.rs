//! Password reset tokens.

use async_trait::async_trait;
use fastauth_core::ids::UserId;
use fastauth_core::ports::{ResetTokenStore, StoreResult};
use time::OffsetDateTime;

use crate::SqlStore;
use crate::rows::ms;

#[async_trait]
impl ResetTokenStore for SqlStore {
    async fn create_reset_token(
        &self,
        user: &UserId,
        hash: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query("insert into reset_tokens (token_hash, user_id, created_at, expires_at) values ($1, $2, $3, $4)")
            .bind(hash)
            .bind(user.as_str())
            .bind(ms(now))
            .bind(ms(expires_at))
            .execute(self.writer.turn().pool())
            .await
            .map(drop)
            .map_err(|e| self.error(e))
    }

    async fn find_reset_token(&self, hash: &str, now: OffsetDateTime) -> StoreResult<Option<UserId>> {
        let user: Option<String> = sqlx::query_scalar(
            "select user_id from reset_tokens where token_hash = $1 and used_at is null and expires_at > $2",
        )
        .bind(hash)
        .bind(ms(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        Ok(user.map(UserId::from_trusted))
    }

    async fn consume_reset_token(
        &self,
        hash: &str,
        password_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<UserId>> {
        let mut tx = self.begin().await?;
        let user: Option<String> = sqlx::query_scalar(
            "update reset_tokens set used_at = $2 where token_hash = $1 and used_at is null and expires_at > $2 \
             returning user_id",
        )
        .bind(hash)
        .bind(ms(now))
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.error(e))?;
        let Some(user) = user else { return Ok(None) };
        sqlx::query(
            "update users set password_hash = $2, email_verified_at = coalesce(email_verified_at, $3), updated_at = $3 \
             where id = $1",
        )
        .bind(&user)
        .bind(password_hash)
        .bind(ms(now))
        .execute(&mut *tx)
        .await
        .map_err(|e| self.error(e))?;
        sqlx::query("update sessions set revoked_at = $2 where user_id = $1 and revoked_at is null")
            .bind(&user)
            .bind(ms(now))
            .execute(&mut *tx)
            .await
            .map_err(|e| self.error(e))?;
        tx.commit().await.map_err(|e| self.error(e))?;
        Ok(Some(UserId::from_trusted(user)))
    }
}
