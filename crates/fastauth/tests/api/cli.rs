//! The `fastauth` binary itself: start-up errors, commands, JSON logs, graceful shutdown.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::stub::Stub;

const BIN: &str = env!("CARGO_BIN_EXE_fastauth");

/// A scratch working directory, so the binary's `./data` and `.env` are its own.
fn workdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("fastauth-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("workdir");
    dir
}

fn fastauth(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir).env_clear().env("ARGON2_MEMORY_KIB", "1024").env("ARGON2_ITERATIONS", "1");
    cmd
}

#[test]
fn bad_configuration_exits_2_with_one_line_naming_the_variable() {
    let dir = workdir();
    let bad = [
        ("LISTEN_ADDR", "nowhere"),
        ("ALGORITHM", "none"),
        ("DATABASE_URL", "postgres://x/y"),
        ("HASH_CGROUP", "hashing"),
        // Absolute, but no cgroup.
        ("HASH_CGROUP", "/proc/self"),
    ];
    for (var, value) in bad {
        let out = fastauth(&dir).env(var, value).output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{var}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        let named = if var == "DATABASE_URL" { "KEY_ENCRYPTION_KEY" } else { var };
        assert!(stderr.contains(named), "{stderr}");
        assert!(!stderr.contains("panicked"));
    }
    // .env is read, and the real environment wins over it.
    std::fs::write(dir.join(".env"), "LISTEN_ADDR=bad-from-dotenv\n").expect("write .env");
    let out = fastauth(&dir).arg("migrate").output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let out = fastauth(&dir).env("LISTEN_ADDR", "127.0.0.1:0").arg("migrate").output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn openapi_prints_the_document_and_help_lists_the_commands() {
    let out = fastauth(&workdir()).arg("openapi").output().expect("run");
    assert!(out.status.success());
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(doc["paths"]["/signin"].is_object());
    let help = fastauth(&workdir()).arg("--help").output().expect("run");
    let text = String::from_utf8_lossy(&help.stdout);
    for cmd in ["serve", "migrate", "create-admin", "keys", "openapi", "purge"] {
        assert!(text.contains(cmd), "{text}");
    }
}

#[test]
fn create_admin_creates_then_promotes_and_keys_rotate() {
    let dir = workdir();
    let mut child = fastauth(&dir)
        .args(["create-admin", "--email", "Root@Example.com", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().expect("stdin").write_all(b"an admin passphrase\n").expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("created super admin root@example.com"));
    let again = fastauth(&dir).args(["create-admin", "--email", "root@example.com"]).output().expect("run");
    assert!(String::from_utf8_lossy(&again.stdout).starts_with("promoted super admin"));
    let missing = fastauth(&dir).args(["create-admin", "--email", "new@example.com"]).output().expect("run");
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--password-stdin"));
    let rotate = fastauth(&dir).args(["keys", "rotate"]).output().expect("run");
    assert!(String::from_utf8_lossy(&rotate.stdout).starts_with("new signing key "));
    let revoke = fastauth(&dir).args(["keys", "revoke", "no-such-kid"]).output().expect("run");
    assert_eq!(revoke.status.code(), Some(1));
    let purge = fastauth(&dir).args(["purge"]).output().expect("run");
    assert!(String::from_utf8_lossy(&purge.stdout).starts_with("purged "), "{purge:?}");
    let kek = std::fs::metadata(dir.join("data/kek")).expect("generated kek");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(kek.permissions().mode() & 0o777, 0o600);
}

/// A code (six digits) stands alone in `text`: not part of a longer number or a fraction.
fn contains_code(text: &str, code: &str) -> bool {
    text.match_indices(code).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + code.len()..].chars().next();
        before.is_none_or(|c| !c.is_ascii_digit() && c != '.') && after.is_none_or(|c| !c.is_ascii_digit())
    })
}

/// Adds a token from an answer to the secrets the log must not hold.
fn keep(secrets: &mut Vec<String>, answer: &Value, field: &str) {
    secrets.push(answer[field].as_str().unwrap_or_else(|| panic!("{field} in {answer}")).to_owned());
}

async fn json_of(res: reqwest::Response) -> Value {
    res.json().await.expect("json")
}

