//! The event outbox: `record` writes an event inside the transaction of the change it describes,
//! so an event exists if and only if its change committed; the rest serves the dispatcher.

use async_trait::async_trait;
use fastauth_core::model::{OutboxEvent, Role, User};
use fastauth_core::ports::{OutboxStore, StoreResult};
use serde_json::{Value, json};
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

use crate::SqlStore;
use crate::rows::{from_ms, ms};

/// An outbox row from the parameters (or literals) given.
macro_rules! insert_outbox_event {
    ($uid:literal, $kind:literal, $subject:literal, $payload:literal, $now:literal) => {
        concat!(
            "insert into outbox_events (uid, event_type, subject, payload, created_at) values (",
            $uid,
            ", ",
            $kind,
            ", ",
            $subject,
            ", ",
            $payload,
            ", ",
            $now,
            ")"
        )
    };
}
pub(crate) use insert_outbox_event;

/// Adds an event to the outbox on `conn`, the change's transaction.
pub(crate) async fn record(
    conn: &mut AnyConnection,
    kind: &str,
    subject: &str,
    data: &Value,
    now: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    sqlx::query(insert_outbox_event!("$1", "$2", "$3", "$4", "$5"))
        .bind(new_uid())
        .bind(kind)
        .bind(subject)
        .bind(data.to_string())
        .bind(ms(now))
        .execute(conn)
        .await
        .map(drop)
}

/// A new event's uid.
pub(crate) fn new_uid() -> String {
    format!("evt_{}", uuid::Uuid::now_v7().simple())
}

/// What events say about a user: who it is, never its secrets.
pub(crate) fn user_data(user: &User) -> Value {
    json!({
        "id": user.id,
        "firstname": user.firstname,
        "lastname": user.lastname,
        "email": user.email,
        "phone_number": user.phone_number,
        "status": user.status.code(),
    })
}

pub(crate) fn role_data(role: &Role) -> Value {
    json!({
        "id": role.id,
        "role_name": role.role_name,
        "permissions": role.permissions,
        "is_active": role.is_active,
        "application": role.application,
    })
}

/// The subject key of a role's events.
pub(crate) fn role_subject(role: &Role) -> String {
    format!("role:{}", role.id)
}

#[async_trait]
impl OutboxStore for SqlStore {
    async fn lease_endpoint(
        &self,
        endpoint: &str,
        holder: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "insert into webhook_endpoints (endpoint, start_after, holder, lease_until) \
             values ($1, coalesce((select max(id) from outbox_events), 0), $2, $4) \
             on conflict (endpoint) do update set holder = excluded.holder, lease_until = excluded.lease_until \
             where webhook_endpoints.holder = excluded.holder or webhook_endpoints.lease_until < $3",
        )
        .bind(endpoint)
        .bind(holder)
        .bind(ms(now))
        .bind(ms(until))
        .execute(self.writer.turn().pool())
        .await
        .map_err(|e| self.error(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn undelivered_events(&self, endpoint: &str, limit: u32) -> StoreResult<Vec<OutboxEvent>> {
        let rows = sqlx::query(
            "select e.id, e.uid, e.event_type, e.subject, e.payload, e.created_at \
             from outbox_events e join webhook_endpoints w on w.endpoint = $1 \
             where e.id > w.start_after and not exists \
               (select 1 from webhook_deliveries d where d.endpoint = $1 and d.event_id = e.id) \
             order by e.id limit $2",
        )
        .bind(endpoint)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        let read = |r: &sqlx::any::AnyRow| -> Result<OutboxEvent, sqlx::Error> {
            Ok(OutboxEvent {
                id: r.try_get("id")?,
                uid: r.try_get("uid")?,
                kind: r.try_get("event_type")?,
                subject: r.try_get("subject")?,
                data: r.try_get("payload")?,
                created_at: from_ms(r.try_get("created_at")?)?,
            })
        };
        rows.iter().map(read).collect::<Result<_, _>>().map_err(|e| self.error(e))
    }

    async fn mark_delivered(&self, endpoint: &str, event_id: i64, now: OffsetDateTime) -> StoreResult<()> {
        sqlx::query(
            "insert into webhook_deliveries (endpoint, event_id, delivered_at) values ($1, $2, $3) \
             on conflict do nothing",
        )
        .bind(endpoint)
        .bind(event_id)
        .bind(ms(now))
        .execute(self.writer.turn().pool())
        .await
        .map(drop)
        .map_err(|e| self.error(e))
    }
}
