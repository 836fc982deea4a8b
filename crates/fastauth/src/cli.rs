//! The command line: `serve` (default), `migrate`, `create-admin`, `keys`, `openapi`.

use std::io::Read;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use fastauth_core::email::Email;
use fastauth_core::password::Password;
use time::OffsetDateTime;
use tokio::net::TcpListener;

use crate::app::{self, App};
use crate::config::Config;

/// One authentication and authorization service for all of an organization's apps.
///
/// Configuration comes from the environment and a `.env` file in the working directory
/// (DATABASE_URL, LISTEN_ADDR, BASE_URL, ...; see the README). With none at all, fastauth
/// listens on 127.0.0.1:8000 and keeps its data in SQLite under ./data.
#[derive(Debug, Parser)]
#[command(name = "fastauth", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Create a super admin (holding `*`), or promote the existing account with that email.
    CreateAdmin {
        /// The admin's email address.
        #[arg(long)]
        email: String,
        /// Read the new admin's password from standard input (needed to create an account).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Manage the token signing keys.
    Keys {
        #[command(subcommand)]
        action: KeysCommand,
    },
    /// Applications, roles and permissions as code, from a TOML file.
    Roles {
        #[command(subcommand)]
        action: RolesCommand,
    },
    /// Import a FastAuthCore database: users (ids, bcrypt hashes), roles, assignments.
    /// Re-running it is harmless.
    ImportFastauthcore {
        /// The FastAuthCore PostgreSQL database (postgresql://…).
        #[arg(long = "from")]
        from: String,
    },
    /// Print the OpenAPI 3.1 document.
    Openapi,
    /// Delete audit rows older than AUDIT_RETENTION_DAYS, and codes, reset tokens, sessions and
    /// delivered events that expired over 7 days ago (`serve` does this daily).
    Purge,
}

#[derive(Debug, Subcommand)]
pub enum RolesCommand {
    /// Print what applying FILE would change.
    Plan { file: std::path::PathBuf },
    /// Make the database match FILE, in one transaction. Roles the file does not name stay.
    Apply { file: std::path::PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Add a new signing key; older keys stay published until their tokens expire.
    Rotate,
    /// Withdraw a key at once: its tokens stop validating (every instance within 10 s).
    Revoke {
        /// The key id (`kid`) to revoke.
        kid: String,
    },
}

/// Runs a command that needs configuration; the exit code says how it went.
pub async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            app::connect(&config).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::CreateAdmin { email, password_stdin } => create_admin(config, &email, password_stdin).await,
        Command::Keys { action } => {
            let app = App::build(config).await?;
            let now = OffsetDateTime::now_utc();
            match action {
                KeysCommand::Rotate => println!("new signing key {}", app.core.rotate_signing_key(now).await?),
                KeysCommand::Revoke { kid } => {
                    app.core.revoke_signing_key(&kid, now).await.map_err(|e| match e {
                        fastauth_core::Error::NotFound => anyhow::anyhow!("no active key {kid}"),
                        other => other.into(),
                    })?;
                    println!("revoked {kid}");
                }
            }
            Ok(())
        }
        Command::Roles { action } => {
            let (file, apply) = match &action {
                RolesCommand::Plan { file } => (file, false),
                RolesCommand::Apply { file } => (file, true),
            };
            let (apps, roles) = crate::roles_file::read(file)?;
            let app = App::build(config).await?;
            let plan = app.core.plan_roles(&apps, &roles).await?;
            println!("{}", crate::roles_file::describe(&plan));
            if apply && !plan.is_empty() {
                app.core.apply_roles(&plan, OffsetDateTime::now_utc()).await?;
                println!("applied {} change(s)", plan.len());
            }
            Ok(())
        }
        Command::ImportFastauthcore { from } => import_fastauthcore(config, &from).await,
        Command::Openapi => print_openapi(),
        Command::Purge => {
            let app = App::build(config).await?;
            println!("purged {} rows", app.purge(app.now()).await?);
            Ok(())
        }
    }
}

async fn import_fastauthcore(config: Config, from: &str) -> anyhow::Result<()> {
    if !from.starts_with("postgres://") && !from.starts_with("postgresql://") {
        anyhow::bail!("--from must be a postgresql:// URL of the FastAuthCore database");
    }
    let data = fastauth_store::fastauthcore::read(from).await?;
    eprintln!(
        "read {} users, {} roles, {} role assignments",
        data.users.len(),
        data.roles.len(),
        data.assignments.len()
    );
    let app = App::build(config).await?;
    let report = app
        .core
        .import_legacy(data, OffsetDateTime::now_utc(), |done, total| eprintln!("imported {done}/{total} users"))
        .await?;
    println!(
        "users imported: {}\nusers already present: {}\nroles created: {}\nroles matched by name: {}\nnot imported or changed: {}",
        report.users_imported,
        report.users_already_present,
        report.roles_created,
        report.roles_matched,
        report.problems.len()
    );
    for problem in &report.problems {
        println!("  - {problem}");
    }
    Ok(())
}

pub fn print_openapi() -> anyhow::Result<()> {
    println!("{}", crate::http::openapi().to_pretty_json()?);
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let addr = config.listen_addr;
    if !config.http.rate_limits {
        tracing::warn!("RATE_LIMITS=off: every rate limit and backoff is disabled (benchmarks only)");
    }
    let app = App::build(config).await?;
    let listener =
        listen(addr).map_err(|e| crate::config::ConfigError::new("LISTEN_ADDR", format!("cannot bind {addr}: {e}")))?;
    tracing::info!(%addr, "fastauth listening");
    crate::http_workers::serve_app(app, listener, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Connections the kernel may hold for us before we accept them. tokio's default (1,024) overflowed
/// under a burst of new connections, and a dropped SYN costs the client a 1 s retransmission;
/// Linux caps this at net.core.somaxconn (4,096 by default).
const ACCEPT_BACKLOG: u32 = 4096;

fn listen(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(ACCEPT_BACKLOG)
}

async fn create_admin(config: Config, email: &str, password_stdin: bool) -> anyhow::Result<()> {
    let email = Email::parse(email).map_err(|_| anyhow::anyhow!("--email is not a valid email address"))?;
    let password = if password_stdin {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        Some(Password::new(text.trim_end_matches(['\n', '\r'])))
    } else {
        None
    };
    let app = App::build(config).await?;
    let (id, created) =
        app.core.create_admin(&email, password.as_ref(), OffsetDateTime::now_utc()).await.map_err(|e| match e {
            fastauth_core::Error::Validation(_) => {
                anyhow::anyhow!("{email} has no account yet: give its password with --password-stdin")
            }
            fastauth_core::Error::WeakPassword(errors) => {
                anyhow::anyhow!("the password {}", errors.first().map_or("is too weak", |e| e.message.as_str()))
            }
            other => other.into(),
        })?;
    println!("{} super admin {email} ({id})", if created { "created" } else { "promoted" });
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutting down: finishing in-flight requests");
}

/// The exit code for a failed command: 2 for bad configuration, 1 otherwise.
pub fn exit_code(err: &anyhow::Error) -> ExitCode {
    if err.chain().any(|e| e.downcast_ref::<crate::config::ConfigError>().is_some()) {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}
