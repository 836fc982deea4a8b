//! User, role and application administration: every protected route checks its permission,
//! nobody escalates, and changes take effect at once.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{TestApp, Tokens, assert_problem, unique_email};

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = app.http.request(method, app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.expect("send")
}

async fn role_id(app: &TestApp, name: &str) -> i64 {
    app.app.core.store.find_role_by_name(name, None).await.expect("query").expect("role").id
}

/// A role holding exactly `permissions`, created through the store.
async fn role_with(app: &TestApp, permissions: &[&str]) -> (String, i64) {
    let name = format!("role-{}", uuid::Uuid::new_v4().simple());
    let role = fastauth_core::model::NewRole {
        id: None,
        role_name: name.clone(),
        permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
        department_name: None,
        department_id: None,
        application: None,
    };
    let created = app.app.core.store.create_roles(&[role], time::OffsetDateTime::now_utc()).await.expect("role");
    (name, created[0].id)
}

#[tokio::test]
async fn every_protected_route_refuses_anonymous_and_plain_callers_and_admits_admins() {
    let app = TestApp::spawn().await;
    let plain = app.user().create().await;
    let plain_tokens = plain.sign_in(&app).await;
    let admin = app.admin().await.sign_in(&app).await;
    let target = app.user().create().await;
    let visitors = role_id(&app, "Visitors").await;
    let phone = "+919812345678";
    let add = json!({"firstname": "Imp", "lastname": "Orted", "email": unique_email(), "phone_number": phone, "hashed_password": bcrypt::hash("x", 4).expect("hash")});
    let routes: Vec<(Method, String, Option<Value>, u16)> = vec![
        (Method::GET, format!("/get-userbyid/{}", target.id), None, 200),
        (Method::POST, format!("/get-userbyid/{}", target.id), None, 200),
        (Method::GET, "/users".into(), None, 200),
        (Method::POST, "/users".into(), Some(json!({"limit": 5})), 200),
        (Method::POST, format!("/update/{}", target.id), Some(json!({"lastname": "Changed"})), 200),
        (
            Method::POST,
            "/create-user".into(),
            Some(json!({"firstname": "New", "lastname": "User", "email": unique_email()})),
            201,
        ),
        (Method::POST, "/add_user".into(), Some(add), 201),
        (Method::GET, format!("/users/by-role?role_id={visitors}"), None, 200),
        (Method::POST, "/users/by-role".into(), Some(json!({"role_id": visitors})), 200),
        (Method::GET, format!("/get_user/{phone}"), None, 200),
        (Method::POST, format!("/get_user/{phone}"), None, 200),
        (Method::GET, "/roles".into(), None, 200),
        (Method::POST, "/roles".into(), None, 200),
        (
            Method::POST,
            "/create_roles".into(),
            Some(json!([{"role_name": format!("r-{}", uuid::Uuid::new_v4().simple())}])),
            201,
        ),
        (Method::POST, format!("/roles/{visitors}/update"), Some(json!({"department_name": "Front"})), 200),
        (
            Method::POST,
            "/roles/update_permissions".into(),
            Some(json!([{"role_id": visitors, "permissions": []}])),
            200,
        ),
        (Method::POST, format!("/roles/{visitors}/update_status?is_active=true"), None, 200),
        (
            Method::POST,
            "/applications".into(),
            Some(json!({"id": format!("app-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]), "name": "An app"})),
            201,
        ),
        (Method::GET, "/applications".into(), None, 200),
        (Method::POST, "/authorize".into(), Some(json!({"user_id": target.id, "permission": "x:y"})), 200),
        (Method::GET, "/audit-events".into(), None, 200),
        (Method::DELETE, format!("/users/{}/sessions", target.id), None, 204),
        (Method::DELETE, format!("/delete-user?uuid={}", target.id), None, 200),
    ];
    for (method, path, body, ok) in routes {
        let res = send(&app, method.clone(), &path, None, body.clone()).await;
        assert_eq!(res.status(), 401, "{method} {path} without a token");
        let res = send(&app, method.clone(), &path, Some(&plain_tokens.access), body.clone()).await;
        assert_eq!(res.status(), 403, "{method} {path} as a plain user");
        let res = send(&app, method.clone(), &path, Some(&admin.access), body).await;
        assert_eq!(res.status(), ok, "{method} {path} as an admin: {:?}", res.text().await);
    }
    let denied = app.app.core.audit_events(None, Some("authz.denied"), 200).await.expect("audit");
    assert!(denied.len() >= 20, "every refusal is audited ({})", denied.len());
}

#[tokio::test]
async fn users_change_their_own_names_but_not_their_roles_status_or_unproven_email() {
    let app = TestApp::spawn().await;
    let user = app.user().create().await;
    let t = user.sign_in(&app).await;
    let path = format!("/update/{}", user.id);
    let res = send(
        &app,
        Method::POST,
        &path,
        Some(&t.access),
        Some(json!({"firstname": "Renamed", "source_profile": "https://cdn.example.com/a.png"})),
    )
    .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    assert_eq!(
        (body["firstname"].as_str(), body["source_profile"].as_str()),
        (Some("Renamed"), Some("https://cdn.example.com/a.png"))
    );
    let admin_role = role_id(&app, "Super Admin").await;
    assert_problem(
        send(&app, Method::POST, &path, Some(&t.access), Some(json!({"role_ids": [admin_role]}))).await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        send(&app, Method::POST, &path, Some(&t.access), Some(json!({"status": 0}))).await,
        403,
        "forbidden",
    )
    .await;
    let email = json!({"email": unique_email()});
    assert_problem(
        send(&app, Method::POST, &path, Some(&t.access), Some(email.clone())).await,
        403,
        "reauthentication_required",
    )
    .await;
    let mut proven = email;
    proven["current_password"] = json!(user.password);
    let res = send(&app, Method::POST, &path, Some(&t.access), Some(proven)).await;
    assert_eq!(res.status(), 202, "a code goes to the new address; the change waits for it");
    let other = app.user().create().await;
    assert_problem(
        send(&app, Method::POST, &format!("/update/{}", other.id), Some(&t.access), Some(json!({"firstname": "X"})))
            .await,
        403,
        "forbidden",
    )
    .await;
    let me: Value = app.get_with("/me", &t.access).await.json().await.expect("json");
    assert_eq!(me["results"]["email"], user.email.as_str(), "the email did not change");
}

#[tokio::test]
async fn an_admin_cannot_hand_out_permissions_it_does_not_hold() {
    let app = TestApp::spawn().await;
    let (manager_role, _) = role_with(&app, &["users:read", "users:write", "roles:write", "reports:read"]).await;
    let manager = app.user().role(&manager_role).create().await.sign_in(&app).await;
    let victim = app.user().create().await;
    let super_admin = role_id(&app, "Super Admin").await;
    let (_, billing) = role_with(&app, &["billing:write"]).await;
    let (_, reports) = role_with(&app, &["reports:read"]).await;
    let path = format!("/update/{}", victim.id);
    for forbidden in [super_admin, billing] {
        let res = send(&app, Method::POST, &path, Some(&manager.access), Some(json!({"role_ids": [forbidden]}))).await;
        assert_problem(res, 403, "forbidden").await;
    }
    let res = send(&app, Method::POST, &path, Some(&manager.access), Some(json!({"role_ids": [reports]}))).await;
    assert_eq!(res.status(), 200, "a role within the manager's own permissions may be given");
    let res = send(
        &app,
        Method::POST,
        "/roles/update_permissions",
        Some(&manager.access),
        Some(json!([{"role_id": reports, "permissions": ["reports:read", "*"]}])),
    )
    .await;
    assert_problem(res, 403, "forbidden").await;
    let res = send(
        &app,
        Method::POST,
        "/create_roles",
        Some(&manager.access),
        Some(json!([{"role_name": "sneaky", "permissions": ["billing:write"]}])),
    )
    .await;
    assert_problem(res, 403, "forbidden").await;
    let (manager_own_id, manager_role_id) = (victim.id.clone(), role_id(&app, &manager_role).await);
    let _ = manager_own_id;
    let me = app.app.core.store.user_ids_with_role(manager_role_id).await.expect("ids");
    let res = send(
        &app,
        Method::POST,
        &format!("/update/{}", me[0]),
        Some(&manager.access),
        Some(json!({"role_ids": [manager_role_id, reports]})),
    )
    .await;
    assert_problem(res, 403, "forbidden").await;
    let victim_view: Value =
        send(&app, Method::GET, &format!("/get-userbyid/{}", victim.id), Some(&manager.access), None)
            .await
            .json()
            .await
            .expect("json");
    let held: Vec<i64> = victim_view["results"][0]["role_ids"]
        .as_array()
        .expect("roles")
        .iter()
        .map(|r| r["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(held, vec![reports], "refused changes changed nothing");
}

#[tokio::test]
async fn deactivating_a_role_or_disabling_a_user_takes_effect_at_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await.sign_in(&app).await;
    let (reader_role, reader_id) = role_with(&app, &["users:read", "reports:read"]).await;
    let reader = app.user().role(&reader_role).create().await;
    let t = reader.sign_in(&app).await;
    let (checker_role, _) = role_with(&app, &["authz:check"]).await;
    let checker = app.user().role(&checker_role).create().await.sign_in(&app).await;
    let ask = json!({"user_id": reader.id, "permission": "reports:read"});
    let decision: Value = send(&app, Method::POST, "/authorize", Some(&checker.access), Some(ask.clone()))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(decision["allowed"], true);
    assert_eq!(send(&app, Method::GET, "/users", Some(&t.access), None).await.status(), 200);

    let res = send(
        &app,
        Method::POST,
        &format!("/roles/{reader_id}/update_status"),
        Some(&admin.access),
        Some(json!({"is_active": false})),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_problem(send(&app, Method::GET, "/users", Some(&t.access), None).await, 403, "forbidden").await;
    let decision: Value =
        send(&app, Method::POST, "/authorize", Some(&checker.access), Some(ask)).await.json().await.expect("json");
    assert_eq!(decision["allowed"], false);
    let live: Value = app.post("/token", json!({"token": t.access})).await.json().await.expect("json");
    assert_eq!(live["results"]["roles"], json!([]));

    let res =
        send(&app, Method::POST, &format!("/update/{}", reader.id), Some(&admin.access), Some(json!({"status": 0})))
            .await;
    assert_eq!(res.status(), 200);
    assert_problem(app.post("/token", json!({"token": t.access})).await, 401, "invalid_token").await;
    assert_problem(app.post("/refresh-token", json!({"refresh_token": t.refresh})).await, 401, "invalid_refresh_token")
        .await;
}

#[tokio::test]
async fn application_roles_appear_only_in_that_applications_tokens() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await.sign_in(&app).await;
    let res = send(
        &app,
        Method::POST,
        "/applications",
        Some(&admin.access),
        Some(json!({"id": "mobile", "name": "Mobile", "allowed_origins": ["https://m.example.com"]})),
    )
    .await;
    assert_eq!(res.status(), 201);
    let dup =
        send(&app, Method::POST, "/applications", Some(&admin.access), Some(json!({"id": "mobile", "name": "Again"})))
            .await;
    assert_problem(dup, 409, "application_exists").await;
    let created: Value = send(
        &app,
        Method::POST,
        "/create_roles",
        Some(&admin.access),
        Some(json!([{"role_name": "Driver", "permissions": ["trips:write"], "application": "mobile"}])),
    )
    .await
    .json()
    .await
    .expect("json");
    let driver = created[0]["id"].as_i64().expect("id");
    let user = app.user().role("User").create().await;
    let res = send(
        &app,
        Method::POST,
        &format!("/update/{}", user.id),
        Some(&admin.access),
        Some(json!({"role_ids": [driver, role_id(&app, "User").await]})),
    )
    .await;
    assert_eq!(res.status(), 200);
    let sign_in = |client: &'static str| {
        app.post("/signin", json!({"email": user.email, "password": user.password, "client_id": client}))
    };
    let mobile: Value = sign_in("mobile").await.json().await.expect("json");
    let web: Value = sign_in("default").await.json().await.expect("json");
    let claims = |token: &Value| -> Value {
        use base64::Engine;
        let part = token.as_str().expect("token").split('.').nth(1).expect("claims");
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).expect("b64"))
            .expect("json")
    };
    let (m, w) = (claims(&mobile["access_token"]), claims(&web["access_token"]));
    assert_eq!((m["aud"].as_str(), w["aud"].as_str()), (Some("mobile"), Some("default")));
    assert_eq!(m["roles"], json!(["User", "Driver"]));
    assert_eq!(m["permissions"], json!(["trips:write"]));
    assert_eq!(w["roles"], json!(["User"]));
    let roles: Value = send(&app, Method::GET, "/roles?application=mobile", Some(&admin.access), None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(roles["results"].as_array().expect("roles").len(), 1);
    assert_problem(
        app.post("/signin", json!({"email": user.email, "password": user.password, "client_id": "nope"})).await,
        400,
        "unknown_client",
    )
    .await;
}

#[tokio::test]
async fn imported_users_sign_in_with_their_old_password_and_add_user_upserts_by_phone() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await.sign_in(&app).await;
    let email = unique_email();
    let body = json!({"firstname": "Old", "lastname": "Timer", "email": email, "phone_number": "+919811111111", "hashed_password": bcrypt::hash("legacy password 1", 4).expect("hash")});
    let res = send(&app, Method::POST, "/add_user", Some(&admin.access), Some(body.clone())).await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.expect("json");
    assert_eq!(created["user_id"], email.as_str());
    let signin = app.post("/signin", json!({"email": email, "password": "legacy password 1"})).await;
    assert_eq!(signin.status(), 200);
    let mut again = body;
    again["lastname"] = json!("Updated");
    let res = send(&app, Method::POST, "/add_user", Some(&admin.access), Some(again.clone())).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.expect("json")["uuid"], created["uuid"]);
    again["hashed_password"] = json!("plain text password");
    let res = send(&app, Method::POST, "/add_user", Some(&admin.access), Some(again)).await;
    let problem = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "hashed_password");
    let taken = send(
        &app,
        Method::POST,
        "/create-user",
        Some(&admin.access),
        Some(json!({"firstname": "A", "lastname": "B", "email": email.to_uppercase()})),
    )
    .await;
    assert_problem(taken, 409, "user_exists").await;
}

