//! The store conformance suite: every test runs on SQLite and on PostgreSQL.
// A failed expectation in a test is a failed test.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use fastauth_core::StoreError;
use fastauth_core::email::Email;
use fastauth_core::error::Constraint;
use fastauth_core::ids::{ClientId, SessionId, UserId};
use fastauth_core::model::*;
use fastauth_core::phone::PhoneNumber;
use fastauth_core::ports::Store;
use time::{Duration, OffsetDateTime};

/// Declares `name` once per backend.
macro_rules! store_test {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let db = fastauth_store::testing::TestDb::sqlite().await;
                super::$name(db.store.clone()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let db = fastauth_store::testing::TestDb::postgres().await;
                super::$name(db.store.clone()).await;
            }
        }
    };
}

fn now() -> OffsetDateTime {
    // Millisecond precision, as stored.
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.millisecond() as u32 * 1_000_000).expect("valid time")
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// A valid Indian mobile number no other test uses.
fn unique_phone() -> PhoneNumber {
    let digits: String = uuid::Uuid::new_v4().as_bytes()[..8].iter().map(|b| char::from(b'0' + b % 10)).collect();
    PhoneNumber::parse(&format!("+9198{digits}"), None).expect("valid phone")
}

fn new_user(role_ids: Vec<i64>) -> NewUser {
    NewUser {
        id: UserId::generate(),
        firstname: "Ada".into(),
        lastname: "Lovelace".into(),
        email: Some(Email::parse(&format!("{}@example.com", unique("ada"))).expect("email")),
        phone_number: None,
        password_hash: Some(
            "$argon2id$v=19$m=64,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
        ),
        source_profile: None,
        email_verified_at: None,
        phone_verified_at: None,
        role_ids,
    }
}

async fn seed_roles(store: &Arc<dyn Store>) -> Role {
    let role = NewRole {
        id: None,
        role_name: "User".into(),
        permissions: vec!["reports:read".into()],
        department_name: None,
        department_id: None,
        application: None,
    };
    store.ensure_global_roles(&[role.clone(), role]).await.expect("seed twice is harmless");
    store.find_role_by_name("User", None).await.expect("query").expect("seeded")
}

fn new_session(user: &UserId, hash: &str, now: OffsetDateTime) -> NewSession {
    NewSession {
        id: SessionId::generate(),
        user_id: user.clone(),
        client_id: ClientId::default_app(),
        refresh_hash: hash.to_owned(),
        created_at: now,
        idle_expires_at: now + Duration::days(2),
        absolute_expires_at: now + Duration::days(30),
        user_agent: Some("test".into()),
        ip: Some("127.0.0.1".into()),
        test_identity: false,
    }
}

async fn app(store: &Arc<dyn Store>) {
    let default = Application { id: ClientId::default_app(), name: "Default".into(), allowed_origins: vec![] };
    store.ensure_application(&default).await.expect("app");
}

#[test]
fn migrations_are_paired() {
    let names = |dir: &str| {
        let mut v: Vec<_> = std::fs::read_dir(format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR")))
            .expect("migrations dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names("postgres"), names("sqlite"));
}

store_test!(users_round_trip_with_their_roles);
async fn users_round_trip_with_their_roles(store: Arc<dyn Store>) {
    app(&store).await;
    let role = seed_roles(&store).await;
    let mut new = new_user(vec![role.id]);
    new.phone_number = Some(unique_phone());
    let t = now();
    let user = store.create_user_with_roles(&new, t, None).await.expect("create");
    assert_eq!(user.created_at, t, "times round-trip at millisecond precision");
    assert_eq!(user.status, UserStatus::Active);
    let by_email = store.find_user_by_email(new.email.as_ref().expect("email")).await.expect("find").expect("found");
    assert_eq!(by_email, user);
    let by_phone =
        store.find_user_by_phone(new.phone_number.as_ref().expect("phone")).await.expect("find").expect("found");
    assert_eq!(by_phone.id, user.id);
    let roles = store.roles_of_user(&user.id, &ClientId::default_app()).await.expect("roles");
    assert_eq!(roles, vec![role]);
}

store_test!(emails_and_phones_are_unique);
async fn emails_and_phones_are_unique(store: Arc<dyn Store>) {
    let first = new_user(vec![]);
    store.create_user_with_roles(&first, now(), None).await.expect("create");
    let mut same_email = new_user(vec![]);
    same_email.email = first.email.clone();
    let err = store.create_user_with_roles(&same_email, now(), None).await.expect_err("duplicate email");
    assert!(matches!(err, StoreError::Conflict(Constraint::UserEmail)), "{err:?}");
    assert!(store.find_user(&same_email.id).await.expect("find").is_none(), "nothing half-written");
}

store_test!(password_and_status_changes_stick);
async fn password_and_status_changes_stick(store: Arc<dyn Store>) {
    let user = store.create_user_with_roles(&new_user(vec![]), now(), None).await.expect("create");
    store.set_password_hash(&user.id, "$new", now()).await.expect("hash");
    store.set_user_status(&user.id, UserStatus::Disabled, now()).await.expect("status");
    let user = store.find_user(&user.id).await.expect("find").expect("found");
    assert_eq!(user.password_hash.as_deref(), Some("$new"));
    assert_eq!(user.status, UserStatus::Disabled);
}

store_test!(concurrent_rotations_of_one_token_have_one_winner);
async fn concurrent_rotations_of_one_token_have_one_winner(store: Arc<dyn Store>) {
    app(&store).await;
    let user = store.create_user_with_roles(&new_user(vec![]), now(), None).await.expect("create");
    let t = now();
    store.create_session(&new_session(&user.id, "h0", t), 50, None).await.expect("session");
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store.rotate_refresh_token("h0", &format!("h1-{i}"), now(), now() + Duration::days(2)).await
            })
        })
        .collect();
    let mut rotated = 0;
    for task in tasks {
        match task.await.expect("join").expect("no store error under contention") {
            Rotation::Rotated(_) => rotated += 1,
            Rotation::Reused { .. } => {}
            Rotation::Invalid => panic!("a rotated token must be reported as reused"),
        }
    }
    assert_eq!(rotated, 1);
}

