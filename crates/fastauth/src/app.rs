//! `App`: the wired service. `App::build` is the only constructor, used by `serve`, the
//! commands and the tests.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use fastauth_core::auth::Bootstrap;
use fastauth_core::password::PasswordHasher;
use fastauth_core::ports::Store;
use fastauth_core::tokens::{Kek, KeyRing};
use fastauth_core::{Core, CoreSettings, StoreError};
use fastauth_store::{PoolSettings, SqlStore};
use time::OffsetDateTime;
use tokio::net::TcpListener;

use crate::blobs::ObjectBlobs;
use crate::config::{Config, ConfigError, KekSource};
use crate::metrics::Metrics;
use crate::notify::email::{LogMailer, SmtpMailer};
use fastauth_core::ports::Mailer;
use fastauth_core::sms::SmsChain;

/// How long start-up waits for the database before giving up.
const DATABASE_WAIT: Duration = Duration::from_secs(60);
/// Retention runs this long after start, then daily (on every instance; deleting twice is harmless).
const PURGE_FIRST: Duration = Duration::from_secs(60);
const PURGE_EVERY: Duration = Duration::from_secs(24 * 3600);
/// Expired codes, reset tokens, ended sessions and delivered events are kept this long.
const EXPIRED_KEPT: time::Duration = time::Duration::days(7);
/// How often each instance re-reads the signing keys (rotations and revocations elsewhere).
const KEY_RELOAD: Duration = Duration::from_secs(10);
/// How often SQLite's write-ahead log is moved into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// The service's shared state. One `Arc`: every request clones it several times (each
/// middleware and extractor), and one atomic count is far cheaper than one per field.
#[derive(Clone)]
pub struct App(Arc<AppState>);

impl std::ops::Deref for App {
    type Target = AppState;

    fn deref(&self) -> &AppState {
        &self.0
    }
}

pub struct AppState {
    pub core: Core,
    /// The same storage as `core.blobs`, for serving local uploads.
    pub blobs: Arc<ObjectBlobs>,
    pub config: Config,
    pub metrics: Metrics,
}

impl App {
    /// Connects and migrates the database, loads or creates the signing keys, seeds roles and
    /// the admin, and starts the key reloader.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let store = connect(&config).await?;
        let now = OffsetDateTime::now_utc();
        let (keys, otp_key) = key_ring(&config)?;
        let keys = Arc::new(keys);
        keys.load(&store.list_signing_keys().await?, now).map_err(|_| {
            ConfigError::new("KEY_ENCRYPTION_KEY", "does not decrypt the signing keys stored in the database")
        })?;
        let p = &config.passwords;
        let hasher = PasswordHasher::new(p.params, p.workers, p.queue)?;
        if let Some(dir) = &p.cgroup {
            crate::hash_cgroup::place_threads(dir, hasher.thread_ids())?;
            tracing::info!(cgroup = %dir.display(), "hashing threads in an idle cgroup");
        }
        let t = &config.tokens;
        let settings = CoreSettings {
            access_ttl: t.access_ttl,
            refresh_idle_ttl: t.refresh_idle_ttl,
            session_max_age: t.session_max_age,
            max_sessions_per_user: t.max_sessions_per_user,
            refresh_grace: time::Duration::seconds(10),
            default_role: config.default_role.clone(),
            require_email_verification: config.require_email_verification,
            phone_region: config.phone_region,
            reset_origins: config.reset_origins.clone(),
            reset_base: config.base_url.trim_end_matches('/').to_owned(),
            reset_ttl: time::Duration::minutes(30),
            reset_email_template: config.reset_email_template.clone(),
            otp_ttl: time::Duration::minutes(i64::from(config.otp_minutes)),
            otp_email_template: config.otp_email_template.clone(),
            otp_key,
            sms_countries: config.sms_guards.countries.clone(),
            sms_daily_limit: config.sms_guards.daily_limit,
            sms_prefix_hourly_limit: config.sms_guards.prefix_hourly_limit,
            test_identities: config.test_identities.clone(),
        };
        let mailer: Arc<dyn Mailer> = match &config.smtp {
            Some(smtp) => Arc::new(
                SmtpMailer::new(smtp).map_err(|e| ConfigError::new("SMTP_HOST", format!("cannot be used: {e}")))?,
            ),
            None => Arc::new(LogMailer),
        };
        let blobs = Arc::new(ObjectBlobs::new(&config.uploads, &config.base_url).context("setting up image storage")?);
        let sms = Arc::new(SmsChain::new(crate::notify::sms::senders(&config.sms, &config.webhook_secrets)?));
        let limiter = crate::limits::limiter(&config)?;
        let settings = Arc::new(settings);
        let apps = Arc::default();
        let core = Core { store, blobs: blobs.clone(), mailer, sms, hasher, limiter, keys, settings, apps };
        // Endpoints are registered before seeding, so that they hear of a seeded admin too.
        crate::webhooks::spawn(core.store.clone(), config.webhook_urls.clone(), config.webhook_secrets.clone()).await?;
        let seeds = Bootstrap { roles: config.roles.clone(), admin: config.admin.clone() };
        core.bootstrap(&seeds, now).await.context("seeding roles, keys and the admin")?;
        spawn_key_reloader(core.clone());
        spawn_checkpointer(core.clone());
        let state = AppState { core, blobs, config, metrics: Metrics::default() };
        let app = Self(Arc::new(state));
        spawn_purger(app.clone());
        Ok(app)
    }

    /// Deletes audit rows past AUDIT_RETENTION_DAYS and what expired or ended over 7 days ago.
    pub async fn purge(&self, now: OffsetDateTime) -> anyhow::Result<u64> {
        let audit_before = now - self.config.audit_retention;
        Ok(self.core.store.purge(audit_before, now - EXPIRED_KEPT).await?)
    }

    /// The time rules see; read once per request.
    pub fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    /// Serves on `listener` until `shutdown` resolves, then finishes in-flight requests.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        crate::http_workers::serve_router(crate::http::router(self), listener, shutdown).await
    }
}

