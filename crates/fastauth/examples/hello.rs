//! The baseline for bench/run: the smallest axum server answering JSON, on HELLO_ADDR.

use axum::Json;
use axum::routing::get;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::var("HELLO_ADDR").unwrap_or_else(|_| "127.0.0.1:8001".into());
    let app = axum::Router::new().route("/", get(|| async { Json(serde_json::json!({ "status": "ok" })) }));
    axum::serve(tokio::net::TcpListener::bind(addr).await?, app).await
}
