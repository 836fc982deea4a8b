//! The fastauth service: configuration, wiring, and the HTTP API over `fastauth-core`.

pub mod app;
pub mod blobs;
pub mod cli;
pub mod client_ip;
pub mod config;
pub mod hash_cgroup;
pub mod http;
pub mod http_workers;
pub mod limits;
pub mod logging;
pub mod metrics;
pub mod notify;
pub mod roles_file;
pub mod signature;
pub mod webhooks;

pub use app::App;
pub use config::Config;
