//! `/token`, `/me`, the JWKS and key rotation.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::support::{TestApp, assert_problem};

#[tokio::test]
async fn token_accepts_header_query_or_body_and_answers_the_user() {
    let app = TestApp::spawn().await;
    let user = app.user().role("User").create().await;
    let t = user.sign_in(&app).await;
    let by_header = app.http.post(app.url("/token")).bearer_auth(&t.access).send().await.expect("send");
    assert_eq!(by_header.status(), 200);
    assert!(by_header.headers().get("deprecation").is_none());
    let body: Value = by_header.json().await.expect("json");
    assert_eq!(body["results"]["uuid"], user.id.as_str());
    assert_eq!(body["results"]["email"], user.email.as_str());
    assert_eq!(body["results"]["status"], 1);
    assert_eq!(body["results"]["roles"][0]["role_name"], "User");
    let by_body = app.post("/token", json!({"token": t.access})).await;
    assert_eq!(by_body.status(), 200);
    let by_query = app.http.get(app.url(&format!("/token?token={}", t.access))).send().await.expect("send");
    assert_eq!(by_query.status(), 200);
    assert_eq!(by_query.headers()["deprecation"], "true");
    let me: Value = app.get_with("/me", &t.access).await.json().await.expect("json");
    assert_eq!(me, body);
}

#[tokio::test]
async fn one_token_given_twice_with_different_values_is_ambiguous() {
    let app = TestApp::spawn().await;
    let t = app.user().create().await.sign_in(&app).await;
    let res = app
        .http
        .post(app.url("/token"))
        .bearer_auth(&t.access)
        .json(&json!({"token": "other"}))
        .send()
        .await
        .expect("send");
    assert_problem(res, 400, "ambiguous_credentials").await;
}

#[tokio::test]
async fn query_tokens_can_be_turned_off() {
    let app = TestApp::spawn_with(&[("ALLOW_QUERY_TOKENS", "false")]).await;
    let t = app.user().create().await.sign_in(&app).await;
    let res = app.http.get(app.url(&format!("/token?token={}", t.access))).send().await.expect("send");
    assert_problem(res, 401, "unauthenticated").await;
}

#[tokio::test]
async fn token_refuses_another_applications_token_when_told_the_client() {
    let app = TestApp::spawn().await;
    let t = app.user().create().await.sign_in(&app).await;
    let ok = app.post("/token", json!({"token": t.access, "client_id": "default"})).await;
    assert_eq!(ok.status(), 200);
    let other = app
        .http
        .post(app.url("/token"))
        .bearer_auth(&t.access)
        .header("x-client-id", "mobile")
        .send()
        .await
        .expect("send");
    assert_problem(other, 401, "invalid_token").await;
}

fn claims(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let mut decode = || {
        serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(parts.next().expect("part")).expect("b64"))
            .expect("json")
    };
    (decode(), decode())
}

#[tokio::test]
async fn access_tokens_carry_the_promised_header_and_claims() {
    let app = TestApp::spawn().await;
    let user = app.user().role("User").create().await;
    let t = user.sign_in(&app).await;
    let (header, claims) = claims(&t.access);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "EdDSA");
    assert!(header["kid"].is_string());
    assert_eq!(claims["iss"], app.url("/"));
    assert_eq!(claims["sub"], user.id.as_str());
    assert_eq!(claims["user_id"], user.id.as_str());
    assert_eq!(claims["aud"], "default");
    assert_eq!(claims["email"], user.email.as_str());
    assert_eq!(claims["roles"], json!(["User"]));
    for name in ["iat", "exp", "jti", "sid", "role_ids", "permissions", "phone_number"] {
        assert!(claims.get(name).is_some(), "missing {name}");
    }
    assert_eq!(claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat"), 1800);
}

#[tokio::test]
async fn a_tampered_token_is_refused() {
    let app = TestApp::spawn().await;
    let t = app.user().create().await.sign_in(&app).await;
    let mut parts: Vec<String> = t.access.split('.').map(str::to_owned).collect();
    let (_, mut claims) = claims(&t.access);
    claims["roles"] = json!(["Super Admin"]);
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    assert_problem(app.get_with("/me", &parts.join(".")).await, 401, "invalid_token").await;
}

