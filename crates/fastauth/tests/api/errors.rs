//! Bad input of every kind gets a clear 4xx problem document, never a 500.

use serde_json::json;

use crate::support::{TestApp, assert_problem};

#[tokio::test]
async fn malformed_json_is_400() {
    let app = TestApp::spawn().await;
    let res = app
        .http
        .post(app.url("/signin"))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .expect("send");
    assert_problem(res, 400, "malformed_json").await;
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415() {
    let app = TestApp::spawn().await;
    let res = app
        .http
        .post(app.url("/signin"))
        .header("content-type", "text/plain")
        .body("email=a")
        .send()
        .await
        .expect("send");
    assert_problem(res, 415, "unsupported_media_type").await;
}

#[tokio::test]
async fn a_body_over_64_kib_is_413() {
    let app = TestApp::spawn().await;
    let big = json!({"email": "a@example.com", "password": "x".repeat(70 * 1024)});
    assert_problem(app.post("/signin", big).await, 413, "payload_too_large").await;
}

#[tokio::test]
async fn wrong_field_types_and_missing_fields_are_422_with_the_field() {
    let app = TestApp::spawn().await;
    let problem =
        assert_problem(app.post("/signin", json!({"email": "a@example.com"})).await, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "password");
    assert_problem(app.post("/signin", json!({"email": 5, "password": "x"})).await, 422, "validation_failed").await;
    assert_problem(app.post("/signin", json!([1, 2])).await, 422, "validation_failed").await;
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let app = TestApp::spawn().await;
    assert_problem(app.http.get(app.url("/nope")).send().await.expect("send"), 404, "not_found").await;
    assert_problem(app.http.delete(app.url("/signin")).send().await.expect("send"), 405, "method_not_allowed").await;
}

#[tokio::test]
async fn missing_and_garbage_bearer_tokens_are_401() {
    let app = TestApp::spawn().await;
    assert_problem(app.http.get(app.url("/me")).send().await.expect("send"), 401, "unauthenticated").await;
    for token in ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", &"A".repeat(5000)] {
        assert_problem(app.get_with("/me", token).await, 401, "invalid_token").await;
    }
}

#[tokio::test]
async fn cors_answers_listed_origins_with_credentials_and_nobody_else() {
    let app = TestApp::spawn_with(&[("CORS_ORIGINS", "https://app.example.org"), ("BASE_DOMAIN", "example.com")]).await;
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, app.url("/signin"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    for allowed in ["https://app.example.org", "https://shop.example.com"] {
        let res = preflight(allowed).await.expect("send");
        assert_eq!(res.headers()["access-control-allow-origin"], allowed);
        assert_eq!(res.headers()["access-control-allow-credentials"], "true");
    }
    for refused in ["https://evil.example.net", "http://shop.example.com", "null"] {
        let res = preflight(refused).await.expect("send");
        assert!(res.headers().get("access-control-allow-origin").is_none(), "{refused} must get no CORS headers");
    }
    let res = app.http.get(app.url("/healthz")).header("origin", "https://app.example.org").send().await.expect("send");
    assert_eq!(res.headers()["access-control-allow-origin"], "https://app.example.org");
}