store_test!(rotation_reports_reuse_and_refuses_ended_sessions);
async fn rotation_reports_reuse_and_refuses_ended_sessions(store: Arc<dyn Store>) {
    app(&store).await;
    let user = store.create_user_with_roles(&new_user(vec![]), now(), None).await.expect("create");
    let t = now();
    let (session, _) = store.create_session(&new_session(&user.id, "a0", t), 50, None).await.expect("session");
    let idle = t + Duration::days(2);
    let Rotation::Rotated(s) = store.rotate_refresh_token("a0", "a1", t, idle).await.expect("rotate") else {
        panic!("rotates")
    };
    assert_eq!(s.id, session.id);
    match store.rotate_refresh_token("a0", "a2", t, idle).await.expect("rotate") {
        Rotation::Reused { session_id, rotated_at, .. } => {
            assert_eq!(session_id, session.id);
            assert_eq!(rotated_at, t);
        }
        other => panic!("expected reuse, got {other:?}"),
    }
    assert_eq!(store.rotate_refresh_token("nope", "x", t, idle).await.expect("rotate"), Rotation::Invalid);
    let later = t + Duration::seconds(5);
    assert!(matches!(
        store.rotate_refresh_token("a1", "a1b", later, idle).await.expect("rotate"),
        Rotation::Rotated(_)
    ));
    match store.rotate_refresh_token("a0", "a2", later, idle).await.expect("rotate") {
        Rotation::Reused { rotated_at, .. } => assert_eq!(rotated_at, t, "every rotated token is kept"),
        other => panic!("expected reuse of the first token, got {other:?}"),
    }
    assert!(matches!(
        store.rotate_refresh_token("a1", "a2", later, idle).await.expect("rotate"),
        Rotation::Reused { rotated_at, .. } if rotated_at == later
    ));
    assert!(store.revoke_session(&user.id, &session.id, t).await.expect("revoke"));
    assert!(!store.revoke_session(&user.id, &session.id, t).await.expect("revoke twice"));
    assert_eq!(store.rotate_refresh_token("a1b", "a3", t, idle).await.expect("rotate"), Rotation::Invalid);
}

store_test!(sessions_beyond_the_limit_end_least_recently_used_first);
async fn sessions_beyond_the_limit_end_least_recently_used_first(store: Arc<dyn Store>) {
    app(&store).await;
    let user = store.create_user_with_roles(&new_user(vec![]), now(), None).await.expect("create");
    let t = now();
    let mut ids = Vec::new();
    for i in 0..4 {
        let (s, _) = store
            .create_session(&new_session(&user.id, &unique("s"), t + Duration::seconds(i)), 3, None)
            .await
            .expect("session");
        ids.push(s.id);
    }
    let live: Vec<_> = store
        .list_live_sessions(&user.id, t + Duration::seconds(5))
        .await
        .expect("list")
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(live, vec![ids[3].clone(), ids[2].clone(), ids[1].clone()]);
    let other = UserId::generate();
    assert!(
        !store.revoke_session(&other, &ids[3], t).await.expect("revoke"),
        "another user's session is not theirs to end"
    );
    assert_eq!(store.revoke_user_sessions(&user.id, Some(&ids[3]), t).await.expect("revoke"), 2);
    assert_eq!(store.list_live_sessions(&user.id, t).await.expect("list").len(), 1);
}

store_test!(racing_sign_ins_of_one_user_all_open_and_stay_near_the_limit);
/// A sign-in flood of one account: each open ends the oldest sessions beyond the limit, so
/// racing opens end overlapping rows. Taking those rows' locks in differing orders deadlocked
/// PostgreSQL (a 1 s stall of every racer, then a 500 for its victim).
async fn racing_sign_ins_of_one_user_all_open_and_stay_near_the_limit(store: Arc<dyn Store>) {
    const RACERS: usize = 24;
    app(&store).await;
    let user = store.create_user_with_roles(&new_user(vec![]), now(), None).await.expect("create");
    for round in 0..6 {
        let tasks: Vec<_> = (0..RACERS)
            .map(|_| {
                let (store, user) = (store.clone(), user.id.clone());
                tokio::spawn(
                    async move { store.create_session(&new_session(&user, &unique("r"), now()), 3, None).await },
                )
            })
            .collect();
        for task in tasks {
            task.await.expect("join").unwrap_or_else(|e| panic!("round {round}: a racing sign-in failed: {e}"));
        }
    }
    // Each racer may leave one over the limit; the next lone sign-in brings it back.
    let live = store.list_live_sessions(&user.id, now()).await.expect("list").len();
    assert!(live <= 3 + RACERS, "{live} live sessions");
    store.create_session(&new_session(&user.id, &unique("r"), now()), 3, None).await.expect("open");
    assert_eq!(store.list_live_sessions(&user.id, now()).await.expect("list").len(), 3);
}

