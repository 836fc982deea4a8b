//! Importing a FastAuthCore database with the real binary, then signing in as its users.

use std::process::Command;

use fastauth_store::testing::TestDb;
use serde_json::{Value, json};

use crate::support::{TestApp, assert_problem};

const USERS: usize = 3000;

/// FastAuthCore's tables, as its SQLAlchemy models create them.
const SCHEMA: &str = "
create table roles (id integer primary key, role_name varchar, permissions json, department_name varchar,
    department_id varchar, is_active boolean);
create table users (id integer primary key, uuid varchar(24) unique, firstname varchar, lastname varchar,
    email varchar, phone_number varchar, hashed_password varchar, access_token varchar, source_profile varchar,
    role_ids integer[] default '{1}', status integer);
create table user_roles (user_id integer references users (id), role_id integer references roles (id));
create table emailotps (email varchar, otp varchar, expires_at timestamp);
insert into roles values
    (0, 'Super Admin', '[{\"all_permissions\": 0}]', null, null, true),
    (1, 'Visitors', null, null, null, true),
    (2, 'Guest', null, null, null, true),
    (3, 'User', '[]', null, null, true),
    (4, 'Admin', '[{\"permission_name\": \"users:read\", \"permission_id\": 1}]', null, null, true),
    (5, 'Editor', '[{\"permission_name\": \"posts:write\", \"permission_id\": 3}]', 'Content', 'D7', true),
    (6, 'Retired', '[{\"reports:read\": true}]', null, null, false);
";

fn uuid_of(i: usize) -> String {
    format!("{:024x}", 0xabc0_0000 + i)
}

async fn source_database() -> TestDb {
    let source = TestDb::postgres_empty().await;
    source.execute(SCHEMA.to_owned()).await;
    let hashes: Vec<String> = tokio::task::spawn_blocking(|| {
        (0..USERS)
            .map(|i| {
                let cost = if i == 11 { 12 } else { 4 };
                bcrypt::hash(format!("legacy pass {i}"), cost).expect("bcrypt")
            })
            .collect()
    })
    .await
    .expect("hashes");
    let mut rows = Vec::with_capacity(USERS);
    let mut grants = Vec::new();
    for (i, hash) in hashes.iter().enumerate() {
        let email = if i == 7 { "USER6@example.com".to_owned() } else { format!("User{i}@Example.com") };
        let phone = if i == 5 { "null".to_owned() } else { format!("'+9198765{i:05}'") };
        let status = if i == 9 { 0 } else { 1 };
        rows.push(format!(
            "({i}, '{}', 'First{i}', 'Last', '{email}', {phone}, '{hash}', 'old-token', null, '{{1}}', {status})",
            uuid_of(i)
        ));
        grants.push(format!("({i}, 1)"));
    }
    grants.extend(["(1, 0)".to_owned(), "(2, 5)".to_owned(), "(3, 6)".to_owned()]);
    source
        .execute(format!(
            "insert into users values {}; insert into user_roles values {};",
            rows.join(", "),
            grants.join(", ")
        ))
        .await;
    source
}

fn import(target_url: &str, kek: &str, source_url: &str) -> (String, String) {
    let dir = std::env::temp_dir().join(format!("fastauth-import-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let out = Command::new(env!("CARGO_BIN_EXE_fastauth"))
        .current_dir(&dir)
        .env_clear()
        .env("DATABASE_URL", target_url)
        .env("KEY_ENCRYPTION_KEY", kek)
        .env("DEFAULT_PHONE_REGION", "IN")
        .args(["import-fastauthcore", "--from", source_url])
        .output()
        .expect("run");
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    assert!(out.status.success(), "{stdout}\n{stderr}");
    (stdout, stderr)
}

#[tokio::test]
async fn a_fastauthcore_database_imports_and_its_users_sign_in_with_their_old_passwords() {
    let source = source_database().await;
    let target = TestDb::from_env().await;
    let target_url = target.url.clone();
    let kek = fastauth_core::tokens::Kek::generate().to_base64();
    let app = TestApp::spawn_on(target, &target_url, &[("KEY_ENCRYPTION_KEY", kek.as_str())]).await;

    let (report, progress) = import(&target_url, &kek, &source.url);
    assert!(progress.contains(&format!("imported {USERS}/{USERS} users")), "{progress}");
    assert!(report.contains(&format!("users imported: {}", USERS - 1)), "{report}");
    assert!(report.contains("email user6@example.com belongs to an earlier user too; skipped, not merged"), "{report}");
    assert!(
        report.contains("roles matched by name: 5") && report.contains("roles created: 2"),
        "the seeded roles exist already: {report}"
    );
    assert!(!report.contains("id taken"), "fastauth seeds roles with FastAuthCore's ids: {report}");

    let sign_in = |i: usize| {
        app.post("/signin", json!({"email": format!("user{i}@example.com"), "password": format!("legacy pass {i}")}))
    };
    let editor: Value = sign_in(2).await.json().await.expect("json");
    let token = editor["access_token"].as_str().expect("an imported user signs in");
    let me: Value = app.get_with("/me", token).await.json().await.expect("json");
    assert_eq!(me["results"]["uuid"], uuid_of(2), "the FastAuthCore uuid stays the user's id");
    let roles: Vec<&str> = me["results"]["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .map(|r| r["role_name"].as_str().expect("name"))
        .collect();
    assert_eq!(roles.len(), 2);
    assert!(roles.contains(&"Visitors") && roles.contains(&"Editor"));
    let editor_role = me["results"]["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .find(|r| r["role_name"] == "Editor")
        .expect("editor")
        .clone();
    assert_eq!((editor_role["id"].as_i64(), editor_role["department_id"].as_str()), (Some(5), Some("D7")));
    assert_eq!(editor_role["permissions"], json!(["posts:write"]));
    let admin: Value = sign_in(1).await.json().await.expect("json");
    let admin_me: Value =
        app.get_with("/me", admin["access_token"].as_str().expect("token")).await.json().await.expect("json");
    assert!(admin_me["results"]["roles"].as_array().expect("roles").iter().any(|r| r["permissions"] == json!(["*"])));
    let retired: Value = sign_in(3).await.json().await.expect("json");
    let retired_me: Value =
        app.get_with("/me", retired["access_token"].as_str().expect("token")).await.json().await.expect("json");
    assert_eq!(retired_me["results"]["roles"].as_array().expect("roles").len(), 1, "an inactive role grants nothing");
    assert_eq!(sign_in(11).await.status(), 200, "a passlib $2b$12$ hash verifies");
    assert_eq!(sign_in(5).await.status(), 200, "a user without a phone imports");
    assert_problem(sign_in(9).await, 401, "invalid_credentials").await;
    let phone = app.post("/signin", json!({"phone_number": "+919876500004", "password": "legacy pass 4"})).await;
    assert_eq!(phone.status(), 200);
    let upgraded = app
        .app
        .core
        .store
        .find_user(&fastauth_core::ids::UserId::parse(&uuid_of(2)).expect("id"))
        .await
        .expect("q")
        .expect("user");
    assert!(upgraded.password_hash.expect("hash").starts_with("$argon2id$"), "bcrypt becomes Argon2id at sign-in");

    let (again, _) = import(&target_url, &kek, &source.url);
    assert!(
        again.contains("users imported: 0") && again.contains(&format!("users already present: {}", USERS - 1)),
        "{again}"
    );
    assert_eq!(sign_in(2).await.status(), 200, "a re-run leaves upgraded hashes alone");
}
