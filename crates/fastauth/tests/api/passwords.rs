//! Password change and reset by emailed link, with mail delivered to a real SMTP capture server.

use serde_json::{Value, json};

use crate::support::{TestApp, assert_problem};

const NEW: &str = "a brand new passphrase";

#[tokio::test]
async fn changing_the_password_checks_the_current_one_and_ends_other_sessions() {
    let app = TestApp::spawn_with_mail(&[]).await;
    let user = app.user().create().await;
    let other = user.sign_in(&app).await;
    let current = user.sign_in(&app).await;
    let change =
        |body: Value| app.http.post(app.url("/reset-password")).bearer_auth(&current.access).json(&body).send();
    assert_problem(
        change(json!({"current_password": "wrong one", "new_password": NEW})).await.expect("send"),
        400,
        "invalid_current_password",
    )
    .await;
    assert_problem(
        change(json!({"current_password": user.password, "new_password": user.password})).await.expect("send"),
        400,
        "password_reused",
    )
    .await;
    assert_problem(
        change(json!({"current_password": user.password, "new_password": "password1"})).await.expect("send"),
        422,
        "weak_password",
    )
    .await;
    let res = change(json!({"current_password": user.password, "new_password": NEW})).await.expect("send");
    assert_eq!(res.status(), 200);
    assert_problem(app.get_with("/me", &other.access).await, 401, "invalid_token").await;
    assert_eq!(app.get_with("/me", &current.access).await.status(), 200, "the caller's own session stays");
    assert_problem(
        app.post("/signin", json!({"email": user.email, "password": user.password})).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(app.post("/signin", json!({"email": user.email, "password": NEW})).await.status(), 200);
    let notice = app.mail_to(&user.email).await;
    assert_eq!(notice["subject"], "Your password was changed");
}

fn link_token(mail: &Value, base: &str) -> String {
    let text = mail["text"].as_str().expect("text");
    let prefix = format!("{base}/auth/reset-forget-password/");
    let start = text.find(&prefix).unwrap_or_else(|| panic!("no link to {prefix} in {text}")) + prefix.len();
    text[start..].split_whitespace().next().expect("token").to_owned()
}

#[tokio::test]
async fn a_forgotten_password_is_reset_once_by_the_emailed_link_and_every_session_ends() {
    let app = TestApp::spawn_with_mail(&[("RESET_REDIRECT_ALLOWLIST", "https://app.example.com")]).await;
    let user = app.user().create().await;
    let session = user.sign_in(&app).await;
    let typed = format!("  {}", user.email.to_uppercase());
    let res =
        app.post("/forget-password", json!({"email": typed, "base_url": "https://app.example.com/portal/"})).await;
    assert_eq!(res.status(), 202);
    let known: Value = res.json().await.expect("json");
    let mail = app.mail_to(&user.email).await;
    let token = link_token(&mail, "https://app.example.com/portal");
    assert_eq!(token.len(), 43, "a 256-bit token");
    assert!(mail["html"].as_str().expect("html").contains(&token));

    let reset = |body: Value| app.post_owned(format!("/reset-forget-password/{token}"), body);
    let mismatch = reset(json!({"new_password": NEW, "confirm_password": "something else"})).await;
    assert_problem(mismatch, 422, "validation_failed").await;
    assert_problem(
        reset(json!({"new_password": "qwerty123", "confirm_password": "qwerty123"})).await,
        422,
        "weak_password",
    )
    .await;
    assert_eq!(reset(json!({"new_password": NEW, "confirm_password": NEW})).await.status(), 200);
    assert_problem(reset(json!({"new_password": NEW, "confirm_password": NEW})).await, 401, "invalid_reset_token")
        .await;
    assert_problem(app.get_with("/me", &session.access).await, 401, "invalid_token").await;
    assert_eq!(app.post("/signin", json!({"email": user.email, "password": NEW})).await.status(), 200);

    let unknown = app.post("/forget-password", json!({"email": "nobody-here@example.com"})).await;
    assert_eq!(unknown.status(), 202);
    assert_eq!(unknown.json::<Value>().await.expect("json"), known, "unknown emails get the same answer");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(app.mail_count("nobody-here@example.com").await, 0, "and no mail");
    let evil = app.post("/forget-password", json!({"email": user.email, "base_url": "https://evil.example.net"})).await;
    assert_problem(evil, 400, "invalid_base_url").await;
    assert_problem(
        app.post("/reset-forget-password/not-a-token", json!({"new_password": NEW, "confirm_password": NEW})).await,
        401,
        "invalid_reset_token",
    )
    .await;
}

#[tokio::test]
async fn concurrent_uses_of_one_reset_link_have_one_winner() {
    let app = TestApp::spawn_with_mail(&[]).await;
    let user = app.user().create().await;
    assert_eq!(app.post("/forget-password", json!({"email": user.email})).await.status(), 202);
    let token = link_token(&app.mail_to(&user.email).await, app.url("").as_str());
    let attempts = (0..10).map(|i| {
        let (http, url) = (app.http.clone(), app.url(&format!("/reset-forget-password/{token}")));
        let password = format!("{NEW} number {i}");
        tokio::spawn(async move {
            http.post(url)
                .json(&json!({"new_password": password, "confirm_password": password}))
                .send()
                .await
                .expect("send")
                .status()
                .as_u16()
        })
    });
    let mut statuses: Vec<u16> =
        futures::future::join_all(attempts).await.into_iter().map(|r| r.expect("join")).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 401, 401, 401, 401, 401, 401, 401, 401, 401]);
}

