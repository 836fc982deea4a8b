//! The audit trail.

use async_trait::async_trait;
use fastauth_core::ids::UserId;
use fastauth_core::model::{AuditEvent, AuditFilter, NewAuditEvent};
use fastauth_core::ports::{AuditStore, StoreResult};

use crate::SqlStore;
use crate::args::Args;
use crate::rows::{self, ms};

/// An audit row's columns, in the order `event_args` adds them.
macro_rules! audit_columns {
    () => {
        "type, at, actor_id, subject_id, ip, details"
    };
}
pub(crate) use audit_columns;

/// Adds the next six parameters: `e`'s columns (`audit_columns!`), or nulls.
pub(crate) fn event_args(args: Args, e: Option<&NewAuditEvent>) -> Args {
    args.add(e.map(|e| e.kind))
        .add(e.map(|e| ms(e.at)))
        .add(e.and_then(|e| e.actor_id.as_ref().map(UserId::as_str)))
        .add(e.and_then(|e| e.subject_id.as_ref().map(UserId::as_str)))
        .add(e.and_then(|e| e.ip.as_deref()))
        .add(e.map(|e| e.details.to_string()))
}

/// Writes one audit row, on its own or inside the transaction of the change it records.
pub(crate) async fn insert_event<'c>(
    db: impl sqlx::Executor<'c, Database = sqlx::Any>,
    e: &NewAuditEvent,
) -> Result<(), sqlx::Error> {
    let insert = concat!("insert into audit_events (", audit_columns!(), ") values ($1, $2, $3, $4, $5, $6)");
    event_args(Args::default(), Some(e)).query(insert).execute(db).await.map(drop)
}

#[async_trait]
impl AuditStore for SqlStore {
    async fn record_audit(&self, e: &NewAuditEvent) -> StoreResult<()> {
        insert_event(self.writer.turn().pool(), e).await.map_err(|err| self.error(err))
    }

    async fn list_audit(&self, f: &AuditFilter) -> StoreResult<Vec<AuditEvent>> {
        let rows = sqlx::query(
            "select id, type, at, actor_id, subject_id, ip, details from audit_events \
             where ($1 = '' or subject_id = $1 or actor_id = $1) and ($2 = '' or type = $2) \
             and at >= $3 and at <= $4 and id < $5 order by id desc limit $6",
        )
        .bind(f.user.as_ref().map_or("", UserId::as_str))
        .bind(f.kind.as_deref().unwrap_or(""))
        .bind(f.since.map_or(i64::MIN, ms))
        .bind(f.until.map_or(i64::MAX, ms))
        .bind(f.before.unwrap_or(i64::MAX))
        .bind(i64::from(f.limit))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        rows.iter().map(rows::audit_event).collect::<Result<_, _>>().map_err(|e| self.error(e))
    }
}
