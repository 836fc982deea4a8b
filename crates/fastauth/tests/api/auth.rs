//! Sign-up and sign-in.

use serde_json::{Value, json};

use crate::support::{PASSWORD, TestApp, assert_problem, unique_email};

fn signup_body(email: &str) -> Value {
    json!({"firstname": "Ada", "lastname": "Lovelace", "email": email, "password": PASSWORD})
}

#[tokio::test]
async fn signup_returns_tokens_the_default_role_and_a_refresh_cookie() {
    let app = TestApp::spawn().await;
    let res = app.post("/signup", signup_body(&unique_email())).await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let cookie = res.headers()["set-cookie"].to_str().expect("ascii").to_owned();
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 1800);
    let visitors = app.app.core.store.find_role_by_name("Visitors", None).await.expect("q").expect("seeded");
    assert_eq!(body["role_ids"], json!([visitors.id]));
    let refresh = body["refresh_token"].as_str().expect("refresh token");
    assert!(cookie.starts_with(&format!("refresh_token={refresh};")));
    for attr in ["HttpOnly", "Secure", "SameSite=Lax"] {
        assert!(cookie.contains(attr));
    }
    let me = app.get_with("/me", body["access_token"].as_str().expect("access")).await;
    assert_eq!(me.status(), 200);
}

#[tokio::test]
async fn signup_with_a_taken_email_in_another_case_is_409_user_exists() {
    let app = TestApp::spawn().await;
    let email = unique_email();
    assert_eq!(app.post("/signup", signup_body(&email)).await.status(), 201);
    let res = app.post("/signup", signup_body(&format!("  {}", email.to_uppercase()))).await;
    let body = assert_problem(res, 409, "user_exists").await;
    assert_eq!(body["errors"][0]["field"], "email");
}

#[tokio::test]
async fn signup_cannot_self_assign_roles() {
    let app = TestApp::spawn().await;
    let admin_role = app.app.core.store.find_role_by_name("Super Admin", None).await.expect("q").expect("seeded");
    let email = unique_email();
    let mut body = signup_body(&email);
    body["role_ids"] = json!([admin_role.id]);
    assert_problem(app.post("/signup", body.clone()).await, 403, "forbidden").await;
    // Nothing was created: the same email signs up normally afterwards.
    body.as_object_mut().expect("object").remove("role_ids");
    assert_eq!(app.post("/signup", body).await.status(), 201);
    let denied = app.app.core.audit_events(None, Some("authz.denied"), 10).await.expect("audit");
    assert_eq!(denied.len(), 1);
}

#[tokio::test]
async fn an_admin_may_give_roles_at_signup() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await.sign_in(&app).await;
    let user_role = app.app.core.store.find_role_by_name("User", None).await.expect("q").expect("seeded");
    let mut body = signup_body(&unique_email());
    body["role_ids"] = json!([user_role.id]);
    let res = app.http.post(app.url("/signup")).bearer_auth(&admin.access).json(&body).send().await.expect("send");
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["role_ids"], json!([user_role.id]));
}

#[tokio::test]
async fn weak_passwords_are_422_weak_password() {
    let app = TestApp::spawn().await;
    let email = unique_email();
    for password in ["short", "password123", "iloveyou", &email, "fastauth2024", &"x".repeat(129)] {
        let mut body = signup_body(&email);
        body["password"] = json!(password);
        let problem = assert_problem(app.post("/signup", body).await, 422, "weak_password").await;
        assert_eq!(problem["errors"][0]["field"], "password", "{password}");
    }
}

#[tokio::test]
async fn signup_validation_names_every_bad_field() {
    let app = TestApp::spawn().await;
    let body =
        json!({"firstname": " ", "lastname": "L", "email": "not-an-email", "phone_number": "12", "password": PASSWORD});
    let problem = assert_problem(app.post("/signup", body).await, 422, "validation_failed").await;
    let fields: Vec<_> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(fields, ["firstname", "email", "phone_number"]);
    let missing = json!({"firstname": "A", "lastname": "L", "password": PASSWORD});
    let problem = assert_problem(app.post("/signup", missing).await, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "email");
    let invisible = signup_body("ali\u{200b}ce@example.com");
    assert_problem(app.post("/signup", invisible).await, 422, "validation_failed").await;
}