store_test!(signing_keys_rotate_and_revoke);
async fn signing_keys_rotate_and_revoke(store: Arc<dyn Store>) {
    let key = |kid: &str, at| SigningKeyRecord {
        kid: kid.into(),
        algorithm: "EdDSA".into(),
        private_key_encrypted: vec![1, 2, 3],
        created_at: at,
        retired_at: None,
        revoked_at: None,
    };
    let t = now();
    store.rotate_signing_key(&key("k1", t), t).await.expect("k1");
    store.rotate_signing_key(&key("k2", t + Duration::seconds(1)), t + Duration::seconds(1)).await.expect("k2");
    let keys = store.list_signing_keys().await.expect("list");
    assert_eq!(keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(), ["k2", "k1"]);
    assert_eq!(keys[1].retired_at, Some(t + Duration::seconds(1)));
    assert_eq!(keys[0].private_key_encrypted, vec![1, 2, 3]);
    assert!(store.revoke_signing_key("k1", t).await.expect("revoke"));
    assert!(!store.revoke_signing_key("k1", t).await.expect("revoke"));
    assert_eq!(store.list_signing_keys().await.expect("list").len(), 1);
}

store_test!(changes_and_their_audit_rows_are_written_together);
async fn changes_and_their_audit_rows_are_written_together(store: Arc<dyn Store>) {
    app(&store).await;
    let new = new_user(vec![]);
    let event = |kind, via| NewAuditEvent {
        kind,
        at: now(),
        actor_id: None,
        subject_id: Some(new.id.clone()),
        ip: None,
        details: serde_json::json!({ "via": via }),
    };
    let user = store.create_user_with_roles(&new, now(), Some(&event("user.created", "signup"))).await.expect("create");
    // The same user again, and then the same refresh token again: neither change can be
    // written, so neither is its row.
    let again = store.create_user_with_roles(&new, now(), Some(&event("user.created", "again"))).await;
    assert!(again.is_err(), "a user id is unique");
    let hash = unique("h");
    let signed_in = event("signin.succeeded", "password");
    store.create_session(&new_session(&user.id, &hash, now()), 50, Some(&signed_in)).await.expect("session");
    let refused = store.create_session(&new_session(&user.id, &hash, now()), 50, Some(&signed_in)).await;
    assert!(refused.is_err(), "a refresh token is unique");
    let filter = AuditFilter { user: Some(user.id.clone()), limit: 10, ..AuditFilter::default() };
    let events = store.list_audit(&filter).await.expect("list");
    let kinds: Vec<_> = events.iter().map(|e| (e.kind.as_str(), e.details["via"].as_str())).collect();
    assert_eq!(kinds, [("signin.succeeded", Some("password")), ("user.created", Some("signup"))]);
    assert_eq!(store.list_live_sessions(&user.id, now()).await.expect("list").len(), 1);
}

store_test!(a_new_user_and_its_first_session_are_written_together);
async fn a_new_user_and_its_first_session_are_written_together(store: Arc<dyn Store>) {
    app(&store).await;
    let role = seed_roles(&store).await;
    let endpoint = unique("https://hooks.example.com/");
    assert!(store.lease_endpoint(&endpoint, "me", now(), now() + Duration::seconds(30)).await.expect("lease"));
    let new = new_user(vec![role.id, role.id]);
    let hash = unique("h");
    let event = NewAuditEvent {
        kind: "user.created",
        at: now(),
        actor_id: None,
        subject_id: Some(new.id.clone()),
        ip: None,
        details: serde_json::json!({ "via": "signup" }),
    };
    let (user, session, roles) = store
        .create_user_with_session(&new, now(), Some(&event), &new_session(&new.id, &hash, now()))
        .await
        .expect("sign-up");
    assert_eq!(session.user_id, user.id);
    assert_eq!(roles, vec![role.clone()], "the user's roles, read in the same transaction");
    assert_eq!(store.list_live_sessions(&user.id, now()).await.expect("list").len(), 1);
    assert_eq!(store.find_user(&user.id).await.expect("find"), Some(user.clone()), "as written");
    let filter = AuditFilter { user: Some(user.id.clone()), limit: 10, ..AuditFilter::default() };
    let kinds: Vec<_> = store.list_audit(&filter).await.expect("audit").into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, ["user.created"]);
    let created: Vec<_> = store
        .undelivered_events(&endpoint, 1000)
        .await
        .expect("outbox")
        .into_iter()
        .filter(|e| e.subject == user.id.as_str())
        .collect();
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0].kind, "user.created");
    let data: serde_json::Value = serde_json::from_str(&created[0].data).expect("json");
    assert_eq!(
        (data["email"].as_str(), &data["role_ids"]),
        (Some(user.email.as_ref().expect("email").as_str()), &serde_json::json!([role.id, role.id]))
    );

    // The same email again is the email's conflict.
    let mut again = new_user(vec![role.id]);
    again.email = new.email.clone();
    let err = store
        .create_user_with_session(&again, now(), None, &new_session(&again.id, &unique("h"), now()))
        .await
        .expect_err("the email is taken");
    assert!(matches!(err, StoreError::Conflict(Constraint::UserEmail)), "{err:?}");

    // A first session that cannot be written (its refresh token is taken) leaves no account.
    let other = new_user(vec![role.id]);
    let refused = store.create_user_with_session(&other, now(), None, &new_session(&other.id, &hash, now())).await;
    assert!(refused.is_err(), "a refresh token is unique");
    assert_eq!(store.find_user(&other.id).await.expect("find"), None);
    assert_eq!(store.find_user_by_email(other.email.as_ref().expect("email")).await.expect("find"), None);
}

