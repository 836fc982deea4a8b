//! The `fastauth` binary itself: start-up errors, commands, JSON logs, graceful shutdown.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

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
    for (var, value) in [("LISTEN_ADDR", "nowhere"), ("ALGORITHM", "none"), ("DATABASE_URL", "postgres://x/y")] {
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
    for cmd in ["serve", "migrate", "create-admin", "keys", "openapi"] {
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
    let kek = std::fs::metadata(dir.join("data/kek")).expect("generated kek");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(kek.permissions().mode() & 0o777, 0o600);
}

/// Runs the real server, drives the flows that handle secrets, then SIGTERMs it: it must exit 0,
/// and its JSON log must carry request ids and none of the secrets.
#[tokio::test]
async fn serve_logs_json_without_secrets_and_stops_gracefully_on_sigterm() {
    let dir = workdir();
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let base = format!("http://127.0.0.1:{port}");
    let child = tokio::process::Command::new(BIN)
        .current_dir(&dir)
        .env_clear()
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("BASE_URL", format!("{base}/"))
        .env("ADMIN_EMAIL", "admin@example.com")
        .env("ADMIN_PASSWORD", "the admin passphrase")
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
    let password = "secret horse battery staple";
    let signup: Value = http
        .post(format!("{base}/signup"))
        .json(&json!({"firstname": "Log", "lastname": "Test", "email": "log@example.com", "password": password}))
        .send()
        .await
        .expect("signup")
        .json()
        .await
        .expect("json");
    let access = signup["access_token"].as_str().expect("access").to_owned();
    let refresh = signup["refresh_token"].as_str().expect("refresh").to_owned();
    let _ = http.get(format!("{base}/token?token={access}")).send().await.expect("token");
    let _ = http.post(format!("{base}/refresh-token?refresh_token={refresh}")).send().await.expect("refresh");
    let admin = http
        .post(format!("{base}/signin"))
        .json(&json!({"email": "admin@example.com", "password": "the admin passphrase"}))
        .send()
        .await
        .expect("admin");
    assert_eq!(admin.status(), 200, "ADMIN_EMAIL/ADMIN_PASSWORD create the super admin at start");
    let _ = http
        .post(format!("{base}/signin"))
        .json(&json!({"email": "log@example.com", "password": "wrong guess here"}))
        .send()
        .await
        .expect("fail");

    let status = Command::new("kill").args(["-TERM", &child.id().expect("pid").to_string()]).status().expect("kill");
    assert!(status.success());
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("exits promptly")
        .expect("output");
    assert_eq!(out.status.code(), Some(0), "graceful shutdown exits 0");
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let requests: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "request")
        .collect();
    assert!(requests.len() >= 6, "{log}");
    assert!(requests.iter().all(|r| r["span"]["request_id"].is_string() && r["span"]["route"].is_string()));
    for secret in [password, "the admin passphrase", "wrong guess here", access.as_str(), refresh.as_str()] {
        assert!(!log.contains(secret), "a secret reached the log");
    }
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