#[tokio::test]
async fn a_new_email_becomes_the_users_only_after_it_confirms_a_code() {
    let app = TestApp::spawn_with_mail(&[]).await;
    let user = app.user().create().await;
    let t = user.sign_in(&app).await;
    let taken = app.user().create().await;
    let path = format!("/update/{}", user.id);
    let change = |email: &str, password: &str| {
        app.http
            .post(app.url(&path))
            .bearer_auth(&t.access)
            .json(&json!({"email": email, "current_password": password}))
            .send()
    };
    assert_problem(change(&taken.email, &user.password).await.expect("send"), 409, "user_exists").await;
    assert_problem(change("new@example.com", "wrong password").await.expect("send"), 403, "reauthentication_required")
        .await;
    let new_email = crate::support::unique_email();
    let res = change(&new_email, &user.password).await.expect("send");
    assert_eq!(res.status(), 202);
    assert_eq!(res.json::<Value>().await.expect("json")["pending"]["email"], new_email.as_str());
    let me: Value = app.get_with("/me", &t.access).await.json().await.expect("json");
    assert_eq!(me["results"]["email"], user.email.as_str(), "nothing changes before the code");
    let mail = app.mail_to(&new_email).await;
    let code = mail["text"]
        .as_str()
        .expect("text")
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("code")
        .to_owned();
    assert_problem(app.post("/verify-otp", json!({"email": new_email, "otp": "000000"})).await, 401, "invalid_otp")
        .await;
    let res = app.post("/verify-otp", json!({"email": new_email, "otp": code})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.expect("json")["uuid"], user.id.as_str());
    assert_eq!(app.post("/signin", json!({"email": new_email, "password": user.password})).await.status(), 200);
    assert_problem(
        app.post("/signin", json!({"email": user.email, "password": user.password})).await,
        401,
        "invalid_credentials",
    )
    .await;
    let notices: Vec<String> = app
        .mails_to(&user.email, 2)
        .await
        .iter()
        .map(|m| m["subject"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(notices.contains(&"Your sign-in address was changed".to_owned()), "{notices:?}");
    assert!(notices.contains(&"A change of your sign-in address was requested".to_owned()), "{notices:?}");
    let changed = app.app.core.audit_events(None, Some("email.changed"), 10).await.expect("audit");
    assert_eq!(changed.len(), 1);
}