store_test!(audit_events_filter_by_user_and_type);
async fn audit_events_filter_by_user_and_type(store: Arc<dyn Store>) {
    let (a, b) = (UserId::generate(), UserId::generate());
    for (kind, subject) in [("signin.failed", &a), ("signin.succeeded", &a), ("signin.failed", &b)] {
        let e = NewAuditEvent {
            kind,
            at: now(),
            actor_id: None,
            subject_id: Some(subject.clone()),
            ip: Some("::1".into()),
            details: serde_json::json!({"n": 1}),
        };
        store.record_audit(&e).await.expect("record");
    }
    let filter = |user: Option<&UserId>, kind: Option<&str>| AuditFilter {
        user: user.cloned(),
        kind: kind.map(str::to_owned),
        limit: 10,
        ..AuditFilter::default()
    };
    let of_a = store.list_audit(&filter(Some(&a), None)).await.expect("list");
    assert_eq!(of_a.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["signin.succeeded", "signin.failed"]);
    let failed: Vec<_> = store
        .list_audit(&filter(None, Some("signin.failed")))
        .await
        .expect("list")
        .into_iter()
        .filter(|e| e.subject_id.as_deref() == Some(a.as_str()) || e.subject_id.as_deref() == Some(b.as_str()))
        .collect();
    assert_eq!(failed.len(), 2);
    let older =
        store.list_audit(&AuditFilter { before: Some(of_a[0].id), ..filter(Some(&a), None) }).await.expect("page");
    assert_eq!(older.len(), 1, "the cursor pages back");
    let future = store
        .list_audit(&AuditFilter { since: Some(now() + Duration::hours(1)), ..filter(Some(&a), None) })
        .await
        .expect("since");
    assert!(future.is_empty());
    assert_eq!(failed[0].details, serde_json::json!({"n": 1}));
}

fn role(name: &str, permissions: &[&str]) -> NewRole {
    NewRole {
        id: None,
        role_name: name.into(),
        permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
        department_name: Some("Ops".into()),
        department_id: None,
        application: None,
    }
}

store_test!(users_list_by_cursor_and_filters_and_count);
async fn users_list_by_cursor_and_filters_and_count(store: Arc<dyn Store>) {
    let tag = unique("");
    let staff = store.create_roles(&[role(&format!("staff-{tag}"), &[])], now()).await.expect("role").remove(0);
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut u = new_user(if i % 2 == 0 { vec![staff.id] } else { vec![] });
        u.firstname = format!("Zed{tag}{i}");
        ids.push(store.create_user_with_roles(&u, now(), None).await.expect("create").id);
    }
    let by_role = UserFilter { role_id: Some(staff.id), ..UserFilter::default() };
    assert_eq!(store.count_users(&by_role).await.expect("count"), 3);
    let by_name = UserFilter { q: Some(format!("zED{tag}")), ..UserFilter::default() };
    assert_eq!(store.count_users(&by_name).await.expect("count"), 5);
    let wildcard = UserFilter { q: Some("%".into()), ..UserFilter::default() };
    assert_eq!(store.count_users(&wildcard).await.expect("count"), 0, "LIKE wildcards in q are literal");
    let mut seen = Vec::new();
    let mut after: Option<UserId> = None;
    loop {
        let page = store.list_users(&by_name, after.as_ref(), 2).await.expect("page");
        if page.is_empty() {
            break;
        }
        after = page.last().map(|u| u.id.clone());
        seen.extend(page.into_iter().map(|u| u.id));
    }
    ids.sort();
    assert_eq!(seen, ids);
    let pairs = store.roles_of_users(&ids).await.expect("roles");
    assert_eq!(pairs.len(), 3);
    assert!(pairs.iter().all(|(_, r)| r.id == staff.id));
    assert_eq!(store.user_ids_with_role(staff.id).await.expect("ids").len(), 3);
}

store_test!(user_updates_replace_roles_clear_verified_marks_and_end_sessions_on_disable);
async fn user_updates_replace_roles_clear_verified_marks_and_end_sessions_on_disable(store: Arc<dyn Store>) {
    app(&store).await;
    let tag = unique("");
    let roles = store
        .create_roles(&[role(&format!("a-{tag}"), &[]), role(&format!("b-{tag}"), &[])], now())
        .await
        .expect("roles");
    let mut new = new_user(vec![roles[0].id]);
    new.email_verified_at = Some(now());
    let user = store.create_user_with_roles(&new, now(), None).await.expect("create");
    store.create_session(&new_session(&user.id, &unique("h"), now()), 50, None).await.expect("session");
    let unchanged = store
        .update_user(&user.id, &UserChanges { firstname: Some("Grace".into()), ..UserChanges::default() }, now())
        .await
        .expect("update");
    assert_eq!((unchanged.firstname.as_str(), unchanged.lastname.as_str()), ("Grace", "Lovelace"));
    assert!(unchanged.email_verified_at.is_some(), "verified mark kept when the email stays");
    let new_email = Email::parse(&format!("{}@example.com", unique("new"))).expect("email");
    let changes = UserChanges {
        email: Some(new_email.clone()),
        role_ids: Some(vec![roles[1].id]),
        status: Some(UserStatus::Disabled),
        ..UserChanges::default()
    };
    let changed = store.update_user(&user.id, &changes, now()).await.expect("update");
    assert_eq!(changed.email, Some(new_email));
    assert!(changed.email_verified_at.is_none());
    assert_eq!(changed.status, UserStatus::Disabled);
    let held: Vec<_> = store
        .roles_of_users(std::slice::from_ref(&user.id))
        .await
        .expect("roles")
        .into_iter()
        .map(|(_, r)| r.id)
        .collect();
    assert_eq!(held, vec![roles[1].id]);
    assert!(store.list_live_sessions(&user.id, now()).await.expect("list").is_empty());
    let missing = store.update_user(&UserId::generate(), &UserChanges::default(), now()).await;
    assert!(matches!(missing, Err(StoreError::NotFound)));
}

