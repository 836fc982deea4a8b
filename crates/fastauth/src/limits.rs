//! Where rate-limit counts live: this instance's memory, or Redis (REDIS_URL) so that every
//! instance shares them. The Redis side runs each rule as one Lua script: atomic, and one round
//! trip.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use fastauth_core::StoreError;
use fastauth_core::limits::{
    Attempt, FAILURES_KEPT, FREE_FAILURES, IpLimit, LOCK_AT, Limiter, MAX_WAIT, MemoryLimiter, Unlimited, Verdict,
    window_end,
};
use fastauth_core::ports::StoreResult;
use redis::Script;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::config::{Config, ConfigError};

/// The limiter the configuration asks for.
pub fn limiter(config: &Config) -> Result<Arc<dyn Limiter>, ConfigError> {
    let limits = &config.limits;
    if !config.http.rate_limits {
        return Ok(Arc::new(Unlimited));
    }
    match &limits.redis_url {
        None => Ok(Arc::new(MemoryLimiter::default())),
        Some(url) => Ok(Arc::new(RedisLimiter::new(url, &limits.redis_prefix)?)),
    }
}

/// Counts in Redis. A Redis that does not answer makes limited requests 503, never unlimited.
pub struct RedisLimiter {
    redis: ConnectionManager,
    prefix: String,
}

/// Counts a request in a fixed window; returns the count.
const HIT: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n";

/// Adds a member unless the set is full; returns 0, or the milliseconds until the set expires.
const ADD_MEMBER: &str = r"
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 0 end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return math.max(redis.call('PTTL', KEYS[1]), 1) end
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 0";

/// The failure counter, as `MemoryLimiter::attempt`: returns {allowed, wait_ms, locked_now}.
const ATTEMPT: &str = r"
local now, free, lock_at = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local max_wait, kept = tonumber(ARGV[4]), tonumber(ARGV[5])
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
if n >= lock_at then
  redis.call('PERSIST', KEYS[1])
  return {0, max_wait, n == lock_at and 1 or 0}
end
redis.call('PEXPIRE', KEYS[1], kept)
local next_at = tonumber(redis.call('HGET', KEYS[1], 'next') or '0')
if now < next_at then return {0, next_at - now, 0} end
if n >= free then
  local wait = math.min(math.pow(2, n - free) * 1000, max_wait)
  redis.call('HSET', KEYS[1], 'next', string.format('%.0f', now + wait))
end
return {1, 0, 0}";

impl RedisLimiter {
    /// Connects lazily: the service starts while Redis is down, and reconnects by itself.
    pub fn new(url: &str, prefix: &str) -> Result<Self, ConfigError> {
        let client =
            redis::Client::open(url).map_err(|e| ConfigError::new("REDIS_URL", format!("is not usable: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(1)))
            .set_number_of_retries(1);
        let redis = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| ConfigError::new("REDIS_URL", format!("is not usable: {e}")))?;
        Ok(Self { redis, prefix: prefix.to_owned() })
    }

    /// Runs `script` on the prefixed `key` with string arguments first, then numbers.
    async fn run<T: redis::FromRedisValue>(
        &self,
        script: &str,
        key: &str,
        strings: &[&str],
        args: &[i64],
    ) -> StoreResult<T> {
        let script = Script::new(script);
        let mut invocation = script.key(format!("{}{key}", self.prefix));
        for s in strings {
            invocation.arg(*s);
        }
        for a in args {
            invocation.arg(*a);
        }
        let mut redis = self.redis.clone();
        invocation.invoke_async(&mut redis).await.map_err(|e| {
            tracing::warn!(error = %e, "Redis did not answer a rate-limit check");
            StoreError::Unavailable
        })
    }
}

#[async_trait]
impl Limiter for RedisLimiter {
    async fn hit(&self, key: &str, limit: IpLimit, now_ms: i64) -> StoreResult<Verdict> {
        let end = window_end(limit, now_ms);
        let count: u32 = self.run(HIT, &format!("{key}:{end}"), &[], &[end - now_ms]).await?;
        Ok(if count > limit.max {
            Verdict::Wait(Duration::from_millis((end - now_ms).max(1) as u64))
        } else {
            Verdict::Allowed
        })
    }

    async fn add_member(&self, key: &str, member: &str, limit: IpLimit, _now_ms: i64) -> StoreResult<Verdict> {
        let window = limit.window.as_millis() as i64;
        let wait: i64 = self.run(ADD_MEMBER, key, &[member], &[i64::from(limit.max), window]).await?;
        Ok(if wait > 0 { Verdict::Wait(Duration::from_millis(wait as u64)) } else { Verdict::Allowed })
    }

    async fn attempt(&self, key: &str, now_ms: i64) -> StoreResult<Attempt> {
        let args = [
            now_ms,
            FREE_FAILURES as i64,
            LOCK_AT as i64,
            MAX_WAIT.as_millis() as i64,
            FAILURES_KEPT.as_millis() as i64,
        ];
        let (allowed, wait_ms, locked_now): (i64, i64, i64) = self.run(ATTEMPT, key, &[], &args).await?;
        Ok(if allowed == 1 {
            Attempt::Allowed
        } else {
            Attempt::Refused { retry_after: Duration::from_millis(wait_ms.max(1) as u64), locked_now: locked_now == 1 }
        })
    }

    async fn clear(&self, key: &str) -> StoreResult<()> {
        let mut redis = self.redis.clone();
        redis::cmd("DEL").arg(format!("{}{key}", self.prefix)).query_async::<()>(&mut redis).await.map_err(|e| {
            tracing::warn!(error = %e, "Redis did not answer");
            StoreError::Unavailable
        })
    }
}
