//! Password hashing costs and the hashing pool's size and place.

use std::path::PathBuf;

use fastauth_core::password::HashParams;

use super::{ConfigError, Env};

#[derive(Debug, Clone)]
pub struct PasswordConfig {
    pub params: HashParams,
    pub workers: usize,
    pub queue: usize,
    /// A cgroup made idle for the hashing threads (HASH_CGROUP, `crate::hash_cgroup`).
    pub cgroup: Option<PathBuf>,
}

impl PasswordConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let params = HashParams {
            m_kib: env.get_in("ARGON2_MEMORY_KIB", HashParams::OWASP.m_kib, 8..=4 * 1024 * 1024)?,
            t: env.get_in("ARGON2_ITERATIONS", HashParams::OWASP.t, 1..=100)?,
            p: env.get_in("ARGON2_PARALLELISM", HashParams::OWASP.p, 1..=64)?,
        };
        params
            .validate()
            .map_err(|p| ConfigError::new("ARGON2_MEMORY_KIB", format!("does not fit the other costs: {p}")))?;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(Self {
            params,
            workers: env.get_in("HASH_WORKERS", cores, 1..=1024)?,
            queue: env.get_in("HASH_QUEUE", 64, 0..=100_000)?,
            cgroup: env.parse_with("HASH_CGROUP", |v| {
                let path = PathBuf::from(v);
                if !path.is_absolute() {
                    return Err("must be an absolute path".into());
                }
                crate::hash_cgroup::check(&path).map(|()| path)
            })?,
        })
    }
}