store_test!(deleting_a_user_removes_its_sessions_and_assignments);
async fn deleting_a_user_removes_its_sessions_and_assignments(store: Arc<dyn Store>) {
    app(&store).await;
    let r = store.create_roles(&[role(&unique("r"), &[])], now()).await.expect("role").remove(0);
    let user = store.create_user_with_roles(&new_user(vec![r.id]), now(), None).await.expect("create");
    store.create_session(&new_session(&user.id, "del-h", now()), 50, None).await.expect("session");
    assert_eq!(store.delete_user(&user.id).await.expect("delete").map(|u| u.id), Some(user.id.clone()));
    assert!(store.find_user(&user.id).await.expect("find").is_none());
    // Looked up by user id, not joined to the (deleted) user, so a left-over session would show.
    assert!(store.list_live_sessions(&user.id, now()).await.expect("sessions").is_empty());
    assert!(store.user_ids_with_role(r.id).await.expect("ids").is_empty());
    assert_eq!(store.rotate_refresh_token("del-h", "x", now(), now()).await.expect("rotate"), Rotation::Invalid);
    assert!(store.delete_user(&user.id).await.expect("delete again").is_none());
}

store_test!(roles_are_created_all_or_nothing_and_explicit_ids_do_not_collide);
async fn roles_are_created_all_or_nothing_and_explicit_ids_do_not_collide(store: Arc<dyn Store>) {
    let name = unique("dup");
    let err = store.create_roles(&[role(&name, &[]), role(&name, &[])], now()).await.expect_err("duplicate");
    assert!(matches!(err, StoreError::Conflict(Constraint::RoleName)), "{err:?}");
    assert!(store.find_role_by_name(&name, None).await.expect("find").is_none(), "the first was rolled back");
    let explicit = NewRole { id: Some(5000), ..role(&unique("explicit"), &["a:b"]) };
    let made = store.create_roles(&[explicit], now()).await.expect("explicit id");
    assert_eq!(made[0].id, 5000);
    let next = store.create_roles(&[role(&unique("next"), &[])], now()).await.expect("auto id after explicit");
    assert!(next[0].id > 5000);
    let renamed = store
        .update_role(5000, &RoleChanges { department_id: Some("D1".into()), ..RoleChanges::default() }, now())
        .await
        .expect("update");
    assert_eq!((renamed.department_name.as_deref(), renamed.department_id.as_deref()), (Some("Ops"), Some("D1")));
}

store_test!(permission_replacement_is_all_or_nothing_and_inactive_roles_grant_nothing);
async fn permission_replacement_is_all_or_nothing_and_inactive_roles_grant_nothing(store: Arc<dyn Store>) {
    app(&store).await;
    let r = store.create_roles(&[role(&unique("perm"), &["x:read"])], now()).await.expect("role").remove(0);
    let err = store.replace_role_permissions(&[(r.id, vec!["x:write".into()]), (999_999, vec![])], now()).await;
    assert!(matches!(err, Err(StoreError::NotFound)));
    let unchanged = store.find_roles(&[r.id]).await.expect("find").remove(0);
    assert_eq!(unchanged.permissions, vec!["x:read".to_owned()]);
    let changed = store.replace_role_permissions(&[(r.id, vec!["x:write".into()])], now()).await.expect("replace");
    assert_eq!(changed[0].permissions, vec!["x:write".to_owned()]);
    let user = store.create_user_with_roles(&new_user(vec![r.id]), now(), None).await.expect("user");
    assert_eq!(store.roles_of_user(&user.id, &ClientId::default_app()).await.expect("roles").len(), 1);
    assert!(!store.set_role_active(r.id, false, now()).await.expect("deactivate").is_active);
    assert!(store.roles_of_user(&user.id, &ClientId::default_app()).await.expect("roles").is_empty());
    assert!(!store.list_roles(None).await.expect("list").iter().any(|x| x.id == r.id));
}

store_test!(applications_are_created_listed_and_unique_and_scope_roles);
async fn applications_are_created_listed_and_unique_and_scope_roles(store: Arc<dyn Store>) {
    app(&store).await;
    let id = ClientId::parse(&unique("app")).expect("id");
    let mobile =
        Application { id: id.clone(), name: "Mobile".into(), allowed_origins: vec!["https://m.example.com".into()] };
    store.create_application(&mobile).await.expect("create");
    assert!(matches!(store.create_application(&mobile).await, Err(StoreError::Conflict(Constraint::ApplicationId))));
    assert!(store.list_applications().await.expect("list").contains(&mobile));
    let scoped = NewRole { application: Some(id.clone()), ..role("Support", &["tickets:read"]) };
    let scoped = store.create_roles(&[scoped], now()).await.expect("scoped").remove(0);
    let global = store.create_roles(&[role(&unique("global"), &[])], now()).await.expect("global").remove(0);
    let user = store.create_user_with_roles(&new_user(vec![scoped.id, global.id]), now(), None).await.expect("user");
    assert_eq!(store.roles_of_user(&user.id, &id).await.expect("roles").len(), 2);
    assert_eq!(store.roles_of_user(&user.id, &ClientId::default_app()).await.expect("roles"), vec![global]);
    assert_eq!(store.list_roles(Some(&id)).await.expect("list"), vec![scoped]);
}

