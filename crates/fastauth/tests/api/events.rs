//! Events through the outbox to a webhook receiver that goes down mid-stream.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use fastauth::signature::WebhookSecrets;
use serde_json::{Value, json};

use crate::support::stub::{Recorded, Stub};
use crate::support::{PASSWORD, TestApp, assert_problem, unique_email};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Deliveries in arrival order, each checked against its Standard Webhooks signature.
fn deliveries(receiver: &Stub) -> Vec<(String, Value)> {
    let secrets = WebhookSecrets::parse(SECRET).unwrap();
    receiver
        .requests()
        .iter()
        .filter(|r| r.path == "/hooks")
        .map(|r: &Recorded| {
            let id = r.header("webhook-id").expect("webhook-id").to_owned();
            let ts: i64 = r.header("webhook-timestamp").expect("timestamp").parse().unwrap();
            let expected = secrets.headers(&id, ts, r.body.as_bytes());
            assert_eq!(r.header("webhook-signature"), Some(expected[2].1.as_str()), "signature of {id}");
            (id, serde_json::from_str(&r.body).unwrap())
        })
        .collect()
}

/// Waits until `count` distinct events have arrived; returns them deduplicated, first arrival order.
/// The wait allows for retries backing off (1, 2, 4 … s) while a loaded machine was slow.
async fn distinct_events(receiver: &Stub, count: usize) -> Vec<Value> {
    for _ in 0..900 {
        let mut seen = HashSet::new();
        let events: Vec<Value> =
            deliveries(receiver).into_iter().filter(|(id, _)| seen.insert(id.clone())).map(|(_, e)| e).collect();
        if events.len() >= count {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("fewer than {count} events within 90 s: {:?}", deliveries(receiver));
}

#[tokio::test]
async fn a_receiver_that_goes_down_loses_nothing_and_sees_each_users_changes_in_order() {
    let mut receiver = Stub::start(|_| (204, String::new())).await;
    let hooks = format!("{}/hooks", receiver.url);
    let app = TestApp::spawn_with(&[("WEBHOOK_URLS", &hooks), ("WEBHOOK_SECRET", SECRET)]).await;
    let admin = app.admin().await.sign_in(&app).await;

    let signup = |email: String| json!({"firstname": "Ada", "lastname": "L", "email": email, "password": PASSWORD});
    let mut users = Vec::new();
    let first_email = unique_email();
    for i in 0..3 {
        let email = if i == 0 { first_email.clone() } else { unique_email() };
        let res = app.post("/signup", signup(email)).await;
        assert_eq!(res.status(), 201);
        users.push(res.json::<Value>().await.unwrap()["user_id"].as_str().unwrap().to_owned());
    }
    // The admin (created before the test's first request) and the three sign-ups.
    let first = distinct_events(&receiver, 4).await;
    assert!(first.iter().all(|e| e["type"] == "user.created" && e["timestamp"].is_string()));
    assert!(first.iter().all(|e| e["data"].get("password_hash").is_none()), "no secrets in events");

    receiver.stop().await;
    for round in 1..=4 {
        for id in &users {
            let res =
                app.post_with(&format!("/update/{id}"), &admin.access, json!({"firstname": format!("v{round}")})).await;
            assert_eq!(res.status(), 200);
        }
    }
    let res =
        app.http.delete(app.url(&format!("/delete-user?uuid={}", users[2]))).bearer_auth(&admin.access).send().await;
    assert_eq!(res.unwrap().status(), 200);
    // Changes that fail write no event: a taken email, and a batch of roles with a duplicate.
    assert_problem(app.post("/signup", signup(first_email)).await, 409, "user_exists").await;
    let duplicate = json!([{"role_name": "Fresh"}, {"role_name": "Visitors"}]);
    assert_eq!(app.post_with("/create_roles", &admin.access, duplicate).await.status(), 409);
    // Let deliveries fail a few times while the receiver is down.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let while_down = receiver.requests().len();
    receiver.restart().await;

    // 4 created + 12 updates + 1 deletion, nothing more, nothing lost.
    let events = distinct_events(&receiver, 17).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let events_after = distinct_events(&receiver, 17).await;
    assert_eq!(events_after.len(), 17, "no event for the failed changes: {events_after:?}");
    assert!(receiver.requests().len() > while_down);
    let mut per_user: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in &events[4..] {
        let id = e["data"]["id"].as_str().unwrap().to_owned();
        let step = match e["type"].as_str().unwrap() {
            "user.updated" => e["data"]["firstname"].as_str().unwrap().to_owned(),
            other => other.to_owned(),
        };
        per_user.entry(id).or_default().push(step);
    }
    assert_eq!(per_user[&users[0]], ["v1", "v2", "v3", "v4"]);
    assert_eq!(per_user[&users[1]], ["v1", "v2", "v3", "v4"]);
    assert_eq!(per_user[&users[2]], ["v1", "v2", "v3", "v4", "user.deleted"]);
    let pending = app.app.core.store.undelivered_events(&hooks, 100).await.unwrap();
    assert!(pending.is_empty(), "every event acknowledged");
}

#[tokio::test]
async fn a_reused_refresh_token_and_role_changes_are_events() {
    let receiver = Stub::start(|_| (200, "{}".into())).await;
    let hooks = format!("{}/hooks", receiver.url);
    let app = TestApp::spawn_with(&[("WEBHOOK_URLS", &hooks), ("WEBHOOK_SECRET", SECRET)]).await;
    let admin = app.admin().await.sign_in(&app).await;
    let created = app.post_with("/create_roles", &admin.access, json!([{"role_name": "Editors"}])).await;
    assert_eq!(created.status(), 201);
    let role_id = created.json::<Value>().await.unwrap()[0]["id"].as_i64().unwrap();
    let update = json!([{"role_id": role_id, "permissions": ["users:read"]}]);
    assert_eq!(app.post_with("/roles/update_permissions", &admin.access, update).await.status(), 200);
    let user = app.user().create().await;
    let tokens = user.sign_in(&app).await;
    assert_eq!(app.post("/refresh-token", json!({"refresh_token": tokens.refresh})).await.status(), 200);
    // A second use past the 10 s grace is theft.
    tokio::time::sleep(Duration::from_millis(10_500)).await;
    assert_eq!(app.post("/refresh-token", json!({"refresh_token": tokens.refresh})).await.status(), 401);
    let events = distinct_events(&receiver, 5).await;
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["user.created", "role.created", "role.updated", "user.created", "session.reuse_detected"]);
    assert_eq!(events[2]["data"]["permissions"], json!(["users:read"]));
    assert_eq!(events[4]["data"]["user_id"], user.id.as_str());
}
