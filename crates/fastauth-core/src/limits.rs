//! Rate limits (SPEC section 6): per client IP, per phone numbers one IP asks codes for, and
//! the failure counter per identifier with its backoff and lock. The rules live here; the
//! counts live behind `Limiter`, in memory or in Redis so that every instance shares them.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use crate::auth::Identifier;
use crate::error::Error;
use crate::model::User;
use crate::password::Password;
use crate::phone::PhoneNumber;
use crate::ports::StoreResult;
use crate::service::{Core, RequestMeta};

/// At most `max` requests per `window` from one client IP (IPv6: one /64).
#[derive(Debug, Clone, Copy)]
pub struct IpLimit {
    pub name: &'static str,
    pub max: u32,
    pub window: Duration,
}

const FIVE_MINUTES: Duration = Duration::from_secs(300);

pub const SIGN_INS: IpLimit = IpLimit { name: "signin", max: 30, window: FIVE_MINUTES };
pub const SIGN_UPS: IpLimit = IpLimit { name: "signup", max: 10, window: FIVE_MINUTES };
/// Requests that send a code or a link.
pub const CODE_REQUESTS: IpLimit = IpLimit { name: "code-request", max: 10, window: FIVE_MINUTES };
/// Requests that check a code or a link.
pub const CODE_CHECKS: IpLimit = IpLimit { name: "code-check", max: 30, window: FIVE_MINUTES };
/// Reset links one address may be sent per hour (whoever asks), counted alike for unknown ones.
pub const RESET_LINKS: IpLimit = IpLimit { name: "reset-link", max: 5, window: Duration::from_secs(3600) };
/// Distinct phone numbers one IP may ask codes for.
pub const PHONES_PER_IP: IpLimit = IpLimit { name: "phones", max: 5, window: Duration::from_secs(3600) };

/// Consecutive failures allowed before any wait.
pub const FREE_FAILURES: u64 = 5;
/// The longest wait between attempts.
pub const MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// Failures at which the identifier is locked until recovery (reset link, or an admin).
pub const LOCK_AT: u64 = 100;
/// A failure count nobody adds to for this long is forgotten (unless locked).
pub const FAILURES_KEPT: Duration = Duration::from_secs(24 * 3600);

/// The wait after `failures` consecutive failures: none up to 4, then 2^(n−5) s, at most 15 min.
pub fn backoff(failures: u64) -> Duration {
    match failures.checked_sub(FREE_FAILURES) {
        None => Duration::ZERO,
        Some(exp) if exp >= 10 => MAX_WAIT,
        Some(exp) => Duration::from_secs(1 << exp).min(MAX_WAIT),
    }
}

/// Whether a counted request may go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Wait(Duration),
}

/// Whether an attempt at a secret may be checked. Every attempt counts as a failure until the
/// caller reports success, so that parallel guesses are counted before any of them is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    Allowed,
    Refused {
        retry_after: Duration,
        /// This attempt reached the lock: the owner should hear of it.
        locked_now: bool,
    },
}

/// Where the counts live. Every method is atomic, also across instances sharing the backend.
#[async_trait]
pub trait Limiter: Send + Sync {
    /// Counts one request against `key` in the current fixed window.
    async fn hit(&self, key: &str, limit: IpLimit, now_ms: i64) -> StoreResult<Verdict>;
    /// Adds `member` to the set kept under `key` for one window, unless it would then hold more
    /// than `limit.max` members.
    async fn add_member(&self, key: &str, member: &str, limit: IpLimit, now_ms: i64) -> StoreResult<Verdict>;
    /// Counts an attempt at a secret for the identifier `key` and says whether it may be checked.
    async fn attempt(&self, key: &str, now_ms: i64) -> StoreResult<Attempt>;
    /// Forgets the failures of `key` (a success, or a recovery).
    async fn clear(&self, key: &str) -> StoreResult<()>;
}

/// RATE_LIMITS=off: everything is allowed (benchmarks only).
pub struct Unlimited;

#[async_trait]
impl Limiter for Unlimited {
    async fn hit(&self, _: &str, _: IpLimit, _: i64) -> StoreResult<Verdict> {
        Ok(Verdict::Allowed)
    }
    async fn add_member(&self, _: &str, _: &str, _: IpLimit, _: i64) -> StoreResult<Verdict> {
        Ok(Verdict::Allowed)
    }
    async fn attempt(&self, _: &str, _: i64) -> StoreResult<Attempt> {
        Ok(Attempt::Allowed)
    }
    async fn clear(&self, _: &str) -> StoreResult<()> {
        Ok(())
    }
}

/// The first millisecond after the fixed window holding `now_ms`.
pub fn window_end(limit: IpLimit, now_ms: i64) -> i64 {
    let width = limit.window.as_millis() as i64;
    (now_ms.div_euclid(width) + 1) * width
}

fn wait_until(end_ms: i64, now_ms: i64) -> Duration {
    Duration::from_millis((end_ms - now_ms).max(1) as u64)
}

