//! fastauth's domain: identities, passwords, tokens, and the use cases that apply the rules.
//! No HTTP or SQL lives here; the store, mailer and clock come in through `ports` and arguments.

pub mod apps;
pub mod audit;
pub mod auth;
pub mod email;
pub mod error;
pub mod ids;
pub mod image;
pub mod import;
pub mod limits;
pub mod model;
pub mod otp;
pub mod password;
pub mod passwords;
pub mod permission;
pub mod phone;
pub mod ports;
pub mod profile;
pub mod roles;
pub mod secret;
pub mod service;
pub mod sms;
pub mod tokens;
pub mod users;

pub use error::{Error, FieldError, StoreError};
pub use service::{Core, CoreSettings};
