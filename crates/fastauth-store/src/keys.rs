//! Signing keys (private halves encrypted by the core before they get here).

use async_trait::async_trait;
use fastauth_core::model::SigningKeyRecord;
use fastauth_core::ports::{KeyStore, StoreResult};
use time::OffsetDateTime;

use crate::SqlStore;
use crate::rows::{self, ms};

#[async_trait]
impl KeyStore for SqlStore {
    async fn rotate_signing_key(&self, key: &SigningKeyRecord, now: OffsetDateTime) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("update signing_keys set retired_at = $1 where retired_at is null and revoked_at is null")
            .bind(ms(now))
            .execute(&mut *tx)
            .await
            .map_err(|e| self.error(e))?;
        sqlx::query(
            "insert into signing_keys (kid, algorithm, private_key_encrypted, created_at) values ($1, $2, $3, $4)",
        )
        .bind(&key.kid)
        .bind(&key.algorithm)
        .bind(&key.private_key_encrypted)
        .bind(ms(key.created_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| self.error(e))?;
        tx.commit().await.map_err(|e| self.error(e))
    }

    async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        let rows = sqlx::query(
            "select kid, algorithm, private_key_encrypted, created_at, retired_at, revoked_at from signing_keys \
             where revoked_at is null order by created_at desc, kid desc",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        rows.iter().map(rows::signing_key).collect::<Result<_, _>>().map_err(|e| self.error(e))
    }

    async fn revoke_signing_key(&self, kid: &str, now: OffsetDateTime) -> StoreResult<bool> {
        let done = sqlx::query("update signing_keys set revoked_at = $2 where kid = $1 and revoked_at is null")
            .bind(kid)
            .bind(ms(now))
            .execute(self.writer.turn().pool())
            .await
            .map_err(|e| self.error(e))?;
        Ok(done.rows_affected() == 1)
    }
}
