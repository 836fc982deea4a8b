//! Three instances on one PostgreSQL and one Redis behave as one service.

use fastauth_store::testing::TestDb;
use serde_json::{Value, json};

use crate::limits::{redis_prefix, redis_url};
use crate::support::{TestApp, assert_problem};

#[tokio::test]
async fn three_instances_share_tokens_logouts_refresh_races_and_limits() {
    let prefix = redis_prefix();
    let redis = redis_url();
    let shared = [("REDIS_URL", redis.as_str()), ("REDIS_KEY_PREFIX", prefix.as_str())];
    let db = TestDb::postgres().await;
    let url = db.url.clone();
    let a = TestApp::spawn_on(db, &url, &shared).await;
    let b = a.spawn_beside(&shared).await;
    let c = a.spawn_beside(&shared).await;
    let all = [&a, &b, &c];

    // A token from one instance validates on the others.
    let user = a.user().create().await;
    let tokens = user.sign_in(&a).await;
    for app in all {
        assert_eq!(app.get_with("/token", &tokens.access).await.status(), 200);
    }

    // Logout on one is seen by /token on the others at once.
    let res = b.http.post(b.url("/logout")).bearer_auth(&tokens.access).send().await.expect("logout");
    assert_eq!(res.status(), 204);
    for app in [&a, &c] {
        assert_problem(app.get_with("/token", &tokens.access).await, 401, "invalid_token").await;
    }

    // One refresh token raced across the three instances: exactly one winner.
    let fresh = user.sign_in(&c).await;
    let racers = (0..30).map(|i| {
        let app = all[i % 3];
        let body = json!({"refresh_token": fresh.refresh});
        async move { app.post("/refresh-token", body).await }
    });
    let answers = futures::future::join_all(racers).await;
    let mut winners = 0;
    for res in answers {
        match res.status().as_u16() {
            200 => winners += 1,
            401 => assert_eq!(res.json::<Value>().await.expect("json")["code"], "refresh_token_reused"),
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(winners, 1);

    // The sign-in failure counter is one across instances.
    let owner = a.user().create().await;
    for i in 0..5 {
        let res = all[i % 3].post("/signin", json!({"email": owner.email, "password": "wrong"})).await;
        assert_eq!(res.status(), 401);
    }
    for app in all {
        assert_problem(
            app.post("/signin", json!({"email": owner.email, "password": owner.password})).await,
            429,
            "rate_limited",
        )
        .await;
    }
}