#[tokio::test]
async fn deleting_a_user_ends_its_sessions_and_self_deletion_needs_the_password() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await.sign_in(&app).await;
    let doomed = app.user().create().await;
    let t = doomed.sign_in(&app).await;
    let res = send(&app, Method::DELETE, &format!("/delete-user?uuid={}", doomed.id), Some(&admin.access), None).await;
    assert_eq!(res.status(), 200);
    assert_problem(app.post("/token", json!({"token": t.access})).await, 401, "invalid_token").await;
    assert_problem(
        send(&app, Method::DELETE, &format!("/delete-user?uuid={}", doomed.id), Some(&admin.access), None).await,
        404,
        "not_found",
    )
    .await;
    let deleted = app.app.core.audit_events(None, Some("user.deleted"), 10).await.expect("audit");
    assert_eq!(deleted[0].subject_id.as_deref(), Some(doomed.id.as_str()), "the audit trail keeps the id");

    let me = app.user().create().await;
    let mine: Tokens = me.sign_in(&app).await;
    let path = format!("/delete-user?uuid={}", me.id);
    assert_problem(send(&app, Method::DELETE, &path, Some(&mine.access), None).await, 403, "reauthentication_required")
        .await;
    assert_problem(
        send(&app, Method::DELETE, &path, Some(&mine.access), Some(json!({"current_password": "wrong password"})))
            .await,
        403,
        "reauthentication_required",
    )
    .await;
    let res =
        send(&app, Method::DELETE, &path, Some(&mine.access), Some(json!({"current_password": me.password}))).await;
    assert_eq!(res.status(), 200);
    assert_problem(
        send(&app, Method::DELETE, "/delete-user", Some(&admin.access), None).await,
        422,
        "validation_failed",
    )
    .await;
}

