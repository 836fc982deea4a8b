//! Retention: old audit rows, and codes, reset tokens, sessions and delivered events that are
//! of no use any more.

use fastauth_core::ports::StoreResult;
use time::OffsetDateTime;

use crate::SqlStore;
use crate::rows::ms;

/// Each statement deletes what is older than its bound time ($1).
const PURGES: &[(&str, Bound)] = &[
    ("delete from audit_events where at < $1", Bound::Audit),
    ("delete from otp_codes where expires_at < $1", Bound::Expired),
    ("delete from reset_tokens where expires_at < $1", Bound::Expired),
    // Refresh tokens go with their session (on delete cascade).
    ("delete from sessions where revoked_at < $1 or idle_expires_at < $1 or absolute_expires_at < $1", Bound::Expired),
    // An event goes once every endpoint that should get it has it.
    (
        "delete from outbox_events where created_at < $1 and not exists ( \
           select 1 from webhook_endpoints w where w.start_after < outbox_events.id and not exists ( \
             select 1 from webhook_deliveries d where d.endpoint = w.endpoint and d.event_id = outbox_events.id))",
        Bound::Expired,
    ),
];

#[derive(Clone, Copy)]
enum Bound {
    Audit,
    Expired,
}

impl SqlStore {
    /// Deletes audit rows older than `audit_before`, and what expired or ended before
    /// `expired_before`; returns how many rows went.
    pub(crate) async fn purge_old(
        &self,
        audit_before: OffsetDateTime,
        expired_before: OffsetDateTime,
    ) -> StoreResult<u64> {
        let mut deleted = 0;
        for &(sql, bound) in PURGES {
            let before = match bound {
                Bound::Audit => audit_before,
                Bound::Expired => expired_before,
            };
            let done = sqlx::query(sql)
                .bind(ms(before))
                .execute(self.writer.turn().pool())
                .await
                .map_err(|e| self.error(e))?;
            deleted += done.rows_affected();
        }
        Ok(deleted)
    }
}
