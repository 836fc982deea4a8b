//! Delivers outbox events to WEBHOOK_URLS (SPEC section 8): signed per Standard Webhooks, at
//! least once, in order per subject, retried with backoff while a receiver is down. One instance
//! at a time delivers to an endpoint, under a lease kept in the database.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fastauth_core::StoreError;
use fastauth_core::model::OutboxEvent;
use fastauth_core::ports::Store;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::signature::WebhookSecrets;

/// How often each instance looks for undelivered events.
const POLL: Duration = Duration::from_millis(500);
/// How long a lease lasts unless renewed (before each delivery).
const LEASE: time::Duration = time::Duration::seconds(30);
const BATCH: u32 = 100;
/// A delivery that has not answered by then failed.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);
/// Retries wait 1 s, 2 s, 4 s … up to this.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Registers each endpoint (it receives the events from now on) and starts delivering in the
/// background, when WEBHOOK_URLS is set.
pub async fn spawn(store: Arc<dyn Store>, endpoints: Vec<String>, secrets: WebhookSecrets) -> anyhow::Result<()> {
    if endpoints.is_empty() {
        return Ok(());
    }
    let http =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).timeout(DELIVERY_TIMEOUT).build()?;
    let holder = format!("instance-{}", uuid::Uuid::new_v4().simple());
    let mut dispatcher = Dispatcher { store, http, secrets, holder, retries: HashMap::new() };
    for endpoint in &endpoints {
        dispatcher.renew_lease(endpoint).await?;
    }
    tokio::spawn(async move {
        loop {
            for endpoint in &endpoints {
                if let Err(e) = dispatcher.deliver_pending(endpoint).await {
                    tracing::warn!(endpoint, error = %e, "could not read the event outbox; will retry");
                }
            }
            tokio::time::sleep(POLL).await;
        }
    });
    Ok(())
}

struct Dispatcher {
    store: Arc<dyn Store>,
    http: reqwest::Client,
    secrets: WebhookSecrets,
    holder: String,
    /// Failed deliveries: (endpoint, event id) → (attempts, when to try again).
    retries: HashMap<(String, i64), (u32, Instant)>,
}

impl Dispatcher {
    async fn deliver_pending(&mut self, endpoint: &str) -> Result<(), StoreError> {
        if !self.renew_lease(endpoint).await? {
            return Ok(());
        }
        let events = self.store.undelivered_events(endpoint, BATCH).await?;
        // Retry state of events delivered meanwhile (by another instance) is of no use any more.
        let pending: HashSet<i64> = events.iter().map(|e| e.id).collect();
        self.retries.retain(|(ep, id), _| ep != endpoint || pending.contains(id));
        // A subject whose earlier event is still undelivered waits: order per subject holds.
        let mut held: HashSet<String> = HashSet::new();
        for event in events {
            if held.contains(&event.subject) {
                continue;
            }
            let key = (endpoint.to_owned(), event.id);
            if self.retries.get(&key).is_some_and(|(_, at)| Instant::now() < *at) {
                held.insert(event.subject);
                continue;
            }
            // Another instance may have taken over while this one waited on a receiver.
            if !self.renew_lease(endpoint).await? {
                return Ok(());
            }
            match self.post(endpoint, &event).await {
                Ok(()) => {
                    self.store.mark_delivered(endpoint, event.id, OffsetDateTime::now_utc()).await?;
                    self.retries.remove(&key);
                }
                Err(reason) => {
                    let attempts = self.retries.get(&key).map_or(1, |(n, _)| n + 1);
                    let wait = Duration::from_secs(1 << attempts.min(9).saturating_sub(1)).min(MAX_BACKOFF);
                    tracing::warn!(endpoint, event = %event.uid, attempts, retry_in_s = wait.as_secs(), %reason, "webhook delivery failed");
                    self.retries.insert(key, (attempts, Instant::now() + wait));
                    held.insert(event.subject);
                }
            }
        }
        Ok(())
    }

    async fn renew_lease(&self, endpoint: &str) -> Result<bool, StoreError> {
        let now = OffsetDateTime::now_utc();
        self.store.lease_endpoint(endpoint, &self.holder, now, now + LEASE).await
    }

    /// One signed POST; any 2xx is an acknowledgement.
    async fn post(&self, endpoint: &str, event: &OutboxEvent) -> Result<(), String> {
        let body = body(event)?;
        let timestamp = OffsetDateTime::now_utc().unix_timestamp();
        let mut request =
            self.http.post(endpoint).header(reqwest::header::CONTENT_TYPE, "application/json").body(body.clone());
        for (name, value) in self.secrets.headers(&event.uid, timestamp, body.as_bytes()) {
            request = request.header(name, value);
        }
        let response = request.send().await.map_err(|e| format!("no answer: {e}"))?;
        if response.status().is_success() { Ok(()) } else { Err(format!("answered {}", response.status())) }
    }
}

/// The Standard Webhooks payload: `type`, `timestamp` and `data`.
fn body(event: &OutboxEvent) -> Result<String, String> {
    let data: serde_json::Value = serde_json::from_str(&event.data).map_err(|e| format!("stored payload: {e}"))?;
    let timestamp = event.created_at.format(&Rfc3339).map_err(|e| e.to_string())?;
    Ok(serde_json::json!({ "type": event.kind, "timestamp": timestamp, "data": data }).to_string())
}