#[tokio::test]
async fn paging_through_10000_users_returns_each_exactly_once_while_users_are_added() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await.sign_in(&app).await;
    let core = app.app.core.clone();
    let make = |core: fastauth_core::Core, n: usize| async move {
        let mut ids = Vec::with_capacity(n);
        for _ in 0..n {
            let user = fastauth_core::model::NewUser {
                id: fastauth_core::ids::UserId::generate(),
                firstname: "Bulk".into(),
                lastname: "User".into(),
                email: Some(fastauth_core::email::Email::parse(&unique_email()).expect("email")),
                phone_number: None,
                password_hash: None,
                source_profile: None,
                email_verified_at: None,
                phone_verified_at: None,
                role_ids: vec![],
            };
            ids.push(
                core.store
                    .create_user_with_roles(&user, time::OffsetDateTime::now_utc(), None)
                    .await
                    .expect("create")
                    .id
                    .to_string(),
            );
        }
        ids
    };
    let batches: Vec<_> = (0..8).map(|_| tokio::spawn(make(core.clone(), 1250))).collect();
    let mut existing = std::collections::BTreeSet::new();
    for b in batches {
        existing.extend(b.await.expect("join"));
    }
    assert_eq!(existing.len(), 10_000);
    let writer = tokio::spawn(make(core.clone(), 300));
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/users?limit=200&q=bulk&cursor={c}"),
            None => "/users?limit=200&q=bulk".to_owned(),
        };
        let page: Value = send(&app, Method::GET, &path, Some(&admin.access), None).await.json().await.expect("json");
        assert!(page["count"].as_i64().expect("count") >= 10_000);
        seen.extend(
            page["results"].as_array().expect("results").iter().map(|u| u["uuid"].as_str().expect("uuid").to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    writer.await.expect("join");
    let unique: std::collections::BTreeSet<_> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no user appears twice");
    assert!(existing.is_subset(&unique), "every user that existed before paging is returned");
}

#[tokio::test]
async fn the_audit_trail_filters_by_user_type_and_time() {
    let app = TestApp::spawn().await;
    let auditor_role = role_with(&app, &["audit:read"]).await.0;
    let auditor = app.user().role(&auditor_role).create().await.sign_in(&app).await;
    let user = app.user().create().await;
    user.sign_in(&app).await;
    let _ = app.post("/signin", json!({"email": user.email, "password": "wrong password"})).await;
    let page: Value =
        send(&app, Method::GET, &format!("/audit-events?user_id={}", user.id), Some(&auditor.access), None)
            .await
            .json()
            .await
            .expect("json");
    let kinds: Vec<&str> =
        page["results"].as_array().expect("results").iter().map(|e| e["type"].as_str().expect("type")).collect();
    assert_eq!(kinds, ["signin.failed", "signin.succeeded"]);
    assert_eq!(page["results"][0]["ip"], "127.0.0.1");
    let failed: Value = send(
        &app,
        Method::GET,
        &format!("/audit-events?user_id={}&type=signin.failed&limit=1", user.id),
        Some(&auditor.access),
        None,
    )
    .await
    .json()
    .await
    .expect("json");
    assert_eq!(failed["results"].as_array().expect("results").len(), 1);
    let future: Value =
        send(&app, Method::GET, "/audit-events?since=2100-01-01T00:00:00Z", Some(&auditor.access), None)
            .await
            .json()
            .await
            .expect("json");
    assert_eq!(future["results"], json!([]));
    assert_problem(
        send(&app, Method::GET, "/audit-events?since=yesterday", Some(&auditor.access), None).await,
        422,
        "validation_failed",
    )
    .await;
}