/// Runs the real server with real SMTP, an SMS webhook and event webhooks, drives every flow
/// that handles a secret, then SIGTERMs it while sign-ins are in flight on three HTTP workers:
/// they all finish, it exits 0, and its JSON log carries request ids and none of the secrets.
#[tokio::test]
async fn serve_logs_no_secret_of_any_flow_and_finishes_in_flight_requests_on_sigterm() {
    let dir = workdir();
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let base = format!("http://127.0.0.1:{port}");
    let sms = Stub::start(|_| (200, "{}".into())).await;
    let hooks = Stub::start(|_| (204, String::new())).await;
    let smtp_port = std::env::var("FASTAUTH_TEST_SMTP_PORT").expect("FASTAUTH_TEST_SMTP_PORT: run scripts/test");
    let webhook_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let child = tokio::process::Command::new(BIN)
        .current_dir(&dir)
        .env_clear()
        .envs([
            ("LISTEN_ADDR", format!("127.0.0.1:{port}")),
            ("BASE_URL", format!("{base}/")),
            ("ADMIN_EMAIL", "admin@example.com".into()),
            ("ADMIN_PASSWORD", "the admin passphrase".into()),
            ("SMTP_HOST", "127.0.0.1".into()),
            ("SMTP_PORT", smtp_port),
            ("SMTP_TLS", "none".into()),
            ("SMTP_FROM", "auth@example.com".into()),
            ("SMS_PROVIDER", "webhook".into()),
            ("SMS_WEBHOOK_URL", format!("{}/sms", sms.url)),
            ("DEFAULT_PHONE_REGION", "IN".into()),
            ("WEBHOOK_URLS", format!("{}/events", hooks.url)),
            ("WEBHOOK_SECRET", webhook_secret.into()),
            // One hashing thread, so that the sign-ins sent before SIGTERM queue up in flight.
            ("HASH_WORKERS", "1".into()),
            // Three HTTP workers whatever the cores: the in-flight sign-ins are spread over them.
            ("HTTP_WORKERS", "3".into()),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let post = |path: &str, body: Value| http.post(format!("{base}{path}")).json(&body).send();
    let mail = crate::support::Maildev::from_env();
    let email = format!("log-{}@example.com", uuid::Uuid::new_v4().simple());
    let mut secrets: Vec<String> =
        vec!["the admin passphrase".into(), "wrong guess here".into(), webhook_secret.into()];

    // Sign-up, validation and refresh with tokens in query strings, sign-in right and wrong.
    let first = "secret horse battery staple";
    let signup = json_of(
        post("/signup", json!({"firstname": "Log", "lastname": "Test", "email": email, "password": first}))
            .await
            .expect("signup"),
    )
    .await;
    keep(&mut secrets, &signup, "access_token");
    keep(&mut secrets, &signup, "refresh_token");
    let access = signup["access_token"].as_str().expect("access");
    assert_eq!(http.get(format!("{base}/token?token={access}")).send().await.expect("token").status(), 200);
    let refresh = signup["refresh_token"].as_str().expect("refresh");
    let refreshed =
        json_of(http.post(format!("{base}/refresh-token?refresh_token={refresh}")).send().await.expect("r")).await;
    keep(&mut secrets, &refreshed, "access_token");
    keep(&mut secrets, &refreshed, "refresh_token");
    let admin = post("/signin", json!({"email": "admin@example.com", "password": "the admin passphrase"}));
    assert_eq!(admin.await.expect("admin").status(), 200, "ADMIN_EMAIL/ADMIN_PASSWORD create the super admin");
    let wrong = post("/signin", json!({"email": email, "password": "wrong guess here"})).await.expect("wrong");
    assert_eq!(wrong.status(), 401);
    let signed_in = json_of(post("/signin", json!({"email": email, "password": first})).await.expect("signin")).await;
    keep(&mut secrets, &signed_in, "access_token");
    keep(&mut secrets, &signed_in, "refresh_token");

    // Password change, then reset by the emailed link.
    let second = "another horse battery staple";
    let change = http
        .post(format!("{base}/reset-password"))
        .bearer_auth(signed_in["access_token"].as_str().expect("access"))
        .json(&json!({"current_password": first, "new_password": second}))
        .send()
        .await
        .expect("change");
    assert_eq!(change.status(), 200);
    assert_eq!(post("/forget-password", json!({"email": email})).await.expect("forgot").status(), 202);
    let link = mail.wait_for(&email, "Reset your password").await;
    let token = link.split("/auth/reset-forget-password/").nth(1).expect("link").split_whitespace().next().expect("t");
    secrets.push(token.to_owned());
    let third = "a third horse battery staple";
    let reset =
        post(&format!("/reset-forget-password/{token}"), json!({"new_password": third, "confirm_password": third}));
    assert_eq!(reset.await.expect("reset").status(), 200);

    // Codes by email and by SMS.
    assert_eq!(post("/request-otp", json!({"email": email})).await.expect("otp").status(), 202);
    let text = mail.wait_for(&email, "Your sign-in code").await;
    let code = text.split_whitespace().find(|w| w.len() == 7 && w.ends_with('.')).expect("code")[..6].to_owned();
    let by_mail = json_of(post("/verify-otp", json!({"email": email, "otp": code})).await.expect("verify")).await;
    keep(&mut secrets, &by_mail, "access_token");
    secrets.push(code);
    let phone = "+919876500001";
    assert_eq!(post("/request-otp-mobile", json!({"phone_number": phone})).await.expect("sms").status(), 202);
    let sent: Value = serde_json::from_str(&sms.requests()[0].body).expect("sms json");
    let sms_code = sent["code"].as_str().expect("code").to_owned();
    let by_sms =
        json_of(post("/verify-otp-mobile", json!({"phone_number": phone, "otp": sms_code})).await.expect("verify sms"))
            .await;
    keep(&mut secrets, &by_sms["results"], "access_token");
    keep(&mut secrets, &by_sms["results"], "refresh_token");
    secrets.push(sms_code);
    let logout = http
        .post(format!("{base}/logout"))
        .bearer_auth(by_sms["results"]["access_token"].as_str().expect("access"))
        .send()
        .await
        .expect("logout");
    assert_eq!(logout.status(), 204);
    for _ in 0..100 {
        if !hooks.requests().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!hooks.requests().is_empty(), "events were delivered");

    // SIGTERM while 20 sign-ins (of 20 accounts: one account's parallel attempts would meet its
    // failure counter) wait for the one hashing thread: every one is answered.
    let in_flight: Vec<_> = (0..20)
        .map(|i| {
            let request = post("/signin", json!({"email": format!("nobody-{i}@example.com"), "password": third}));
            tokio::spawn(async move { (request.await, Instant::now()) })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let status = Command::new("kill").args(["-TERM", &child.id().expect("pid").to_string()]).status().expect("kill");
    assert!(status.success());
    let signalled = Instant::now();
    let mut answered_after = 0;
    for request in in_flight {
        let (res, at) = request.await.expect("join");
        assert_eq!(res.expect("answered despite SIGTERM").status(), 401);
        answered_after += usize::from(at > signalled);
    }
    assert!(answered_after > 0, "the signal came while requests were in flight");
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("exits promptly")
        .expect("output");
    assert_eq!(out.status.code(), Some(0), "graceful shutdown exits 0");
    assert!(
        post("/signin", json!({"email": email, "password": third})).await.is_err(),
        "no longer accepting connections"
    );

    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let requests: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "request")
        .collect();
    assert!(requests.len() >= 35, "{log}");
    assert!(requests.iter().all(|r| r["span"]["request_id"].is_string() && r["span"]["route"].is_string()));
    secrets.extend([first, second, third].map(String::from));
    secrets.push(std::fs::read_to_string(dir.join("data/kek")).expect("kek").trim().to_owned());
    for secret in &secrets {
        let found = if secret.len() == 6 { contains_code(&log, secret) } else { log.contains(secret.as_str()) };
        assert!(!found, "a secret ({} characters) reached the log", secret.len());
    }
    assert!(secrets.len() >= 17);
}

#[test]
fn roles_plan_shows_the_difference_apply_makes_it_so_and_a_second_apply_changes_nothing() {
    let dir = workdir();
    let file = dir.join("roles.toml");
    std::fs::write(
        &file,
        r#"
[[applications]]
id = "mobile"
name = "Mobile app"

[[roles]]
name = "Support"
application = "mobile"
permissions = ["users:read", "tickets:write"]
department_name = "Care"

[[roles]]
name = "User"
permissions = ["profile:read"]
"#,
    )
    .expect("write");
    let run = |args: &[&str]| {
        let out = fastauth(&dir).args(args).output().expect("run");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let path = file.to_str().expect("utf-8 path");
    let plan = run(&["roles", "plan", path]);
    assert!(plan.contains("+ application mobile"), "{plan}");
    assert!(plan.contains("+ role \"Support\" (app mobile)"), "{plan}");
    assert!(plan.contains("~ role \"User\" (global): permissions [] -> [\"profile:read\"]"), "{plan}");
    assert_eq!(run(&["roles", "plan", path]), plan, "plan changes nothing");
    let applied = run(&["roles", "apply", path]);
    assert!(applied.contains("applied 3 change(s)"), "{applied}");
    assert_eq!(run(&["roles", "plan", path]).trim(), "no changes");
    assert_eq!(run(&["roles", "apply", path]).trim(), "no changes");

    std::fs::write(&file, "[[roles]]\nname = \"Bad\"\npermissions = [\"no spaces allowed\"]\n").expect("write");
    let out = fastauth(&dir).args(["roles", "apply", path]).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid permission name"));
}
