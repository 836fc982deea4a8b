//! The ceiling for sign-in throughput in bench/run: Argon2id hashes per second at OWASP's
//! minimum (m=19456 KiB, t=2, p=1) on every core, straight from the argon2-rust crate with one
//! reused arena per thread, as the service hashes. Usage: argon2_rate [SECONDS]; prints the rate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use argon2_rust::params::Memory;
use argon2_rust::{Algorithm, Argon2, Params, Version};

fn main() {
    let seconds: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let params = Params::builder().memory(Memory::kib(19_456)).passes(2).lanes(1).build();
    let params = params.unwrap_or_else(|e| panic!("params: {e}"));
    let done = AtomicU64::new(0);
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, params).hasher();
                let mut out = [0u8; 32];
                while Instant::now() < until {
                    hasher
                        .hash_into(b"bench passphrase 12345", b"0123456789abcdef", &mut out)
                        .unwrap_or_else(|e| panic!("hash: {e}"));
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    println!("{:.0}", done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64());
}
