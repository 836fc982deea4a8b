//! An open-loop load for bench/run: requests start on a fixed schedule whatever the answers
//! do, and each one's latency counts from the moment it was due, so a stall shows up in the
//! percentiles instead of slowing the load down (wrk waits for each answer before it asks
//! again, which hides exactly the waits a latency target is about).
//!
//! Usage: rate_load BASE_URL RATE SECONDS TOKEN% REFRESH% SIGNIN%
//! e.g. `rate_load http://127.0.0.1:8000 5000 10 90 8 2`. Reads TOKEN (a bearer token for
//! GET /token), REFRESH_FILE (refresh tokens, one a line; each answer's token is used again),
//! BENCH_EMAIL and BENCH_PASSWORD (for POST /signin) from the environment. Prints one line per
//! kind of request: how many, their statuses, and p50/p99/max latency.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Token,
    Refresh,
    SignIn,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Token => "GET /token",
            Kind::Refresh => "POST /refresh-token",
            Kind::SignIn => "POST /signin",
        }
    }
}

/// What the run saw of one kind of request.
#[derive(Default)]
struct Tally {
    micros: Vec<u64>,
    statuses: BTreeMap<String, u64>,
}

struct Load {
    client: reqwest::Client,
    base: String,
    token: String,
    signin: String,
    refresh: Mutex<VecDeque<String>>,
    seen: Mutex<BTreeMap<Kind, Tally>>,
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base, rate, seconds, token_pct, refresh_pct, signin_pct] = args.as_slice() else {
        bail!("usage: rate_load BASE_URL RATE SECONDS TOKEN% REFRESH% SIGNIN%");
    };
    let rate: f64 = rate.parse().context("RATE")?;
    let seconds: f64 = seconds.parse().context("SECONDS")?;
    let shares: [u32; 3] = [token_pct.parse()?, refresh_pct.parse()?, signin_pct.parse()?];
    if rate <= 0.0 || shares.iter().sum::<u32>() != 100 {
        bail!("RATE must be positive and the three shares must add up to 100");
    }
    let env = |name: &str| std::env::var(name).unwrap_or_default();
    let refresh = match std::env::var("REFRESH_FILE") {
        Ok(path) => std::fs::read_to_string(&path).with_context(|| path)?.lines().map(str::to_owned).collect(),
        Err(_) => VecDeque::new(),
    };
    // One worker sends and reads; this thread only keeps time. tokio's timers tick by the
    // millisecond, which would make every request up to a millisecond late by itself.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    let load = Arc::new(Load {
        client: runtime.block_on(async { reqwest::Client::builder().timeout(Duration::from_secs(10)).build() })?,
        base: base.trim_end_matches('/').to_owned(),
        token: env("TOKEN"),
        signin: serde_json::json!({ "email": env("BENCH_EMAIL"), "password": env("BENCH_PASSWORD") }).to_string(),
        refresh: Mutex::new(refresh),
        seen: Mutex::default(),
    });

    let total = (rate * seconds) as u64;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now() + Duration::from_millis(10);
    let mut tasks = Vec::with_capacity(total as usize);
    for n in 0..total {
        let due = start + interval.mul_f64(n as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        // A fixed pattern, so that runs compare like for like: of every 100 requests, the first
        // TOKEN% are token checks, the next REFRESH% refreshes, the last SIGNIN% sign-ins.
        let slot = (n % 100) as u32;
        let kind = if slot < shares[0] {
            Kind::Token
        } else if slot < shares[0] + shares[1] {
            Kind::Refresh
        } else {
            Kind::SignIn
        };
        let load = load.clone();
        tasks.push(runtime.spawn(async move { load.send(kind, due).await }));
    }
    runtime.block_on(futures::future::join_all(tasks));

    let elapsed = start.elapsed().as_secs_f64();
    let seen = load.seen.lock().map_err(|_| anyhow::anyhow!("a request panicked"))?;
    for (kind, tally) in seen.iter() {
        let mut micros = tally.micros.clone();
        micros.sort_unstable();
        let at = |q: f64| micros.get(((micros.len() as f64 * q) as usize).min(micros.len() - 1)).copied().unwrap_or(0);
        let statuses: Vec<String> = tally.statuses.iter().map(|(s, n)| format!("{s}={n}")).collect();
        println!(
            "{:<20} {:>7.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>8.2} ms  statuses: {}",
            kind.name(),
            micros.len() as f64 / elapsed,
            at(0.50) as f64 / 1000.0,
            at(0.99) as f64 / 1000.0,
            micros.last().copied().unwrap_or(0) as f64 / 1000.0,
            statuses.join(" ")
        );
    }
    Ok(())
}

impl Load {
    async fn send(&self, kind: Kind, due: Instant) {
        // A refresh with no token left (every one in flight) checks a token instead.
        let refresh_token = match kind {
            Kind::Refresh => self.refresh.lock().ok().and_then(|mut q| q.pop_front()),
            _ => None,
        };
        let (kind, request) = match (kind, refresh_token) {
            (Kind::Refresh, Some(refresh)) => (
                Kind::Refresh,
                self.client
                    .post(format!("{}/refresh-token", self.base))
                    .json(&serde_json::json!({ "refresh_token": refresh })),
            ),
            (Kind::SignIn, _) => (
                Kind::SignIn,
                self.client
                    .post(format!("{}/signin", self.base))
                    .header("content-type", "application/json")
                    .body(self.signin.clone()),
            ),
            _ => (Kind::Token, self.client.get(format!("{}/token", self.base)).bearer_auth(&self.token)),
        };
        let status = match request.send().await {
            Ok(response) => {
                let status = response.status();
                let body = response.bytes().await.unwrap_or_default();
                if kind == Kind::Refresh && status.is_success() {
                    self.keep_refresh_token(&body);
                }
                status.as_u16().to_string()
            }
            Err(e) if e.is_timeout() => "timeout".to_owned(),
            Err(_) => "error".to_owned(),
        };
        let micros = due.elapsed().as_micros() as u64;
        if let Ok(mut seen) = self.seen.lock() {
            let tally = seen.entry(kind).or_default();
            tally.micros.push(micros);
            *tally.statuses.entry(status).or_default() += 1;
        }
    }

    fn keep_refresh_token(&self, body: &[u8]) {
        let token = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("refresh_token")?.as_str().map(str::to_owned));
        if let (Some(token), Ok(mut queue)) = (token, self.refresh.lock()) {
            queue.push_back(token);
        }
    }
}
