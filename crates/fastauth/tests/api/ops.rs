//! Health, readiness through a database outage, metrics, the OpenAPI document and `/docs`.

use std::time::{Duration, Instant};

use fastauth_store::testing::TestDb;
use serde_json::Value;

use crate::support::proxy::Proxy;
use crate::support::{TestApp, assert_problem};

#[tokio::test]
async fn healthz_and_readyz_answer() {
    let app = TestApp::spawn().await;
    let health: Value = app.http.get(app.url("/healthz")).send().await.expect("send").json().await.expect("json");
    assert_eq!(health["status"], "ok");
    assert_eq!(app.http.get(app.url("/readyz")).send().await.expect("send").status(), 200);
}

/// The database vanishes under the service: requests that need it get a quick 503, `/readyz`
/// says so, and everything recovers without a restart when it returns.
#[tokio::test]
async fn a_database_outage_gives_quick_503s_and_recovers_by_itself() {
    let db = TestDb::postgres().await;
    let target = "127.0.0.1:5432".parse().expect("addr");
    let proxy = Proxy::start(target).await;
    let via_proxy = db.url.replace("127.0.0.1:5432", &proxy.addr.to_string());
    let app = TestApp::spawn_on(db, &via_proxy, &[("DATABASE_TIMEOUT_MS", "1000")]).await;
    let user = app.user().create().await;
    let tokens = user.sign_in(&app).await;

    proxy.cut();
    let started = Instant::now();
    assert_problem(app.http.get(app.url("/readyz")).send().await.expect("send"), 503, "unavailable").await;
    let res = app.get_with("/me", &tokens.access).await;
    assert_eq!(
        res.headers().get("retry-after").map(|v| v.to_str().unwrap_or_default().to_owned()).as_deref(),
        Some("1")
    );
    assert_problem(res, 503, "unavailable").await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "503s come within the pool timeout, took {:?}",
        started.elapsed()
    );
    assert_eq!(
        app.http.get(app.url("/healthz")).send().await.expect("send").status(),
        200,
        "liveness does not need the database"
    );

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.http.get(app.url("/readyz")).send().await.expect("send").status() != 200 {
        assert!(Instant::now() < deadline, "no recovery within 10 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.get_with("/me", &tokens.access).await.status(), 200);
}

/// Sign-ups and validations from 8 clients while the database is cut for 3 s: every answer is
/// 2xx or a 503 within the pool timeout (never a 500 or a hang), and every sign-up that was
/// answered 201 is in the database afterwards.
#[tokio::test]
async fn a_database_cut_under_load_loses_no_acknowledged_write() {
    let db = TestDb::postgres().await;
    let direct = db.url.clone();
    let proxy = Proxy::start("127.0.0.1:5432".parse().expect("addr")).await;
    let via_proxy = db.url.replace("127.0.0.1:5432", &proxy.addr.to_string());
    let vars = [("DATABASE_TIMEOUT_MS", "1000"), ("RATE_LIMITS", "off")];
    let app = std::sync::Arc::new(TestApp::spawn_on(db, &via_proxy, &vars).await);
    let access = app.user().create().await.sign_in(&app).await.access;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..8)
        .map(|i| {
            let (app, stop, access) = (app.clone(), stop.clone(), access.clone());
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let started = Instant::now();
                    let (email, res) = if i % 2 == 0 {
                        let email = crate::support::unique_email();
                        let body = serde_json::json!({"firstname": "Load", "lastname": "Test", "email": email, "password": crate::support::PASSWORD});
                        (Some(email), app.post("/signup", body).await)
                    } else {
                        (None, app.http.get(app.url("/token")).bearer_auth(&access).send().await.expect("send"))
                    };
                    seen.push((email, res.status().as_u16(), started.elapsed()));
                }
                seen
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    proxy.cut();
    tokio::time::sleep(Duration::from_secs(3)).await;
    proxy.restore();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut results = Vec::new();
    for client in clients {
        results.extend(client.await.expect("client"));
    }
    let count = |status: u16| results.iter().filter(|r| r.1 == status).count();
    assert!(
        results.iter().all(|r| matches!(r.1, 200 | 201 | 503)),
        "only 2xx and 503: {:?}",
        results.iter().map(|r| r.1).collect::<std::collections::BTreeSet<_>>()
    );
    assert!(count(503) > 0 && count(201) > 0 && count(200) > 0);
    let slowest = results.iter().map(|r| r.2).max().expect("results");
    assert!(slowest < Duration::from_millis(2500), "no request hangs past the 1 s pool timeout much: {slowest:?}");
    let last = results.iter().rev().find(|r| r.0.is_some()).expect("a sign-up");
    assert_eq!(last.1, 201, "sign-ups succeed again after the outage");

    let check = fastauth_store::SqlStore::connect(&direct, &Default::default()).expect("direct");
    let acknowledged: Vec<&String> = results.iter().filter(|r| r.1 == 201).filter_map(|r| r.0.as_ref()).collect();
    for email in &acknowledged {
        let email = fastauth_core::email::Email::parse(email).expect("email");
        use fastauth_core::ports::UserStore;
        assert!(check.find_user_by_email(&email).await.expect("query").is_some(), "acknowledged sign-up lost");
    }
    eprintln!(
        "outage under load: {} requests, {} acknowledged sign-ups all present, {} quick 503s, slowest {slowest:?}",
        results.len(),
        acknowledged.len(),
        count(503)
    );
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = TestApp::spawn().await;
    let _ = app.post("/signin", serde_json::json!({"email": "nobody@example.com", "password": "wrong password"})).await;
    let res = app.http.get(app.url("/metrics")).send().await.expect("send");
    assert!(res.headers()["content-type"].to_str().expect("ascii").starts_with("text/plain"));
    let text = res.text().await.expect("text");
    assert!(
        text.contains("fastauth_http_requests_total{method=\"POST\",route=\"/signin\",status=\"401\"} 1"),
        "{text}"
    );
    assert!(text.contains("fastauth_signin_total{outcome=\"invalid_credentials\"} 1"));
    assert!(text.contains("fastauth_http_request_duration_seconds_bucket{route=\"/signin\",le=\"+Inf\"} 1"));
    assert!(text.contains("fastauth_hash_queue_waiting 0"));
    assert!(!text.contains("nobody@example.com"));
}

#[tokio::test]
async fn the_openapi_document_lists_every_route_and_docs_work_offline() {
    let app = TestApp::spawn().await;
    let doc: Value = app.http.get(app.url("/openapi.json")).send().await.expect("send").json().await.expect("json");
    assert!(doc["openapi"].as_str().expect("version").starts_with("3.1"));
    for path in [
        "/signup",
        "/signin",
        "/token",
        "/refresh-token",
        "/logout",
        "/me",
        "/sessions",
        "/sessions/{id}",
        "/.well-known/jwks.json",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing from the OpenAPI document");
    }
    let page = app.http.get(app.url("/docs/")).send().await.expect("send");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("swagger-ui"));
    assert!(!html.contains("https://"), "the page must not load anything from the internet");
    let script = app.http.get(app.url("/docs/swagger-ui-bundle.js")).send().await.expect("send");
    assert_eq!(script.status(), 200);
    let init =
        app.http.get(app.url("/docs/swagger-initializer.js")).send().await.expect("send").text().await.expect("js");
    assert!(init.contains("/openapi.json"));
}

#[test]
fn the_openapi_document_matches_its_snapshot() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/openapi.snapshot.json");
    let current = fastauth::http::openapi().to_pretty_json().expect("json");
    if std::env::var("UPDATE_SNAPSHOTS").is_ok() {
        std::fs::write(path, &current).expect("write snapshot");
    }
    let pinned = std::fs::read_to_string(path).expect("snapshot exists (UPDATE_SNAPSHOTS=1 writes it)");
    assert_eq!(current, pinned, "the API changed: review it, then rerun with UPDATE_SNAPSHOTS=1");
}
