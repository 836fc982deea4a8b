//! `TestApp`: the production `App` on a fresh database, served over loopback HTTP.

pub mod proxy;
pub mod stub;

use std::net::SocketAddr;

use fastauth::App;
use fastauth::config::{Config, Env};
use fastauth_core::email::Email;
use fastauth_core::ids::UserId;
use fastauth_core::model::NewUser;
use fastauth_core::password::Password;
use fastauth_store::testing::TestDb;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub struct TestApp {
    pub addr: SocketAddr,
    pub app: App,
    pub http: reqwest::Client,
    /// What another instance on the same database needs: its URL and key-encryption key.
    db_url: String,
    kek: String,
    base_url: String,
    _db: Option<TestDb>,
    _stop: oneshot::Sender<()>,
}

/// Cheap hashing keeps the suite fast; tests about costs set their own.
const TEST_ENV: &[(&str, &str)] = &[("ARGON2_MEMORY_KIB", "1024"), ("ARGON2_ITERATIONS", "1"), ("LOG_FORMAT", "json")];

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// With extra variables on top of the test defaults.
    pub async fn spawn_with(vars: &[(&str, &str)]) -> Self {
        let db = TestDb::from_env().await;
        let url = db.url.clone();
        Self::spawn_on(db, &url, vars).await
    }

    /// On `db`, reached through `url` (a proxy in outage tests).
    pub async fn spawn_on(db: TestDb, url: &str, vars: &[(&str, &str)]) -> Self {
        let kek = fastauth_core::tokens::Kek::generate().to_base64();
        let mut app = Self::serve(url, &kek, None, vars).await;
        app._db = Some(db);
        app
    }

    /// Another instance of this service: the same database, keys and BASE_URL (the issuer),
    /// with its own variables.
    pub async fn spawn_beside(&self, vars: &[(&str, &str)]) -> Self {
        Self::serve(&self.db_url, &self.kek, Some(&self.base_url), vars).await
    }

    async fn serve(url: &str, kek: &str, base_url: Option<&str>, vars: &[(&str, &str)]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut env = Env::from_pairs(TEST_ENV);
        env.set("DATABASE_URL", url);
        let base_url = base_url.map_or_else(|| format!("http://{addr}/"), str::to_owned);
        env.set("BASE_URL", &base_url);
        env.set("KEY_ENCRYPTION_KEY", kek);
        let uploads = std::env::temp_dir().join(format!("fastauth-uploads-{}", uuid::Uuid::new_v4().simple()));
        env.set("UPLOAD_DIR", &uploads.to_string_lossy());
        for (k, v) in vars {
            env.set(k, v);
        }
        let config = Config::from_env(&env).expect("test config");
        let app = App::build(config).await.expect("app builds");
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(app.clone().serve(listener, async move {
            let _ = stopped.await;
        }));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .expect("client");
        Self { addr, app, http, db_url: url.to_owned(), kek: kek.to_owned(), base_url, _db: None, _stop: stop }
    }

    /// With mail going to the test SMTP capture server (started by scripts/test).
    pub async fn spawn_with_mail(vars: &[(&str, &str)]) -> Self {
        let port = std::env::var("FASTAUTH_TEST_SMTP_PORT")
            .expect("FASTAUTH_TEST_SMTP_PORT: run the suite with scripts/test, which starts maildev");
        let mut all = vec![
            ("SMTP_HOST", "127.0.0.1"),
            ("SMTP_PORT", port.as_str()),
            ("SMTP_TLS", "none"),
            ("SMTP_FROM", "fastauth <auth@example.com>"),
        ];
        all.extend_from_slice(vars);
        Self::spawn_with(&all).await
    }

    /// The newest message delivered to `address`, waiting up to 10 s for it.
    pub async fn mail_to(&self, address: &str) -> Value {
        self.mails_to(address, 1).await.pop().expect("a message")
    }

    /// Waits up to 10 s for `count` messages to `address`, oldest first.
    pub async fn mails_to(&self, address: &str, count: usize) -> Vec<Value> {
        let api = std::env::var("FASTAUTH_TEST_MAILDEV_URL")
            .expect("FASTAUTH_TEST_MAILDEV_URL: run the suite with scripts/test");
        for _ in 0..100 {
            let all: Vec<Value> =
                self.http.get(format!("{api}/api/email")).send().await.expect("maildev").json().await.expect("json");
            let mine: Vec<Value> = all
                .into_iter()
                .filter(|m| m["to"].as_array().is_some_and(|to| to.iter().any(|t| t["address"] == address)))
                .collect();
            if mine.len() >= count {
                return mine;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("no {count} message(s) to {address} within 10 s");
    }

    /// How many messages went to `address` so far.
    pub async fn mail_count(&self, address: &str) -> usize {
        let api = std::env::var("FASTAUTH_TEST_MAILDEV_URL").expect("FASTAUTH_TEST_MAILDEV_URL");
        let all: Vec<Value> =
            self.http.get(format!("{api}/api/email")).send().await.expect("maildev").json().await.expect("json");
        all.iter().filter(|m| m["to"].as_array().is_some_and(|to| to.iter().any(|t| t["address"] == address))).count()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.http.post(self.url(path)).json(&body).send().await.expect("request")
    }

    pub async fn post_owned(&self, path: String, body: Value) -> reqwest::Response {
        self.post(&path, body).await
    }

    pub async fn post_with(&self, path: &str, token: &str, body: Value) -> reqwest::Response {
        self.http.post(self.url(path)).bearer_auth(token).json(&body).send().await.expect("request")
    }

    pub async fn get_with(&self, path: &str, token: &str) -> reqwest::Response {
        self.http.get(self.url(path)).bearer_auth(token).send().await.expect("request")
    }

    pub fn user(&self) -> UserBuilder<'_> {
        UserBuilder { app: self, roles: vec![], password_hash: None }
    }

    /// A super admin holding `*`.
    pub async fn admin(&self) -> TestUser {
        self.user().role("Super Admin").create().await
    }
}