store_test!(one_time_codes_expire_burn_after_tries_and_respect_the_hourly_cap);
async fn one_time_codes_expire_burn_after_tries_and_respect_the_hourly_cap(store: Arc<dyn Store>) {
    use fastauth_core::ports::{OtpCheck, OtpIssue, OtpTarget};
    let target = OtpTarget { destination: unique("+9198"), channel: "sms", client_id: "default".into() };
    let t = now();
    let no_cooldown = Duration::ZERO;
    let issue = |hash: &'static str, at: OffsetDateTime, expires: OffsetDateTime| {
        let (store, target) = (store.clone(), target.clone());
        async move { store.issue_otp(&target, hash, at, expires, no_cooldown, 3).await.expect("issue") }
    };
    assert_eq!(issue("h1", t, t + Duration::minutes(10)).await, OtpIssue::Issued);
    assert_eq!(issue("h2", t + Duration::seconds(1), t + Duration::minutes(10)).await, OtpIssue::Issued);
    assert_eq!(
        store.check_otp(&target, "h1", t + Duration::seconds(2), 5).await.expect("check"),
        OtpCheck::Rejected,
        "a new code voids the old"
    );
    assert_eq!(issue("h3", t + Duration::seconds(3), t + Duration::seconds(4)).await, OtpIssue::Issued);
    match issue("h4", t + Duration::seconds(5), t + Duration::minutes(10)).await {
        OtpIssue::Limited { retry_after_secs } => {
            assert!((3590..=3600).contains(&retry_after_secs), "{retry_after_secs}")
        }
        other => panic!("the fourth code in an hour is refused, got {other:?}"),
    }
    assert_eq!(
        store.check_otp(&target, "h3", t + Duration::seconds(5), 5).await.expect("check"),
        OtpCheck::Rejected,
        "expired"
    );
    let fresh = OtpTarget { destination: unique("+9199"), ..target.clone() };
    store.issue_otp(&fresh, "right", t, t + Duration::minutes(10), no_cooldown, 5).await.expect("issue");
    for _ in 0..5 {
        assert_eq!(store.check_otp(&fresh, "wrong", t, 5).await.expect("check"), OtpCheck::Rejected);
    }
    assert_eq!(
        store.check_otp(&fresh, "right", t, 5).await.expect("check"),
        OtpCheck::Rejected,
        "five wrong tries burn the code"
    );
    let once = OtpTarget { destination: unique("+9197"), ..target };
    store.issue_otp(&once, "right", t, t + Duration::minutes(10), no_cooldown, 5).await.expect("issue");
    assert_eq!(store.check_otp(&once, "right", t, 5).await.expect("check"), OtpCheck::Verified);
    assert_eq!(store.check_otp(&once, "right", t, 5).await.expect("check"), OtpCheck::Rejected, "a code works once");
}

store_test!(purge_removes_only_what_is_past_its_keeping);
async fn purge_removes_only_what_is_past_its_keeping(store: Arc<dyn Store>) {
    let now = now();
    let long_ago = now - Duration::days(400);
    let month_ago = now - Duration::days(30);
    let endpoint = unique("https://hooks.example.com/");
    assert!(store.lease_endpoint(&endpoint, "me", now, now + Duration::seconds(30)).await.expect("lease"));
    let user = store.create_user_with_roles(&new_user(vec![]), month_ago, None).await.expect("user");
    let (old_session, _) =
        store.create_session(&new_session(&user.id, &unique("h"), month_ago), 50, None).await.expect("s");
    let (live_session, _) = store.create_session(&new_session(&user.id, &unique("h"), now), 50, None).await.expect("s");
    let (old_token, live_token) = (unique("t"), unique("t"));
    store.create_reset_token(&user.id, &old_token, month_ago, month_ago + Duration::minutes(30)).await.expect("t");
    store.create_reset_token(&user.id, &live_token, now, now + Duration::minutes(30)).await.expect("t");
    for at in [long_ago, now] {
        let event = NewAuditEvent {
            kind: "signin.failed",
            at,
            actor_id: None,
            subject_id: Some(user.id.clone()),
            ip: None,
            details: serde_json::json!({}),
        };
        store.record_audit(&event).await.expect("audit");
    }

    store.purge(now - Duration::days(365), now - Duration::days(7)).await.expect("purge");
    assert!(store.find_session_with_user(&old_session.id).await.expect("q").is_none(), "the expired session went");
    assert!(store.find_session_with_user(&live_session.id).await.expect("q").is_some());
    let at_issue = month_ago + Duration::minutes(1);
    assert!(store.find_reset_token(&old_token, at_issue).await.expect("q").is_none(), "the expired token went");
    assert!(store.find_reset_token(&live_token, now).await.expect("q").is_some());
    let filter = AuditFilter { user: Some(user.id.clone()), limit: 10, ..AuditFilter::default() };
    let audit = store.list_audit(&filter).await.expect("audit");
    assert_eq!(audit.iter().map(|e| e.at).collect::<Vec<_>>(), [now], "only the old audit row went");
    // The month-old user.created event stays until its endpoint has it.
    let pending = store.undelivered_events(&endpoint, 10).await.expect("events");
    assert_eq!(pending.len(), 1);
    store.mark_delivered(&endpoint, pending[0].id, now).await.expect("ack");
    store.purge(now - Duration::days(365), now - Duration::days(7)).await.expect("purge");
    store.mark_delivered(&endpoint, pending[0].id, now).await.expect_err("the delivered event went");
}

