//! Per-request logging and metrics. Logs name the route template, never the raw path or query
//! (they can hold tokens), and carry a request id that is also returned as `x-request-id`.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::response::Response;
use tracing::Instrument;

use super::problem::InternalError;
use crate::app::App;

/// A request id unique across instances and restarts: a random per-process prefix and a
/// counter (no system call per request, unlike a random UUID).
fn new_request_id() -> String {
    static PREFIX: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let prefix =
        PREFIX.get_or_init(|| u64::from_le_bytes(*uuid::Uuid::new_v4().as_bytes().first_chunk().unwrap_or(&[0; 8])));
    format!("{prefix:016x}-{:x}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

/// Answers `req` with `handle`, logging and counting the answer under the request's id.
pub async fn observe(app: &App, req: Request, handle: impl AsyncFnOnce(Request) -> Response) -> Response {
    let start = Instant::now();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .map_or_else(new_request_id, str::to_owned);
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_owned();
    let method = req.method().to_string();
    let span = tracing::info_span!("request", request_id = %request_id, method = %method, route = %route);
    let mut response = handle(req).instrument(span.clone()).await;
    let elapsed = start.elapsed();
    let status = response.status().as_u16();
    app.metrics.record_request(&method, &route, status, elapsed);
    let _entered = span.enter();
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    if let Some(InternalError(err)) = response.extensions().get::<InternalError>() {
        tracing::error!(status, latency_ms, error = %err, "request failed");
    } else {
        tracing::info!(status, latency_ms, "request");
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}