#[tokio::test]
async fn wrong_password_and_unknown_email_answer_alike() {
    let app = TestApp::spawn().await;
    let user = app.user().create().await;
    let wrong = app.post("/signin", json!({"email": user.email, "password": "not the password"})).await;
    let unknown = app.post("/signin", json!({"email": unique_email(), "password": "not the password"})).await;
    let wrong = assert_problem(wrong, 401, "invalid_credentials").await;
    let unknown = assert_problem(unknown, 401, "invalid_credentials").await;
    assert_eq!(wrong, unknown);
    let failed = app.app.core.audit_events(None, Some("signin.failed"), 10).await.expect("audit");
    assert_eq!(failed.len(), 2);
}

#[tokio::test]
async fn signin_works_with_any_case_of_the_email_and_with_the_phone_number() {
    let app = TestApp::spawn().await;
    let email = unique_email();
    let mut body = signup_body(&email);
    body["phone_number"] = json!("+91 98765 43210");
    assert_eq!(app.post("/signup", body).await.status(), 201);
    let by_email = app.post("/signin", json!({"email": email.to_uppercase(), "password": PASSWORD})).await;
    assert_eq!(by_email.status(), 200);
    let by_phone = app.post("/signin", json!({"phone_number": "+919876543210", "password": PASSWORD})).await;
    assert_eq!(by_phone.status(), 200);
    let body: Value = by_phone.json().await.expect("json");
    assert!(body["user_id"].is_string() && body["access_token"].is_string() && body["refresh_token"].is_string());
}

#[tokio::test]
async fn bcrypt_hashes_verify_and_become_argon2id_at_signin() {
    let app = TestApp::spawn().await;
    let hash = bcrypt::hash(crate::support::PASSWORD, 4).expect("bcrypt");
    let user = app.user().password_hash(&hash).create().await;
    user.sign_in(&app).await;
    let id = fastauth_core::ids::UserId::parse(&user.id).expect("id");
    let stored = app.app.core.store.find_user(&id).await.expect("q").expect("user").password_hash.expect("hash");
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    user.sign_in(&app).await;
}

#[tokio::test]
async fn a_disabled_user_cannot_sign_in_and_its_tokens_stop_validating() {
    let app = TestApp::spawn().await;
    let user = app.user().create().await;
    let tokens = user.sign_in(&app).await;
    let id = fastauth_core::ids::UserId::parse(&user.id).expect("id");
    app.app
        .core
        .store
        .set_user_status(&id, fastauth_core::model::UserStatus::Disabled, time::OffsetDateTime::now_utc())
        .await
        .expect("disable");
    assert_problem(app.get_with("/me", &tokens.access).await, 401, "invalid_token").await;
    let res = app.post("/signin", json!({"email": user.email, "password": user.password})).await;
    assert_problem(res, 401, "invalid_credentials").await;
    assert_problem(
        app.post("/refresh-token", json!({"refresh_token": tokens.refresh})).await,
        401,
        "invalid_refresh_token",
    )
    .await;
}

#[tokio::test]
async fn required_email_verification_withholds_tokens_at_signup() {
    let app = TestApp::spawn_with(&[("REQUIRE_EMAIL_VERIFICATION", "true")]).await;
    let res = app.post("/signup", signup_body(&unique_email())).await;
    assert_eq!(res.status(), 201);
    assert!(res.headers().get("set-cookie").is_none());
    let body: Value = res.json().await.expect("json");
    assert!(body.get("access_token").is_none() && body.get("refresh_token").is_none());
    assert!(body["user_id"].is_string());
    let visitors = app.app.core.store.find_role_by_name("Visitors", None).await.expect("q").expect("seeded");
    assert_eq!(body["role_ids"], json!([visitors.id]));
}

#[tokio::test]
async fn client_ids_must_name_a_known_application_and_agree() {
    let app = TestApp::spawn().await;
    let mut body = signup_body(&unique_email());
    body["client_id"] = json!("no-such-app");
    assert_problem(app.post("/signup", body).await, 400, "unknown_client").await;
    let user = app.user().create().await;
    let res = app
        .http
        .post(app.url("/signin"))
        .header("x-client-id", "default")
        .json(&json!({"email": user.email, "password": user.password, "client_id": "other"}))
        .send()
        .await
        .expect("send");
    assert_problem(res, 400, "ambiguous_credentials").await;
}
