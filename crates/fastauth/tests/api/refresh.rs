//! Refresh rotation, reuse detection, the cookie, logout.

use serde_json::{Value, json};

use crate::support::{TestApp, assert_problem};

#[tokio::test]
async fn refresh_rotates_and_a_reuse_within_the_grace_keeps_the_session() {
    let app = TestApp::spawn().await;
    let t = app.user().create().await.sign_in(&app).await;
    let res = app.post("/refresh-token", json!({"refresh_token": t.refresh})).await;
    assert_eq!(res.status(), 200);
    let next: Value = res.json().await.expect("json");
    let next_refresh = next["refresh_token"].as_str().expect("refresh").to_owned();
    assert_ne!(next_refresh, t.refresh);
    assert_eq!(next["expires_in"], 1800);
    assert_problem(app.post("/refresh-token", json!({"refresh_token": t.refresh})).await, 401, "refresh_token_reused")
        .await;
    // The winner's tokens still work: the session survived the retry.
    assert_eq!(app.get_with("/me", next["access_token"].as_str().expect("access")).await.status(), 200);
    assert_eq!(app.post("/refresh-token", json!({"refresh_token": next_refresh})).await.status(), 200);
}

#[tokio::test]
async fn reused_refresh_token_after_grace_revokes_the_session() {
    let app = TestApp::spawn().await;
    let t = app.user().create().await.sign_in(&app).await;
    let next: Value = app.post("/refresh-token", json!({"refresh_token": t.refresh})).await.json().await.expect("json");
    tokio::time::sleep(std::time::Duration::from_millis(10_500)).await;
    assert_problem(app.post("/refresh-token", json!({"refresh_token": t.refresh})).await, 401, "refresh_token_reused")
        .await;
    // Theft assumed: the whole session is gone, the thief's and the owner's tokens alike.
    assert_problem(app.get_with("/me", next["access_token"].as_str().expect("access")).await, 401, "invalid_token")
        .await;
    let stolen = next["refresh_token"].as_str().expect("refresh");
    assert_problem(app.post("/refresh-token", json!({"refresh_token": stolen})).await, 401, "invalid_refresh_token")
        .await;
    let events = app.app.core.audit_events(None, Some("session.reuse_detected"), 10).await.expect("audit");
    assert_eq!(events.len(), 1);
}

#[tokio::test]
async fn many_concurrent_refreshes_of_one_token_have_exactly_one_winner() {
    let app = TestApp::spawn().await;
    let t = app.user().create().await.sign_in(&app).await;
    let requests = (0..40).map(|_| {
        let (http, url, token) = (app.http.clone(), app.url("/refresh-token"), t.refresh.clone());
        tokio::spawn(async move { http.post(url).json(&json!({"refresh_token": token})).send().await.expect("send") })
    });
    let mut winners = Vec::new();
    let mut reused = 0;
    for res in futures::future::join_all(requests).await {
        let res = res.expect("join");
        match res.status().as_u16() {
            200 => winners.push(res.json::<Value>().await.expect("json")),
            401 => {
                assert_eq!(res.json::<Value>().await.expect("json")["code"], "refresh_token_reused");
                reused += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((winners.len(), reused), (1, 39));
    let next = winners[0]["refresh_token"].as_str().expect("refresh");
    assert_eq!(app.post("/refresh-token", json!({"refresh_token": next})).await.status(), 200);
}

#[tokio::test]
async fn the_refresh_cookie_works_from_allowed_origins_and_answers_only_as_a_cookie() {
    let app = TestApp::spawn_with(&[("CORS_ORIGINS", "https://app.example.org")]).await;
    let t = app.user().create().await.sign_in(&app).await;
    let cookie = format!("refresh_token={}", t.refresh);
    let foreign = app
        .http
        .post(app.url("/refresh-token"))
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("send");
    assert_problem(foreign, 403, "forbidden").await;
    let res = app
        .http
        .post(app.url("/refresh-token"))
        .header("cookie", &cookie)
        .header("origin", "https://app.example.org")
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    let set = res.headers()["set-cookie"].to_str().expect("ascii").to_owned();
    let body: Value = res.json().await.expect("json");
    assert!(body.get("refresh_token").is_none(), "cookie clients get the token only as a cookie");
    assert!(body["access_token"].is_string());
    assert!(set.starts_with("refresh_token=") && set.contains("HttpOnly"));
}

#[tokio::test]
async fn logout_ends_the_session_for_token_and_refresh() {
    let app = TestApp::spawn().await;
    let t = app.user().create().await.sign_in(&app).await;
    let res = app.http.post(app.url("/logout")).bearer_auth(&t.access).send().await.expect("send");
    assert_eq!(res.status(), 204);
    assert!(res.headers()["set-cookie"].to_str().expect("ascii").contains("Max-Age=0"));
    assert_problem(app.post("/token", json!({"token": t.access})).await, 401, "invalid_token").await;
    assert_problem(app.post("/refresh-token", json!({"refresh_token": t.refresh})).await, 401, "invalid_refresh_token")
        .await;
}

#[tokio::test]
async fn a_missing_or_unknown_refresh_token_is_401() {
    let app = TestApp::spawn().await;
    assert_problem(app.http.post(app.url("/refresh-token")).send().await.expect("send"), 401, "invalid_refresh_token")
        .await;
    assert_problem(app.post("/refresh-token", json!({"refresh_token": "nope"})).await, 401, "invalid_refresh_token")
        .await;
}
