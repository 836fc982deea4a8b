//! Delivery of messages to people: email (SMTP or the log).

pub mod email;