/// Connects and applies migrations, waiting (with a progress line) while the database is down.
pub async fn connect(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let db = &config.database;
    let settings = PoolSettings { max_connections: db.max_connections, acquire_timeout: db.acquire_timeout };
    let store =
        SqlStore::connect(&db.url, &settings).map_err(|e| ConfigError::new("DATABASE_URL", format!("{e:#}")))?;
    let started = std::time::Instant::now();
    loop {
        match store.migrate().await {
            Ok(()) => return Ok(Arc::new(store)),
            Err(StoreError::Unavailable) if started.elapsed() < DATABASE_WAIT => {
                tracing::warn!(waited_s = started.elapsed().as_secs(), "database unreachable; retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => return Err(anyhow::Error::new(e).context("the database named by DATABASE_URL cannot be used")),
        }
    }
}

/// The key ring, and the key one-time codes are hashed with (derived from the same secret).
fn key_ring(config: &Config) -> anyhow::Result<(KeyRing, Vec<u8>)> {
    const OTP_LABEL: &str = "fastauth one-time codes";
    let t = &config.tokens;
    let issuer = &config.base_url;
    let kek = match &t.kek {
        KekSource::NotNeeded => {
            let secret = t.secret_key.as_ref().ok_or_else(|| ConfigError::new("SECRET_KEY", "must be set"))?;
            let otp_key = fastauth_core::tokens::kek::derive_key(secret.expose().as_bytes(), OTP_LABEL);
            return Ok((KeyRing::hmac(secret.expose().as_bytes(), issuer), otp_key));
        }
        KekSource::Given(kek) => kek.clone(),
        KekSource::DataDir => kek_file(&config.data_dir().join("kek"))?,
    };
    let otp_key = kek.derive(OTP_LABEL);
    Ok((KeyRing::stored(t.algorithm, kek, t.access_ttl, issuer), otp_key))
}

/// Reads the generated key-encryption key, creating it (mode 0600) on first start.
fn kek_file(path: &Path) -> anyhow::Result<Kek> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Kek::from_base64(&text)
            .map_err(|p| ConfigError::new("KEY_ENCRYPTION_KEY", format!("file {} {p}", path.display())))?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let kek = Kek::generate();
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            write_private(path, &kek.to_base64()).with_context(|| format!("writing {}", path.display()))?;
            tracing::info!(path = %path.display(), "generated a key-encryption key for the signing keys");
            Ok(kek)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

fn spawn_purger(app: App) {
    tokio::spawn(async move {
        tokio::time::sleep(PURGE_FIRST).await;
        loop {
            match app.purge(OffsetDateTime::now_utc()).await {
                Ok(rows) => tracing::info!(rows, "retention: purged old audit rows and expired records"),
                Err(e) => tracing::warn!(error = %e, "retention purge failed; will retry tomorrow"),
            }
            tokio::time::sleep(PURGE_EVERY).await;
        }
    });
}

fn spawn_checkpointer(core: Core) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        // A checkpoint that overran its second is not followed by catch-up ones.
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = core.store.checkpoint().await {
                // The database being away is reported by /readyz and the requests that need it.
                tracing::debug!(error = %e, "checkpoint failed; trying again in a second");
            }
        }
    });
}

fn spawn_key_reloader(core: Core) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(KEY_RELOAD);
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(e) = core.reload_keys(OffsetDateTime::now_utc()).await {
                tracing::warn!(error = %e, "could not reload signing keys; keeping the current ones");
            }
        }
    });
}
