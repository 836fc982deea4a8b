//! Access tokens whose signature was already checked, so that a resource server validating the
//! same token on each of a user's calls pays for the signature once, not once per call. Only the
//! signature and header checks are remembered: expiry is checked on every use, and the session
//! and user are still read live. Each key set has its own, so a key reload forgets them all.

use std::collections::HashMap;
use std::sync::Mutex;

use super::claims::AccessClaims;
use super::opaque;

/// Tokens remembered at most; a full cache drops the expired ones, or all if none are.
const CAPACITY: usize = 4096;

#[derive(Default)]
pub(super) struct Verified(Mutex<HashMap<String, AccessClaims>>);

impl Verified {
    pub(super) fn get(&self, token: &str) -> Option<AccessClaims> {
        self.0.lock().ok()?.get(&opaque::hash(token)).cloned()
    }

    pub(super) fn insert(&self, token: &str, claims: &AccessClaims, now: i64) {
        let Ok(mut map) = self.0.lock() else { return };
        if map.len() >= CAPACITY {
            map.retain(|_, c| c.exp >= now);
            if map.len() >= CAPACITY {
                map.clear();
            }
        }
        map.insert(opaque::hash(token), claims.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> AccessClaims {
        AccessClaims { exp, ..AccessClaims::default() }
    }

    #[test]
    fn remembers_tokens_and_makes_room_by_dropping_expired_ones_first() {
        let cache = Verified::default();
        assert!(cache.get("a").is_none());
        cache.insert("a", &claims(100), 0);
        assert_eq!(cache.get("a").map(|c| c.exp), Some(100));
        for n in 1..CAPACITY {
            cache.insert(&format!("old{n}"), &claims(5), 0);
        }
        cache.insert("b", &claims(100), 10);
        assert!(cache.get("a").is_some() && cache.get("b").is_some());
        assert!(cache.get("old1").is_none());
    }
}
