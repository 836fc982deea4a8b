//! Busy work on every core, as Argon2id is, but able to give its core up: bench/wakeup-delays
//! runs it at the hashing threads' priority to see whether a loop that yields (`sched_yield`)
//! every so often lets woken threads run sooner than one that never does, and what yielding
//! costs the loop. Usage: busy_loop SECONDS [YIELD_EVERY_US (0: never)]; prints the loop's
//! work in millions of steps per second.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Steps between looks at the clock (a few microseconds of work).
const BATCH: u64 = 1_000;

fn main() {
    let arg = |n: usize| std::env::args().nth(n).and_then(|s| s.parse::<u64>().ok());
    let seconds = arg(1).unwrap_or(5);
    let yield_every = arg(2).filter(|&us| us > 0).map(Duration::from_micros);
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let steps = AtomicU64::new(0);
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let (mut x, mut done) = (1u64, 0u64);
                // (how often, when next) while yielding.
                let mut yields = yield_every.map(|every| (every, Instant::now() + every));
                loop {
                    for _ in 0..BATCH {
                        x = black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
                    }
                    done += BATCH;
                    let now = Instant::now();
                    if now >= until {
                        break;
                    }
                    if let Some((every, next)) = &mut yields
                        && now >= *next
                    {
                        std::thread::yield_now();
                        *next = now + *every;
                    }
                }
                steps.fetch_add(done, Ordering::Relaxed);
            });
        }
    });
    println!("{:.1}", steps.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64() / 1e6);
}