/// The counts of one instance, for a single instance (or tests).
#[derive(Default)]
pub struct MemoryLimiter {
    entries: Mutex<MemoryEntries>,
}

#[derive(Default)]
struct MemoryEntries {
    windows: HashMap<String, (i64, u32)>,
    sets: HashMap<String, (i64, HashSet<String>)>,
    failures: HashMap<String, Failures>,
    ops: u32,
}

#[derive(Default)]
struct Failures {
    count: u64,
    next_at: i64,
    touched: i64,
}

impl MemoryEntries {
    /// Drops expired entries now and then, so memory follows the live keys only.
    fn sweep(&mut self, now_ms: i64) {
        self.ops = self.ops.wrapping_add(1);
        if !self.ops.is_multiple_of(4096) {
            return;
        }
        self.windows.retain(|_, (end, _)| *end > now_ms);
        self.sets.retain(|_, (end, _)| *end > now_ms);
        let kept = FAILURES_KEPT.as_millis() as i64;
        self.failures.retain(|_, f| f.count >= LOCK_AT || f.touched + kept > now_ms);
    }
}

impl MemoryLimiter {
    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryEntries> {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl Limiter for MemoryLimiter {
    async fn hit(&self, key: &str, limit: IpLimit, now_ms: i64) -> StoreResult<Verdict> {
        let end = window_end(limit, now_ms);
        let mut entries = self.lock();
        entries.sweep(now_ms);
        let entry = entries.windows.entry(key.to_owned()).or_insert((end, 0));
        if entry.0 != end {
            *entry = (end, 0);
        }
        entry.1 += 1;
        Ok(if entry.1 > limit.max { Verdict::Wait(wait_until(end, now_ms)) } else { Verdict::Allowed })
    }

    async fn add_member(&self, key: &str, member: &str, limit: IpLimit, now_ms: i64) -> StoreResult<Verdict> {
        let mut entries = self.lock();
        entries.sweep(now_ms);
        let fresh = (now_ms + limit.window.as_millis() as i64, HashSet::new());
        let (end, members) = entries.sets.entry(key.to_owned()).or_insert_with(|| fresh.clone());
        if *end <= now_ms {
            (*end, *members) = fresh;
        }
        if members.contains(member) {
            return Ok(Verdict::Allowed);
        }
        if members.len() >= limit.max as usize {
            return Ok(Verdict::Wait(wait_until(*end, now_ms)));
        }
        members.insert(member.to_owned());
        Ok(Verdict::Allowed)
    }

    async fn attempt(&self, key: &str, now_ms: i64) -> StoreResult<Attempt> {
        let mut entries = self.lock();
        entries.sweep(now_ms);
        let f = entries.failures.entry(key.to_owned()).or_default();
        if f.touched + (FAILURES_KEPT.as_millis() as i64) <= now_ms && f.count < LOCK_AT {
            *f = Failures::default();
        }
        f.count += 1;
        f.touched = now_ms;
        if f.count >= LOCK_AT {
            return Ok(Attempt::Refused { retry_after: MAX_WAIT, locked_now: f.count == LOCK_AT });
        }
        if now_ms < f.next_at {
            return Ok(Attempt::Refused { retry_after: wait_until(f.next_at, now_ms), locked_now: false });
        }
        if f.count >= FREE_FAILURES {
            f.next_at = now_ms + backoff(f.count).as_millis() as i64;
        }
        Ok(Attempt::Allowed)
    }

    async fn clear(&self, key: &str) -> StoreResult<()> {
        self.lock().failures.remove(key);
        Ok(())
    }
}

/// The limiter key for a client IP: IPv4 as is, IPv6 by its /64 (one subscriber's block).
pub fn ip_key(limit: IpLimit, ip: &str) -> String {
    let block = match ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => {
            let net = u128::from(v6) >> 64 << 64;
            format!("{}/64", std::net::Ipv6Addr::from(net))
        }
        _ => ip.to_owned(),
    };
    format!("ip:{}:{block}", limit.name)
}

/// The limiter key for an identifier: a digest, so that the backend holds no addresses.
pub fn identifier_key(identifier: &Identifier) -> String {
    let canonical = match identifier {
        Identifier::Email(e) => format!("email:{e}"),
        Identifier::Phone(p) => format!("phone:{p}"),
    };
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
    let hex: String = digest.as_ref()[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("fail:{hex}")
}

/// A verdict as the use cases answer it: 429 with the wait.
fn allowed(verdict: Verdict) -> Result<(), Error> {
    match verdict {
        Verdict::Allowed => Ok(()),
        Verdict::Wait(wait) => Err(rate_limited(wait)),
    }
}

/// The error a refusal becomes.
pub fn rate_limited(retry_after: Duration) -> Error {
    Error::RateLimited { retry_after: retry_after.max(Duration::from_secs(1)) }
}

impl Core {
    /// Counts a request from the caller's IP against `limit`: 429 with the wait once over it.
    pub async fn limit_ip(&self, limit: IpLimit, meta: &RequestMeta) -> Result<(), Error> {
        let Some(ip) = &meta.ip else { return Ok(()) };
        allowed(self.limiter.hit(&ip_key(limit, ip), limit, millis(meta)).await?)
    }

    /// Counts `phone` among the distinct numbers the caller's IP asked codes for this hour.
    pub(crate) async fn limit_phones_per_ip(&self, phone: &PhoneNumber, meta: &RequestMeta) -> Result<(), Error> {
        let Some(ip) = &meta.ip else { return Ok(()) };
        let key = ip_key(PHONES_PER_IP, ip);
        allowed(self.limiter.add_member(&key, phone.as_str(), PHONES_PER_IP, millis(meta)).await?)
    }

    /// Counts a request about `identifier` (known or not) against `limit`.
    pub(crate) async fn limit_identifier(
        &self,
        limit: IpLimit,
        identifier: &Identifier,
        meta: &RequestMeta,
    ) -> Result<(), Error> {
        let key = format!("{}:{}", limit.name, identifier_key(identifier));
        allowed(self.limiter.hit(&key, limit, millis(meta)).await?)
    }

    /// Counts an attempt at a secret of `identifier` before it is checked: 429 during the
    /// backoff or once locked, alike for known and unknown identifiers and right or wrong
    /// secrets. Call `secret_accepted` after a success.
    pub(crate) async fn begin_attempt(&self, identifier: &Identifier, meta: &RequestMeta) -> Result<(), Error> {
        match self.limiter.attempt(&identifier_key(identifier), millis(meta)).await? {
            Attempt::Allowed => Ok(()),
            Attempt::Refused { retry_after, locked_now } => {
                if locked_now {
                    self.announce_lock(identifier, meta).await;
                }
                Err(rate_limited(retry_after))
            }
        }
    }

    /// A secret checked out: the failure count starts again.
    pub(crate) async fn secret_accepted(&self, identifier: &Identifier) -> Result<(), Error> {
        Ok(self.limiter.clear(&identifier_key(identifier)).await?)
    }

    /// Checks a signed-in user's current password under the failure counter of its first
    /// identifier; true if right.
    pub(crate) async fn check_current_password(
        &self,
        user: &User,
        password: &Password,
        meta: &RequestMeta,
    ) -> Result<bool, Error> {
        let identifier = identifiers_of(user).into_iter().next();
        if let Some(identifier) = &identifier {
            self.begin_attempt(identifier, meta).await?;
        }
        let right = self.hasher.verify(password, user.password_hash.as_deref()).await?.ok;
        if let (true, Some(identifier)) = (right, &identifier) {
            self.secret_accepted(identifier).await?;
        }
        Ok(right)
    }

    /// Recovery (a reset link used, or an admin's change) unlocks the account's identifiers.
    pub(crate) async fn unlock(&self, user: &User) -> Result<(), Error> {
        for identifier in identifiers_of(user) {
            self.secret_accepted(&identifier).await?;
        }
        Ok(())
    }

    async fn announce_lock(&self, identifier: &Identifier, meta: &RequestMeta) {
        let user = match identifier {
            Identifier::Email(e) => self.store.find_user_by_email(e).await,
            Identifier::Phone(p) => self.store.find_user_by_phone(p).await,
        };
        let user = user.ok().flatten();
        let subject = user.as_ref().map(|u| &u.id);
        self.audit("signin.locked", meta, None, subject, serde_json::json!({ "failures": LOCK_AT })).await;
        if let Some(user) = &user {
            self.notify(
                user,
                "Sign-in to your account is locked",
                "There were too many wrong attempts to sign in to your account, so sign-in is locked. \
                 To unlock it, set a new password with \"Forgot password\".",
            );
        }
    }
}

/// The identifiers a user signs in with.
pub(crate) fn identifiers_of(user: &User) -> Vec<Identifier> {
    let email = user.email.clone().map(Identifier::Email);
    let phone = user.phone_number.clone().map(Identifier::Phone);
    email.into_iter().chain(phone).collect()
}

fn millis(meta: &RequestMeta) -> i64 {
    (meta.now.unix_timestamp_nanos() / 1_000_000) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_after_five_and_stops_at_fifteen_minutes() {
        assert_eq!(backoff(4), Duration::ZERO);
        assert_eq!(backoff(5), Duration::from_secs(1));
        assert_eq!(backoff(6), Duration::from_secs(2));
        assert_eq!(backoff(14), Duration::from_secs(512));
        assert_eq!(backoff(15), MAX_WAIT);
        assert_eq!(backoff(99), MAX_WAIT);
    }

    #[test]
    fn ipv6_clients_are_limited_by_their_64() {
        assert_eq!(ip_key(SIGN_INS, "2001:db8:1:2:aaaa::1"), ip_key(SIGN_INS, "2001:db8:1:2:bbbb::9"));
        assert_ne!(ip_key(SIGN_INS, "2001:db8:1:2::1"), ip_key(SIGN_INS, "2001:db8:1:3::1"));
        assert_eq!(ip_key(SIGN_INS, "10.0.0.1"), "ip:signin:10.0.0.1");
    }
}
