//! Micro-benchmarks of the costs that bound fastauth's throughput: one Argon2id hash and verify
//! at OWASP's minimum, one access token signed and verified (at first sight, and once
//! remembered) per algorithm, and the whole `/token` handler path (router, token check, session
//! look-up on SQLite) and `/signin` handler path (with hashing made nearly free: the user's read
//! and the session's transaction on SQLite) without the network.
//! `cargo bench -p fastauth` prints the time per operation; a regression shows as a number.
#![allow(clippy::expect_used)]

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use fastauth::App;
use fastauth::config::{Config, Env};
use tower::ServiceExt;

use fastauth_core::password::{HashParams, Password, PasswordHasher};
use fastauth_core::tokens::{AccessClaims, Algorithm, Kek, KeyRing};
use time::OffsetDateTime;

/// Runs `op` for about `budget`, after a warm-up, and prints the mean time per call.
fn measure(name: &str, budget: Duration, mut op: impl FnMut()) {
    let warm = Instant::now();
    while warm.elapsed() < budget / 10 {
        op();
    }
    let (started, mut calls) = (Instant::now(), 0u64);
    while started.elapsed() < budget {
        op();
        calls += 1;
    }
    let per_call = started.elapsed() / calls as u32;
    println!("{name:40} {:>12.1} µs/op {:>12.0} op/s", per_call.as_secs_f64() * 1e6, 1.0 / per_call.as_secs_f64());
}

fn claims(issuer: &str) -> AccessClaims {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    AccessClaims {
        iss: issuer.to_owned(),
        sub: "01a2103f-355a-75d6-9a59-059e1f8f4a29".into(),
        user_id: "01a2103f-355a-75d6-9a59-059e1f8f4a29".into(),
        aud: "default".into(),
        iat: now,
        exp: now + 1800,
        jti: "bench".into(),
        sid: "01a2103f-355e-766a-904a-a25c7b4c6a2f".into(),
        email: Some("bench@example.com".into()),
        phone_number: None,
        role_ids: vec![1],
        roles: vec!["Visitors".into()],
        permissions: vec![],
        test: false,
    }
}

/// An app on a fresh SQLite file with `settings`, a signed-up user's access token, and the router.
async fn signed_up(settings: &[(&str, &str)]) -> (axum::Router, String) {
    let dir = std::env::temp_dir().join(format!("fastauth-bench-{}", uuid::Uuid::new_v4().simple()));
    let url = format!("sqlite://{}/fastauth.db", dir.display());
    let kek = Kek::generate().to_base64();
    let mut pairs = vec![("DATABASE_URL", url.as_str()), ("KEY_ENCRYPTION_KEY", kek.as_str()), ("LOG_FORMAT", "json")];
    pairs.extend_from_slice(settings);
    let app = App::build(Config::from_env(&Env::from_pairs(&pairs)).expect("config")).await.expect("app");
    let router = fastauth::http::router(app);
    let signup = Request::post("/signup").header("content-type", "application/json").body(Body::from(SIGNUP));
    let res = router.clone().oneshot(signup.expect("request")).await.expect("signup");
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 16).await.expect("body");
    let json: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    (router, json["access_token"].as_str().expect("token").to_owned())
}

const SIGNUP: &str =
    r#"{"firstname":"Bench","lastname":"User","email":"bench@example.com","password":"bench passphrase 12345"}"#;
const SIGNIN: &str = r#"{"email":"bench@example.com","password":"bench passphrase 12345"}"#;

fn main() {
    let budget = Duration::from_secs(2);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let hasher = PasswordHasher::new(HashParams::OWASP, 1, 8).expect("hasher");
    let password = Password::new("bench passphrase 12345");
    let stored = runtime.block_on(hasher.hash(&password)).expect("hash");
    measure("argon2id hash (m=19456 t=2 p=1)", budget, || {
        runtime.block_on(hasher.hash(&password)).expect("hash");
    });
    measure("argon2id verify (m=19456 t=2 p=1)", budget, || {
        assert!(runtime.block_on(hasher.verify(&password, Some(&stored))).expect("verify").ok);
    });
    let issuer = "http://127.0.0.1:8000/";
    for algorithm in [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256] {
        let ring = KeyRing::stored(algorithm, Kek::generate(), time::Duration::minutes(30), issuer);
        let now = OffsetDateTime::now_utc();
        let key = ring.generate_key(now).expect("key");
        ring.load(&[key], now).expect("load");
        let claims = claims(issuer);
        let token = ring.sign(&claims).expect("sign");
        let name = algorithm.as_str();
        measure(&format!("{name} sign access token"), budget, || {
            ring.sign(&claims).expect("sign");
        });
        measure(&format!("{name} verify access token"), budget, || {
            ring.verify_uncached(&token).expect("verify");
        });
        measure(&format!("{name} verify, token seen before"), budget, || {
            ring.verify(&token).expect("verify");
        });
    }
    let (router, token) = runtime.block_on(signed_up(&[]));
    measure("GET /token handler path (SQLite)", budget, || {
        let request = Request::get("/token").header("authorization", format!("Bearer {token}")).body(Body::empty());
        let res = runtime.block_on(router.clone().oneshot(request.expect("request"))).expect("answer");
        assert_eq!(res.status(), 200);
    });
    // Every sign-in past MAX_SESSIONS_PER_USER (50) also ends the oldest session.
    let cheap = [("ARGON2_MEMORY_KIB", "8"), ("ARGON2_ITERATIONS", "1"), ("RATE_LIMITS", "off")];
    let (router, _) = runtime.block_on(signed_up(&cheap));
    measure("POST /signin path, hash m=8 t=1 (SQLite)", budget, || {
        let request = Request::post("/signin").header("content-type", "application/json").body(Body::from(SIGNIN));
        let res = runtime.block_on(router.clone().oneshot(request.expect("request"))).expect("answer");
        assert_eq!(res.status(), 200);
    });
}
