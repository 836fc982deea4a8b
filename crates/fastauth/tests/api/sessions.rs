//! The caller's sessions.

use serde_json::Value;

use crate::support::{TestApp, assert_problem};

#[tokio::test]
async fn sessions_list_marks_the_current_one_and_others_can_be_ended() {
    let app = TestApp::spawn().await;
    let user = app.user().create().await;
    let first = user.sign_in(&app).await;
    let second = user.sign_in(&app).await;
    let third = user.sign_in(&app).await;
    let list: Value = app.get_with("/sessions", &second.access).await.json().await.expect("json");
    let sessions = list["results"].as_array().expect("results");
    assert_eq!(sessions.len(), 3);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    assert_eq!(sessions[0]["ip"], "127.0.0.1");
    // End the first session from the second.
    let first_sid =
        sessions.iter().find(|s| s["current"] == false).expect("other")["id"].as_str().expect("id").to_owned();
    let res = app
        .http
        .delete(app.url(&format!("/sessions/{first_sid}")))
        .bearer_auth(&second.access)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 204);
    let res = app.http.delete(app.url("/sessions")).bearer_auth(&second.access).send().await.expect("send");
    assert_eq!(res.status(), 204);
    for gone in [&first, &third] {
        assert_problem(app.get_with("/me", &gone.access).await, 401, "invalid_token").await;
    }
    assert_eq!(app.get_with("/me", &second.access).await.status(), 200);
}

#[tokio::test]
async fn another_users_session_id_is_404() {
    let app = TestApp::spawn().await;
    let alice = app.user().create().await.sign_in(&app).await;
    let bob = app.user().create().await.sign_in(&app).await;
    let list: Value = app.get_with("/sessions", &bob.access).await.json().await.expect("json");
    let bob_sid = list["results"][0]["id"].as_str().expect("id").to_owned();
    let res = app
        .http
        .delete(app.url(&format!("/sessions/{bob_sid}")))
        .bearer_auth(&alice.access)
        .send()
        .await
        .expect("send");
    assert_problem(res, 404, "not_found").await;
    assert_eq!(app.get_with("/me", &bob.access).await.status(), 200);
}