/// The test SMTP capture server's HTTP API (started by scripts/test).
pub struct Maildev {
    api: String,
    http: reqwest::Client,
}

impl Maildev {
    pub fn from_env() -> Self {
        let api = std::env::var("FASTAUTH_TEST_MAILDEV_URL").expect("FASTAUTH_TEST_MAILDEV_URL: run scripts/test");
        Self { api, http: reqwest::Client::new() }
    }

    /// The text of the newest message to `address` with this subject, waiting up to 10 s.
    pub async fn wait_for(&self, address: &str, subject: &str) -> String {
        for _ in 0..100 {
            let all: Vec<Value> = self
                .http
                .get(format!("{}/api/email", self.api))
                .send()
                .await
                .expect("maildev")
                .json()
                .await
                .expect("json");
            let found = all.iter().rev().find(|m| {
                m["subject"] == subject
                    && m["to"].as_array().is_some_and(|to| to.iter().any(|t| t["address"] == address))
            });
            if let Some(m) = found {
                return m["text"].as_str().expect("text").to_owned();
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("no {subject:?} to {address} within 10 s");
    }
}

/// An email no other test uses.
pub fn unique_email() -> String {
    format!("user-{}@example.com", uuid::Uuid::new_v4().simple())
}

pub const PASSWORD: &str = "a perfectly fine passphrase";

pub struct UserBuilder<'a> {
    app: &'a TestApp,
    roles: Vec<String>,
    password_hash: Option<String>,
}

impl UserBuilder<'_> {
    pub fn role(mut self, name: &str) -> Self {
        self.roles.push(name.to_owned());
        self
    }

    /// Stores this hash instead of one of `PASSWORD` (imported bcrypt hashes).
    pub fn password_hash(mut self, hash: &str) -> Self {
        self.password_hash = Some(hash.to_owned());
        self
    }

    pub async fn create(self) -> TestUser {
        let core = &self.app.app.core;
        let mut role_ids = Vec::new();
        for name in &self.roles {
            role_ids.push(core.store.find_role_by_name(name, None).await.expect("query").expect("role exists").id);
        }
        let email = unique_email();
        let hash = match self.password_hash {
            Some(h) => h,
            None => core.hasher.hash(&Password::new(PASSWORD)).await.expect("hash"),
        };
        let now = time::OffsetDateTime::now_utc();
        let user = NewUser {
            id: UserId::generate(),
            firstname: "Test".into(),
            lastname: "User".into(),
            email: Some(Email::parse(&email).expect("email")),
            phone_number: None,
            password_hash: Some(hash),
            source_profile: None,
            email_verified_at: None,
            phone_verified_at: None,
            role_ids,
        };
        let user = core.store.create_user_with_roles(&user, now, None).await.expect("create user");
        TestUser { id: user.id.to_string(), email, password: PASSWORD.to_owned() }
    }
}

pub struct TestUser {
    pub id: String,
    pub email: String,
    pub password: String,
}

pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

impl TestUser {
    pub async fn sign_in(&self, app: &TestApp) -> Tokens {
        let res = app.post("/signin", json!({"email": self.email, "password": self.password})).await;
        assert_eq!(res.status(), 200, "sign-in of a test user");
        let body: Value = res.json().await.expect("json");
        Tokens {
            access: body["access_token"].as_str().expect("access").into(),
            refresh: body["refresh_token"].as_str().expect("refresh").into(),
        }
    }
}

/// Asserts a problem document with this status and code, and returns it.
pub async fn assert_problem(res: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(res.status(), status, "status");
    let ct = res.headers().get("content-type").map(|v| v.to_str().unwrap_or_default().to_owned());
    assert_eq!(ct.as_deref(), Some("application/problem+json"));
    let body: Value = res.json().await.expect("problem json");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    assert!(body["detail"].is_string() && body["title"].is_string() && body["type"].is_string());
    body
}
