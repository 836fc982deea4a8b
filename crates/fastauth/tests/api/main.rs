//! The API suite: every test talks HTTP over loopback to the production `App` on a fresh
//! database (SQLite, or PostgreSQL with FASTAUTH_TEST_DB=postgres).
// A failed expectation in a test is a failed test.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

mod admin;
mod auth;
mod cli;
mod errors;
mod events;
mod import;
mod instances;
mod limits;
mod ops;
mod otp;
mod passwords;
mod refresh;
mod sessions;
mod sms;
mod tokens;
mod uploads;