store_test!(a_session_is_read_with_its_user_and_the_roles_of_its_application);
async fn a_session_is_read_with_its_user_and_the_roles_of_its_application(store: Arc<dyn Store>) {
    app(&store).await;
    let other = ClientId::parse(&unique("app")).expect("id");
    store
        .create_application(&Application { id: other.clone(), name: "Other".into(), allowed_origins: vec![] })
        .await
        .expect("app");
    let global = store.create_roles(&[role(&unique("global"), &["a:read"])], now()).await.expect("role").remove(0);
    let elsewhere = NewRole { application: Some(other), ..role(&unique("scoped"), &["b:read"]) };
    let elsewhere = store.create_roles(&[elsewhere], now()).await.expect("scoped").remove(0);
    let inactive = store.create_roles(&[role(&unique("off"), &["c:read"])], now()).await.expect("role").remove(0);
    store.set_role_active(inactive.id, false, now()).await.expect("deactivate");
    let user = store
        .create_user_with_roles(&new_user(vec![global.id, elsewhere.id, inactive.id]), now(), None)
        .await
        .expect("user");
    let (session, roles) =
        store.create_session(&new_session(&user.id, &unique("h"), now()), 10, None).await.expect("session");
    assert_eq!(roles, vec![global.clone()], "the new session's roles: active ones, global or of its app");

    let found = store.find_session_with_user(&session.id).await.expect("read").expect("found");
    assert_eq!(found.session, session);
    assert_eq!(found.user, store.find_user(&user.id).await.expect("read").expect("user"));
    assert_eq!(found.roles, store.roles_of_user(&user.id, &ClientId::default_app()).await.expect("roles"));
    assert_eq!(found.roles, vec![global]);

    let bare = store.create_user_with_roles(&new_user(vec![]), now(), None).await.expect("user");
    let (session, roles) =
        store.create_session(&new_session(&bare.id, &unique("h"), now()), 10, None).await.expect("session");
    assert_eq!(roles, vec![]);
    let found = store.find_session_with_user(&session.id).await.expect("read").expect("found");
    assert_eq!((found.user.id, found.roles), (bare.id, vec![]));
    assert!(store.find_session_with_user(&SessionId::generate()).await.expect("read").is_none());
}

store_test!(writes_and_reads_carry_on_beside_checkpoints);
async fn writes_and_reads_carry_on_beside_checkpoints(store: Arc<dyn Store>) {
    // Checkpoints run every second in the service, beside requests: none may fail, block or
    // lose a write that was acknowledged.
    let checkpoints = {
        let store = store.clone();
        tokio::spawn(async move {
            for _ in 0..20 {
                store.checkpoint().await.expect("checkpoint");
                tokio::task::yield_now().await;
            }
        })
    };
    let writers: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for _ in 0..10 {
                    ids.push(store.create_user_with_roles(&new_user(vec![]), now(), None).await.expect("create").id);
                }
                ids
            })
        })
        .collect();
    let mut written = Vec::new();
    for w in writers {
        written.extend(w.await.expect("writer"));
    }
    checkpoints.await.expect("checkpoints");
    store.checkpoint().await.expect("a last checkpoint");
    assert_eq!(written.len(), 80);
    for id in &written {
        assert!(store.find_user(id).await.expect("read").is_some(), "user {id} is kept");
    }
}

store_test!(reads_cut_off_midway_leave_later_reads_right);
async fn reads_cut_off_midway_leave_later_reads_right(store: Arc<dyn Store>) {
    // The hottest reads keep their connection out of the pool between uses; a read whose caller
    // went away must not leave its connection answering the next read with its rows.
    app(&store).await;
    let mut sessions = Vec::new();
    for _ in 0..2 {
        let user = store.create_user_with_roles(&new_user(vec![]), now(), None).await.expect("user");
        let (session, _) =
            store.create_session(&new_session(&user.id, &unique("h"), now()), 10, None).await.expect("session");
        sessions.push((session.id, user.id));
    }
    for round in 0..20u64 {
        let reads: Vec<_> = (0..16)
            .map(|i| {
                let (store, (session, user)) = (store.clone(), sessions[i % 2].clone());
                tokio::spawn(async move {
                    let found = store.find_session_with_user(&session).await.expect("read").expect("found");
                    assert_eq!(found.user.id, user, "a read got another read's rows");
                })
            })
            .collect();
        // Cut off every other read wherever it has got to (sometimes before, sometimes during
        // its query).
        tokio::time::sleep(std::time::Duration::from_micros(round * 50)).await;
        for (i, read) in reads.iter().enumerate() {
            if i % 2 == 1 {
                read.abort();
            }
        }
        for read in reads {
            if let Err(e) = read.await {
                assert!(e.is_cancelled(), "a read failed: {e}");
            }
        }
    }
    for i in 0..40 {
        let (session, user) = &sessions[i % 2];
        let found = store.find_session_with_user(session).await.expect("read").expect("found");
        assert_eq!(&found.user.id, user);
        assert_eq!(store.find_user(user).await.expect("read").expect("user").id, *user);
    }
}