#[tokio::test]
async fn discovery_and_jwks_publish_the_signing_key() {
    let app = TestApp::spawn().await;
    let res = app.http.get(app.url("/.well-known/openid-configuration")).send().await.expect("send");
    assert_eq!(res.status(), 200);
    let discovery: Value = res.json().await.expect("json");
    assert_eq!(discovery["issuer"], app.url("/"));
    assert_eq!(discovery["jwks_uri"], app.url("/.well-known/jwks.json"));
    assert_eq!(discovery["id_token_signing_alg_values_supported"], json!(["EdDSA"]));
    let res = app.http.get(app.url("/.well-known/jwks.json")).send().await.expect("send");
    assert_eq!(res.headers()["cache-control"], "public, max-age=300");
    let jwks: Value = res.json().await.expect("json");
    let key = &jwks["keys"][0];
    assert_eq!(
        (key["kty"].as_str(), key["crv"].as_str(), key["use"].as_str()),
        (Some("OKP"), Some("Ed25519"), Some("sig"))
    );
    assert!(key.get("d").is_none(), "the private key is never published");
}

/// A resource server using a standard JWT library (PyJWT), knowing only the JWKS URL.
#[tokio::test]
async fn a_standard_jwt_library_validates_tokens_from_the_jwks_url_alone() {
    for alg in ["EdDSA", "ES256", "RS256"] {
        let app = TestApp::spawn_with(&[("ALGORITHM", alg)]).await;
        let user = app.user().create().await;
        let t = user.sign_in(&app).await;
        let python = std::env::var("FASTAUTH_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/validate_with_pyjwt.py");
        let out = tokio::process::Command::new(&python)
            .args([script, &app.url("/.well-known/jwks.json"), &t.access, &app.url("/"), "default"])
            .output()
            .await
            .unwrap_or_else(|e| panic!("{python} is needed (scripts/test installs PyJWT): {e}"));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{alg}: {stdout} {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(stdout.trim(), user.id, "{alg}");
    }
}

#[tokio::test]
async fn rotated_keys_keep_old_tokens_valid_and_revoked_keys_do_not() {
    let app = TestApp::spawn().await;
    let user = app.user().create().await;
    let old = user.sign_in(&app).await;
    let now = time::OffsetDateTime::now_utc();
    let new_kid = app.app.core.rotate_signing_key(now).await.expect("rotate");
    let fresh = user.sign_in(&app).await;
    assert_eq!(claims(&fresh.access).0["kid"], new_kid.as_str());
    let jwks: Value =
        app.http.get(app.url("/.well-known/jwks.json")).send().await.expect("send").json().await.expect("json");
    assert_eq!(jwks["keys"].as_array().expect("keys").len(), 2);
    assert_eq!(app.get_with("/me", &old.access).await.status(), 200);
    let old_kid = claims(&old.access).0["kid"].as_str().expect("kid").to_owned();
    app.app.core.revoke_signing_key(&old_kid, now).await.expect("revoke");
    assert_problem(app.get_with("/me", &old.access).await, 401, "invalid_token").await;
    assert_eq!(app.get_with("/me", &fresh.access).await.status(), 200);
}

#[tokio::test]
async fn hs256_mode_signs_with_the_secret_and_publishes_no_keys() {
    let app = TestApp::spawn_with(&[("ALGORITHM", "HS256"), ("SECRET_KEY", "0123456789abcdef0123456789abcdef")]).await;
    let t = app.user().create().await.sign_in(&app).await;
    assert_eq!(claims(&t.access).0["alg"], "HS256");
    assert_eq!(app.get_with("/me", &t.access).await.status(), 200);
    let jwks: Value =
        app.http.get(app.url("/.well-known/jwks.json")).send().await.expect("send").json().await.expect("json");
    assert_eq!(jwks, json!({"keys": []}));
}
