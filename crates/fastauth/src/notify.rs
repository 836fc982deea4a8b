//! Delivery of messages to people: email (SMTP or the log) and SMS.

pub mod email;
pub mod sms;
