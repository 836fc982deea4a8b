//! The ceiling for sign-in throughput in bench/run: Argon2id hashes per second at OWASP's
//! minimum (m=19456 KiB, t=2, p=1) on every core, straight from the argon2 crate with one
//! reused block buffer per thread. Usage: argon2_rate [SECONDS]; prints the rate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Block, Params, Version};

fn main() {
    let seconds: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let params = Params::new(19_456, 2, 1, Some(32)).unwrap_or_else(|e| panic!("params: {e}"));
    let done = AtomicU64::new(0);
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
                let mut blocks = vec![Block::new(); params.block_count()];
                let mut out = [0u8; 32];
                while Instant::now() < until {
                    argon2
                        .hash_password_into_with_memory(
                            b"bench passphrase 12345",
                            b"0123456789abcdef",
                            &mut out,
                            &mut blocks,
                        )
                        .unwrap_or_else(|e| panic!("hash: {e}"));
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    println!("{:.0}", done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64());
}
