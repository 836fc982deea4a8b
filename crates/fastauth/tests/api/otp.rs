//! Email one-time codes over real SMTP.

use serde_json::{Value, json};

use crate::support::{TestApp, assert_problem, unique_email};

/// The code in the newest of `count` messages to `address`.
async fn code_in(app: &TestApp, address: &str, count: usize) -> String {
    let mails = app.mails_to(address, count).await;
    let text = mails.last().expect("mail")["text"].as_str().expect("text").to_owned();
    text.split_whitespace()
        .find(|w| w.len() == 7 && w.ends_with('.') && w[..6].bytes().all(|b| b.is_ascii_digit()))
        .expect("a code")[..6]
        .to_owned()
}

#[tokio::test]
async fn an_emailed_code_signs_in_once_and_verifies_the_email() {
    let app = TestApp::spawn_with_mail(&[]).await;
    let user = app.user().create().await;
    let earlier = user.sign_in(&app).await;
    assert_eq!(app.post("/request-otp", json!({"email": user.email.to_uppercase()})).await.status(), 202);
    let code = code_in(&app, &user.email, 1).await;
    let res = app.post("/verify-otp", json!({"email": user.email, "otp": code})).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["set-cookie"].to_str().expect("ascii").starts_with("refresh_token="));
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["uuid"], user.id.as_str());
    assert_eq!(app.get_with("/me", body["access_token"].as_str().expect("token")).await.status(), 200);
    // First proof of a never-verified email: sessions opened before it end.
    assert_problem(app.get_with("/me", &earlier.access).await, 401, "invalid_token").await;
    let id = fastauth_core::ids::UserId::parse(&user.id).expect("id");
    assert!(app.app.core.store.find_user(&id).await.expect("q").expect("user").email_verified_at.is_some());
    assert_problem(app.post("/verify-otp", json!({"email": user.email, "otp": code})).await, 401, "invalid_otp").await;
}

#[tokio::test]
async fn five_wrong_tries_burn_the_code_and_a_new_code_voids_the_old() {
    let app = TestApp::spawn_with_mail(&[]).await;
    let user = app.user().create().await;
    assert_eq!(app.post("/request-otp", json!({"email": user.email})).await.status(), 202);
    let code = code_in(&app, &user.email, 1).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        assert_problem(app.post("/verify-otp", json!({"email": user.email, "otp": wrong})).await, 401, "invalid_otp")
            .await;
    }
    // The address's failure counter asks for a 1 s pause after five; the code itself is burnt.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_problem(app.post("/verify-otp", json!({"email": user.email, "otp": code})).await, 401, "invalid_otp").await;
    assert_problem(
        app.post("/verify-otp", json!({"email": user.email, "otp": "12ab56"})).await,
        422,
        "validation_failed",
    )
    .await;
    let failures = app.app.core.audit_events(None, Some("otp.failed"), 20).await.expect("audit");
    assert_eq!(failures.len(), 6);
}

#[tokio::test]
async fn requests_are_limited_alike_for_known_and_unknown_addresses() {
    let app = TestApp::spawn_with_mail(&[]).await;
    let user = app.user().create().await;
    let unknown = unique_email();
    for email in [user.email.as_str(), unknown.as_str()] {
        let first = app.post("/request-otp", json!({"email": email})).await;
        assert_eq!(first.status(), 202);
        let first: Value = first.json().await.expect("json");
        let again = app.post("/request-otp", json!({"email": email})).await;
        let retry: u64 = again.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
        assert!((1..=60).contains(&retry), "{retry}");
        assert_problem(again, 429, "rate_limited").await;
        assert_eq!(first["msg"], "If an account uses this email, a code is on its way.");
    }
    let code = code_in(&app, &user.email, 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(app.mail_count(&user.email).await, 1, "the refused request sent nothing");
    assert_eq!(app.mail_count(&unknown).await, 0, "unknown addresses get no mail");
    // The refused request did not void the first code.
    assert_eq!(app.post("/verify-otp", json!({"email": user.email, "otp": code})).await.status(), 200);
}
