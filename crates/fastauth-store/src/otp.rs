//! One-time codes.

use async_trait::async_trait;
use fastauth_core::ports::{OtpCheck, OtpIssue, OtpStore, OtpTarget, SmsConversion, StoreResult};
use sqlx::Row;
use time::OffsetDateTime;

use crate::SqlStore;
use crate::rows::{from_ms, ms};

/// A code that can still be checked; $1 destination, $2 channel, $3 client, $4 now, $5 max tries.
macro_rules! live_code {
    () => {
        "destination = $1 and channel = $2 and client_id = $3 and consumed_at is null and voided_at is null \
         and expires_at > $4 and attempts < $5"
    };
}

#[async_trait]
impl OtpStore for SqlStore {
    async fn issue_otp(
        &self,
        target: &OtpTarget,
        code_hash: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
        cooldown: time::Duration,
        hourly_max: i64,
    ) -> StoreResult<OtpIssue> {
        let mut tx = self.begin().await?;
        // Voiding first takes the write lock, so concurrent requests for one destination queue
        // up here and each sees the codes the others stored.
        sqlx::query("update otp_codes set voided_at = $4 where destination = $1 and channel = $2 and client_id = $3 and voided_at is null and consumed_at is null")
            .bind(&target.destination)
            .bind(target.channel)
            .bind(&target.client_id)
            .bind(ms(now))
            .execute(&mut *tx)
            .await
            .map_err(|e| self.error(e))?;
        let hour_ago = ms(now - time::Duration::HOUR);
        let (count, oldest, newest): (i64, Option<i64>, Option<i64>) = sqlx::query_as(
            "select count(*), min(created_at), max(created_at) from otp_codes where destination = $1 and channel = $2 and created_at > $3",
        )
        .bind(&target.destination)
        .bind(target.channel)
        .bind(hour_ago)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.error(e))?;
        let cooldown_ms = cooldown.whole_milliseconds() as i64;
        let wait_ms = match (newest, oldest) {
            (Some(newest), _) if ms(now) - newest < cooldown_ms => Some(newest + cooldown_ms - ms(now)),
            (_, Some(oldest)) if count >= hourly_max => Some(oldest + 3_600_000 - ms(now)),
            _ => None,
        };
        if let Some(wait) = wait_ms {
            // Keep the earlier code usable: the refusal must not void it.
            tx.rollback().await.map_err(|e| self.error(e))?;
            return Ok(OtpIssue::Limited { retry_after_secs: (wait + 999) / 1000 });
        }
        sqlx::query(
            "insert into otp_codes (id, destination, channel, client_id, code_hash, created_at, expires_at) \
             values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(&target.destination)
        .bind(target.channel)
        .bind(&target.client_id)
        .bind(code_hash)
        .bind(ms(now))
        .bind(ms(expires_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| self.error(e))?;
        tx.commit().await.map_err(|e| self.error(e))?;
        Ok(OtpIssue::Issued)
    }

    async fn check_otp(
        &self,
        target: &OtpTarget,
        code_hash: &str,
        now: OffsetDateTime,
        max_attempts: i64,
    ) -> StoreResult<OtpCheck> {
        let consumed =
            sqlx::query(concat!("update otp_codes set consumed_at = $4 where ", live_code!(), " and code_hash = $6"))
                .bind(&target.destination)
                .bind(target.channel)
                .bind(&target.client_id)
                .bind(ms(now))
                .bind(max_attempts)
                .bind(code_hash)
                .execute(self.writer.turn().pool())
                .await
                .map_err(|e| self.error(e))?;
        if consumed.rows_affected() == 1 {
            return Ok(OtpCheck::Verified);
        }
        sqlx::query(concat!("update otp_codes set attempts = attempts + 1 where ", live_code!()))
            .bind(&target.destination)
            .bind(target.channel)
            .bind(&target.client_id)
            .bind(ms(now))
            .bind(max_attempts)
            .execute(self.writer.turn().pool())
            .await
            .map_err(|e| self.error(e))?;
        Ok(OtpCheck::Rejected)
    }

    async fn count_sms_sent(&self, since: OffsetDateTime, prefix: Option<&str>) -> StoreResult<i64> {
        // Prefixes are digits after a `+`, so they need no LIKE escaping.
        let pattern = prefix.map_or_else(|| "%".to_owned(), |p| format!("{p}%"));
        sqlx::query_scalar("select count(*) from otp_codes where channel = 'sms' and provider is not null and created_at > $1 and destination like $2")
            .bind(ms(since))
            .bind(pattern)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.error(e))
    }

    async fn sms_conversion(&self, prefix: &str, window: i64) -> StoreResult<SmsConversion> {
        let row = sqlx::query(
            "select count(*) as sent, coalesce(sum(case when consumed_at is null then 0 else 1 end), 0) as verified, \
             max(created_at) as newest from (select consumed_at, created_at from otp_codes \
             where channel = 'sms' and provider is not null and destination like $1 \
             order by created_at desc limit $2) recent",
        )
        .bind(format!("{prefix}%"))
        .bind(window)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        let read = || -> Result<SmsConversion, sqlx::Error> {
            Ok(SmsConversion {
                sent: row.try_get("sent")?,
                verified: row.try_get("verified")?,
                newest: row.try_get::<Option<i64>, _>("newest")?.map(from_ms).transpose()?,
            })
        };
        read().map_err(|e| self.error(e))
    }

    async fn set_otp_provider(&self, target: &OtpTarget, provider: &str, now: OffsetDateTime) -> StoreResult<()> {
        sqlx::query(concat!("update otp_codes set provider = $6 where ", live_code!()))
            .bind(&target.destination)
            .bind(target.channel)
            .bind(&target.client_id)
            .bind(ms(now))
            .bind(i64::MAX)
            .bind(provider)
            .execute(self.writer.turn().pool())
            .await
            .map(drop)
            .map_err(|e| self.error(e))
    }

    async fn live_otp_provider(
        &self,
        target: &OtpTarget,
        now: OffsetDateTime,
        max_attempts: i64,
    ) -> StoreResult<Option<String>> {
        let provider: Option<Option<String>> = sqlx::query_scalar(concat!(
            "select provider from otp_codes where ",
            live_code!(),
            " order by created_at desc limit 1"
        ))
        .bind(&target.destination)
        .bind(target.channel)
        .bind(&target.client_id)
        .bind(ms(now))
        .bind(max_attempts)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        Ok(provider.flatten())
    }

    async fn settle_otp(
        &self,
        target: &OtpTarget,
        approved: bool,
        now: OffsetDateTime,
        max_attempts: i64,
    ) -> StoreResult<OtpCheck> {
        let sql = if approved {
            concat!("update otp_codes set consumed_at = $4 where ", live_code!())
        } else {
            concat!("update otp_codes set attempts = attempts + 1 where ", live_code!())
        };
        let done = sqlx::query(sql)
            .bind(&target.destination)
            .bind(target.channel)
            .bind(&target.client_id)
            .bind(ms(now))
            .bind(max_attempts)
            .execute(self.writer.turn().pool())
            .await
            .map_err(|e| self.error(e))?;
        Ok(if approved && done.rows_affected() >= 1 { OtpCheck::Verified } else { OtpCheck::Rejected })
    }
}
