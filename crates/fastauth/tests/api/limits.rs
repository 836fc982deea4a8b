//! Rate limits and the sign-in failure counter: the rules on both backends (memory, Redis), then
//! over HTTP as an attacker would meet them, and across two instances sharing Redis.

use std::time::Duration;

use fastauth::limits::RedisLimiter;
use fastauth_core::limits::{Attempt, IpLimit, LOCK_AT, Limiter, MAX_WAIT, MemoryLimiter, Verdict};
use serde_json::json;

use crate::support::{PASSWORD, TestApp, assert_problem, unique_email};

pub fn redis_url() -> String {
    std::env::var("FASTAUTH_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Waits, when the fixed windows of the per-IP limits end within 15 s, until the next ones begin,
/// so that every hit of a test falls in one window. (They end at multiples of their width since
/// the epoch; the hourly ones' ends are among the five-minute ones'.) A test that crossed an end
/// saw its count start again: CI once got 503 where the 31st sign-in of an address meets 429.
async fn clear_of_window_ends() {
    const FIVE_MINUTES_MS: u128 = 300_000;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis();
    let left = FIVE_MINUTES_MS - now % FIVE_MINUTES_MS;
    if left < 15_000 {
        tokio::time::sleep(Duration::from_millis(left as u64 + 50)).await;
    }
}

/// A key prefix no other test (or earlier run) uses.
pub fn redis_prefix() -> String {
    format!("fastauth-test-{}:", uuid::Uuid::new_v4().simple())
}

async fn limiter_rules(limiter: &dyn Limiter) {
    let t0 = 1_800_000_000_000_i64;
    let limit = IpLimit { name: "t", max: 3, window: Duration::from_secs(60) };
    for _ in 0..3 {
        assert_eq!(limiter.hit("ip:t:1", limit, t0).await.unwrap(), Verdict::Allowed);
    }
    let Verdict::Wait(wait) = limiter.hit("ip:t:1", limit, t0).await.unwrap() else { panic!("fourth hit allowed") };
    assert!(wait <= Duration::from_secs(60) && wait > Duration::ZERO);
    assert_eq!(limiter.hit("ip:t:2", limit, t0).await.unwrap(), Verdict::Allowed, "other keys are apart");
    assert_eq!(limiter.hit("ip:t:1", limit, t0 + 60_000).await.unwrap(), Verdict::Allowed, "a new window");

    for phone in ["a", "b", "c", "a"] {
        assert_eq!(limiter.add_member("set", phone, limit, t0).await.unwrap(), Verdict::Allowed);
    }
    assert!(matches!(limiter.add_member("set", "d", limit, t0).await.unwrap(), Verdict::Wait(_)));
    assert_eq!(limiter.add_member("set", "b", limit, t0).await.unwrap(), Verdict::Allowed, "known members pass");

    // Five attempts pass at once; then each waits 2^(n-5) s.
    for _ in 0..5 {
        assert_eq!(limiter.attempt("fail:x", t0).await.unwrap(), Attempt::Allowed);
    }
    let refused = limiter.attempt("fail:x", t0 + 500).await.unwrap();
    assert_eq!(refused, Attempt::Refused { retry_after: Duration::from_millis(500), locked_now: false });
    assert_eq!(limiter.attempt("fail:x", t0 + 1_000).await.unwrap(), Attempt::Allowed, "after 1 s (n = 7)");
    let Attempt::Refused { retry_after, .. } = limiter.attempt("fail:x", t0 + 1_001).await.unwrap() else {
        panic!("allowed during the wait")
    };
    assert_eq!(retry_after, Duration::from_millis(3_999), "2^(7-5) s after the last check");
    limiter.clear("fail:x").await.unwrap();
    assert_eq!(limiter.attempt("fail:x", t0 + 1_002).await.unwrap(), Attempt::Allowed, "a success resets");

    // The hundredth attempt locks, once; the lock outlasts any wait.
    let mut locks = 0;
    for i in 0..LOCK_AT + 5 {
        if let Attempt::Refused { locked_now: true, .. } = limiter.attempt("fail:y", t0 + i as i64).await.unwrap() {
            assert_eq!(i + 1, LOCK_AT);
            locks += 1;
        }
    }
    assert_eq!(locks, 1);
    let later = t0 + 3_600_000;
    assert_eq!(
        limiter.attempt("fail:y", later).await.unwrap(),
        Attempt::Refused { retry_after: MAX_WAIT, locked_now: false }
    );
    limiter.clear("fail:y").await.unwrap();
    assert_eq!(limiter.attempt("fail:y", later).await.unwrap(), Attempt::Allowed, "recovery unlocks");
}

#[tokio::test]
async fn the_limit_rules_hold_in_memory_and_in_redis() {
    limiter_rules(&MemoryLimiter::default()).await;
    limiter_rules(&RedisLimiter::new(&redis_url(), &redis_prefix()).expect("redis")).await;
}

/// A sign-in attempt from `ip` (believed: the test trusts loopback as its proxy).
async fn sign_in_from(app: &TestApp, ip: &str, email: &str, password: &str) -> reqwest::Response {
    app.http
        .post(app.url("/signin"))
        .header("x-forwarded-for", ip)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("request")
}

fn retry_after(res: &reqwest::Response) -> u64 {
    res.headers()["retry-after"].to_str().unwrap().parse().unwrap()
}

/// "Come back later" refusals (503 `overloaded`, 429) are answered only after a pause, so that a
/// client that retries at once, as a flood does, gets few of them.
#[tokio::test]
async fn come_back_later_refusals_are_answered_after_a_pause() {
    clear_of_window_ends().await;
    // No room in the hashing queue: every password check is refused.
    let app = TestApp::spawn_with(&[("HASH_QUEUE", "0"), ("TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    let email = unique_email();
    let timed = |ip: &'static str| {
        let (app, email) = (&app, &email);
        async move {
            let started = std::time::Instant::now();
            let res = sign_in_from(app, ip, email, PASSWORD).await;
            (res, started.elapsed())
        }
    };
    let (res, waited) = timed("203.0.113.7").await;
    assert_eq!(retry_after(&res), 1);
    assert_problem(res, 503, "overloaded").await;
    assert!(waited >= Duration::from_millis(25), "{waited:?}");

    // The address's other 29 sign-ins are refused alike; the 31st meets the per-IP limit.
    futures::future::join_all((0..29).map(|_| timed("203.0.113.7"))).await;
    let (res, waited) = timed("203.0.113.7").await;
    assert!(retry_after(&res) >= 1);
    assert_problem(res, 429, "rate_limited").await;
    assert!(waited >= Duration::from_millis(25), "{waited:?}");
}

#[tokio::test]
async fn parallel_guesses_all_count_five_reach_the_check_and_the_hundredth_locks_until_a_reset() {
    let app = TestApp::spawn_with_mail(&[("TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    let owner = app.user().create().await;
    let unknown = unique_email();
    for email in [&owner.email, &unknown] {
        // 50 parallel wrong guesses from 50 addresses (no per-IP limit applies).
        let guesses = (0..50).map(|i| {
            let ip = format!("198.51.100.{i}");
            let app = &app;
            async move { sign_in_from(app, &ip, email, "wrong guess 123").await }
        });
        let statuses: Vec<u16> = futures::future::join_all(guesses).await.iter().map(|r| r.status().as_u16()).collect();
        assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 5, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 45);
    }
    // The right password during the wait gets the same answer as a wrong one.
    let res = sign_in_from(&app, "203.0.113.1", &owner.email, PASSWORD).await;
    assert!(retry_after(&res) >= 1);
    assert_problem(res, 429, "rate_limited").await;

    // All 51 counted: after the 1 s wait one more is checked (the 52nd), then 2^47 s capped.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(sign_in_from(&app, "203.0.113.1", &owner.email, "wrong guess 123").await.status(), 401);
    let res = sign_in_from(&app, "203.0.113.2", &owner.email, "wrong guess 123").await;
    assert_eq!(retry_after(&res), MAX_WAIT.as_secs());
    // That was the 53rd; 46 more make 99 and nothing is locked yet; the 100th locks.
    for i in 0..46 {
        assert_eq!(sign_in_from(&app, &format!("203.0.113.{}", 10 + i), &owner.email, "x").await.status(), 429);
    }
    assert_eq!(app.app.core.audit_events(None, Some("signin.locked"), 10).await.unwrap().len(), 0);
    assert_eq!(sign_in_from(&app, "203.0.113.99", &owner.email, "x").await.status(), 429);
    let locked = app.app.core.audit_events(None, Some("signin.locked"), 10).await.unwrap();
    assert_eq!(locked.len(), 1);
    assert_eq!(locked[0].subject_id.as_ref().map(ToString::to_string).as_deref(), Some(owner.id.as_str()));
    let notice = app.mail_to(&owner.email).await;
    assert!(notice["subject"].as_str().unwrap().contains("locked"));

    // Recovery: the emailed reset link unlocks sign-in.
    assert_eq!(app.post("/forget-password", json!({"email": owner.email})).await.status(), 202);
    let mails = app.mails_to(&owner.email, 2).await;
    let text = mails.iter().find(|m| m["subject"] == "Reset your password").unwrap()["text"].as_str().unwrap();
    let token = text.split("/auth/reset-forget-password/").nth(1).unwrap().split_whitespace().next().unwrap();
    let new_password = "a brand new passphrase";
    let body = json!({"new_password": new_password, "confirm_password": new_password});
    assert_eq!(app.post(&format!("/reset-forget-password/{token}"), body).await.status(), 200);
    assert_eq!(sign_in_from(&app, "203.0.113.1", &owner.email, new_password).await.status(), 200);
}

#[tokio::test]
async fn each_client_ip_gets_thirty_sign_ins_per_five_minutes_and_forwarded_for_only_from_trusted_proxies() {
    clear_of_window_ends().await;
    // Loopback is not a trusted proxy here: a forged X-Forwarded-For changes nothing.
    let app = TestApp::spawn().await;
    for i in 0..30 {
        let res = sign_in_from(&app, &format!("198.51.100.{i}"), &unique_email(), "wrong guess 123").await;
        assert_eq!(res.status(), 401);
    }
    let res = sign_in_from(&app, "198.51.100.200", &unique_email(), "wrong guess 123").await;
    assert!(retry_after(&res) > 0 && retry_after(&res) <= 300);
    assert_problem(res, 429, "rate_limited").await;

    // Behind a trusted proxy, each client has its own count.
    let behind = TestApp::spawn_with(&[("TRUSTED_PROXIES", "127.0.0.0/8")]).await;
    for _ in 0..30 {
        assert_eq!(sign_in_from(&behind, "198.51.100.1", &unique_email(), "x").await.status(), 401);
    }
    assert_eq!(sign_in_from(&behind, "198.51.100.1", &unique_email(), "x").await.status(), 429);
    assert_eq!(sign_in_from(&behind, "198.51.100.2", &unique_email(), "x").await.status(), 401);
    assert_eq!(sign_in_from(&behind, "2001:db8:1:2::1", &unique_email(), "x").await.status(), 401);
}

#[tokio::test]
async fn one_ip_may_ask_codes_for_five_phone_numbers_an_hour() {
    clear_of_window_ends().await;
    let app = TestApp::spawn_with(&[("DEFAULT_PHONE_REGION", "IN")]).await;
    for n in 0..5 {
        let res = app.post("/request-otp-mobile", json!({"phone_number": format!("+9198765430{n:02}")})).await;
        assert_eq!(res.status(), 202, "number {n}");
    }
    let res = app.post("/request-otp-mobile", json!({"phone_number": "+919876543099"})).await;
    assert_problem(res, 429, "rate_limited").await;
}

#[tokio::test]
async fn two_instances_sharing_redis_share_the_limits() {
    clear_of_window_ends().await;
    let prefix = redis_prefix();
    let redis = redis_url();
    let shared = [("REDIS_URL", redis.as_str()), ("REDIS_KEY_PREFIX", prefix.as_str())];
    let a = TestApp::spawn_with(&shared).await;
    let b = a.spawn_beside(&shared).await;
    let owner = a.user().create().await;
    // Five wrong passwords spread over both instances exhaust the free attempts on both.
    for i in 0..5 {
        let app = if i % 2 == 0 { &a } else { &b };
        assert_eq!(app.post("/signin", json!({"email": owner.email, "password": "wrong"})).await.status(), 401);
    }
    for app in [&a, &b] {
        let res = app.post("/signin", json!({"email": owner.email, "password": PASSWORD})).await;
        assert_problem(res, 429, "rate_limited").await;
    }
    // The per-IP sign-in limit (30, of which 7 are used) holds across them too.
    for i in 0..23 {
        let app = if i % 2 == 0 { &a } else { &b };
        assert_eq!(app.post("/signin", json!({"email": unique_email(), "password": "x"})).await.status(), 401);
    }
    for app in [&a, &b] {
        assert_problem(
            app.post("/signin", json!({"email": unique_email(), "password": "x"})).await,
            429,
            "rate_limited",
        )
        .await;
    }
    // Without a shared store, a third instance counts on its own.
    let c = a.spawn_beside(&[]).await;
    assert_eq!(c.post("/signin", json!({"email": unique_email(), "password": "x"})).await.status(), 401);
}

#[tokio::test]
async fn rate_limits_off_disables_every_limit() {
    let app = TestApp::spawn_with(&[("RATE_LIMITS", "off")]).await;
    let owner = app.user().create().await;
    for _ in 0..40 {
        assert_eq!(app.post("/signin", json!({"email": owner.email, "password": "wrong"})).await.status(), 401);
    }
    assert_eq!(app.post("/signin", json!({"email": owner.email, "password": PASSWORD})).await.status(), 200);
}

#[tokio::test]
async fn a_redis_that_does_not_answer_makes_limited_routes_503_not_unlimited() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("redis://127.0.0.1:{closed}");
    let app = TestApp::spawn_with(&[("REDIS_URL", url.as_str())]).await;
    let user = app.user().create().await;
    let started = std::time::Instant::now();
    let res = app.post("/signin", json!({"email": user.email, "password": PASSWORD})).await;
    assert_problem(res, 503, "unavailable").await;
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    // Routes without limits do not need Redis.
    assert_eq!(app.http.get(app.url("/healthz")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn one_address_gets_at_most_five_reset_links_an_hour_whoever_asks() {
    clear_of_window_ends().await;
    let app = TestApp::spawn_with(&[("TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    let owner = app.user().create().await;
    let unknown = unique_email();
    for email in [&owner.email, &unknown] {
        for i in 0..5 {
            let res = app
                .http
                .post(app.url("/forget-password"))
                .header("x-forwarded-for", format!("198.51.100.{i}"))
                .json(&json!({"email": email}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 202);
        }
        let res = app.post("/forget-password", json!({"email": email})).await;
        assert!(retry_after(&res) > 0);
        assert_problem(res, 429, "rate_limited").await;
    }
}