store_test!(session_opens_that_fail_or_are_cut_off_leave_the_writes_whole);
async fn session_opens_that_fail_or_are_cut_off_leave_the_writes_whole(store: Arc<dyn Store>) {
    // On SQLite a session opens in a transaction begun and committed in the same call; one that
    // fails or whose caller went away midway must not leave that transaction open for the next
    // writer, nor half its writes behind: a session is there exactly when its audit row is.
    app(&store).await;
    let user = store.create_user_with_roles(&new_user(vec![]), now(), None).await.expect("user");
    let nobody = UserId::generate();
    let (max, mut tried) = (3, Vec::new());
    for round in 0..20u64 {
        let opens: Vec<_> = (0..8)
            .map(|i| {
                let owner = if i == 0 { &nobody } else { &user.id };
                let session = new_session(owner, &unique("c"), now());
                tried.push(session.id.clone());
                let event = NewAuditEvent {
                    kind: "signin.succeeded",
                    at: now(),
                    actor_id: Some(owner.clone()),
                    subject_id: Some(owner.clone()),
                    ip: None,
                    details: serde_json::json!({ "session_id": session.id }),
                };
                let store = store.clone();
                tokio::spawn(async move { store.create_session(&session, max, Some(&event)).await })
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_micros(round * 100)).await;
        for open in opens.iter().skip(1).step_by(2) {
            open.abort();
        }
        for (i, open) in opens.into_iter().enumerate() {
            match open.await {
                Ok(opened) if i == 0 => assert!(opened.is_err(), "a session of no user opened"),
                Ok(opened) => assert_eq!(opened.expect("open").0.user_id, user.id),
                Err(e) => assert!(e.is_cancelled(), "an open failed: {e}"),
            }
        }
    }
    // The next writes go through, and an open ends the sessions beyond `max`. (On PostgreSQL a
    // statement whose caller went away still runs to its end on the server, so a cut-off open
    // may commit after this one; the open after that ends it.)
    let mut live = usize::MAX;
    for _ in 0..20 {
        let (session, _) =
            store.create_session(&new_session(&user.id, &unique("d"), now()), max, None).await.expect("open");
        assert!(store.find_session_with_user(&session.id).await.expect("read").is_some());
        live = store.list_live_sessions(&user.id, now()).await.expect("list").len();
        if live == max as usize {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(live, max as usize, "live sessions after the opens settled");
    store.create_user_with_roles(&new_user(vec![]), now(), None).await.expect("another user");
    // Audit rows read before and after the sessions, so that a late commit cannot fail the check.
    let filter = AuditFilter { user: Some(user.id.clone()), limit: 1000, ..AuditFilter::default() };
    let audited = || async {
        let events = store.list_audit(&filter).await.expect("list");
        events.into_iter().filter_map(|e| e.details["session_id"].as_str().map(str::to_owned)).collect::<Vec<_>>()
    };
    let before = audited().await;
    let mut opened = Vec::new();
    for id in &tried {
        opened.push(store.find_session_with_user(id).await.expect("read").is_some());
    }
    let after = audited().await;
    for (id, opened) in tried.iter().zip(opened) {
        let id = id.as_str().to_owned();
        if opened {
            assert!(after.contains(&id), "session {id} opened without its audit row");
        } else {
            assert!(!before.contains(&id), "audit row of session {id}, which did not open");
        }
    }
    assert!(!after.is_empty() && after.len() < tried.len() * 7 / 8, "some opens finished, some were cut off");
}

store_test!(hot_and_other_writes_take_turns_on_the_writer);
async fn hot_and_other_writes_take_turns_on_the_writer(store: Arc<dyn Store>) {
    // On SQLite the hottest writes (a session's opening, a rotation) leave the writer's one
    // connection out of its pool for the next; every other write must still get it at once: one
    // that waited in the pool for it would fail after the pool's acquire timeout.
    app(&store).await;
    let user = store.create_user_with_roles(&new_user(vec![]), now(), None).await.expect("user");
    let event = |kind| NewAuditEvent {
        kind,
        at: now(),
        actor_id: Some(user.id.clone()),
        subject_id: Some(user.id.clone()),
        ip: None,
        details: serde_json::json!({}),
    };
    let hot = |store: Arc<dyn Store>, user: UserId| async move {
        let first = unique("h");
        store.create_session(&new_session(&user, &first, now()), 1000, None).await.expect("open");
        let rotated = store.rotate_refresh_token(&first, &unique("h"), now(), now() + Duration::days(1)).await;
        assert!(matches!(rotated.expect("rotate"), Rotation::Rotated(_)));
    };
    // One after the other: each other write comes while the connection waits out of the pool.
    for _ in 0..5 {
        hot(store.clone(), user.id.clone()).await;
        store.record_audit(&event("test.single")).await.expect("a single statement");
        hot(store.clone(), user.id.clone()).await;
        store.create_user_with_roles(&new_user(vec![]), now(), None).await.expect("a transaction");
    }
    // All at once.
    let writes: Vec<_> = (0..48)
        .map(|i| {
            let (store, user, audit) = (store.clone(), user.id.clone(), event("test.many"));
            tokio::spawn(async move {
                match i % 3 {
                    0 => hot(store, user).await,
                    1 => store.record_audit(&audit).await.expect("a single statement"),
                    _ => {
                        drop(store.create_user_with_roles(&new_user(vec![]), now(), None).await.expect("a transaction"))
                    }
                }
            })
        })
        .collect();
    for write in writes {
        write.await.expect("write");
    }
    let filter = AuditFilter { user: Some(user.id.clone()), limit: 1000, ..AuditFilter::default() };
    let audited = store.list_audit(&filter).await.expect("list");
    assert_eq!(audited.iter().filter(|e| e.kind.starts_with("test.")).count(), 5 + 16);
    assert_eq!(store.list_live_sessions(&user.id, now()).await.expect("list").len(), 10 + 16);
}
