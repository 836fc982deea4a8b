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
//!
//! It shares the cores with the server it measures, so it is lean: one thread sleeps until the
//! next request is due (ppoll, to the microsecond), writes it on an idle keep-alive connection
//! and reads the answers that have come, with HTTP/1.1 written and parsed by hand. It takes
//! 38-39 µs of CPU a request in the mix without sign-ins at 4,500/s, where the reqwest client on
//! tokio it replaces took 56-57 µs and woke a worker thread from a timekeeping one for every
//! request (README, performance).

use std::collections::{BTreeMap, VecDeque};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::poll::{PollFd, PollFlags, ppoll};
use nix::sys::time::TimeSpec;

/// An answer slower than this counts as "timeout" and its connection is closed.
const TIMEOUT: Duration = Duration::from_secs(10);
/// More connections than these mixes keep busy; past it, due requests queue, and their wait
/// counts in their latency as any other.
const MAX_CONNECTIONS: usize = 512;

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

/// A keep-alive connection and the one request it waits on, if any.
struct Connection {
    stream: TcpStream,
    received: Vec<u8>,
    waiting_on: Option<(Kind, Instant)>,
}

struct Load {
    addr: SocketAddr,
    host: String,
    prefix: String,
    token_request: Vec<u8>,
    signin_request: Vec<u8>,
    refresh: VecDeque<String>,
    seen: BTreeMap<Kind, Tally>,
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
    let rest = base.strip_prefix("http://").context("BASE_URL must start with http://")?.trim_end_matches('/');
    let (host, prefix) = match rest.split_once('/') {
        Some((host, path)) => (host, format!("/{path}")),
        None => (rest, String::new()),
    };
    let addr = host.to_socket_addrs()?.next().with_context(|| format!("{host}: no address"))?;
    let signin = serde_json::json!({ "email": env("BENCH_EMAIL"), "password": env("BENCH_PASSWORD") }).to_string();
    let mut load = Load {
        addr,
        host: host.to_owned(),
        token_request: format!(
            "GET {prefix}/token HTTP/1.1\r\nhost: {host}\r\nauthorization: Bearer {}\r\n\r\n",
            env("TOKEN")
        )
        .into_bytes(),
        signin_request: post(host, &prefix, "signin", &signin),
        prefix,
        refresh,
        seen: BTreeMap::new(),
    };

    let total = (rate * seconds) as u64;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now() + Duration::from_millis(10);
    let due = |n: u64| start + interval.mul_f64(n as f64);
    // A fixed pattern, so that runs compare like for like: of every 100 requests, the first
    // TOKEN% are token checks, the next REFRESH% refreshes, the last SIGNIN% sign-ins.
    let kind = |n: u64| match (n % 100) as u32 {
        slot if slot < shares[0] => Kind::Token,
        slot if slot < shares[0] + shares[1] => Kind::Refresh,
        _ => Kind::SignIn,
    };
    let mut connections: Vec<Connection> = Vec::new();
    let mut queued: VecDeque<(Kind, Instant)> = VecDeque::new();
    let mut next = 0;
    loop {
        let now = Instant::now();
        while next < total && due(next) <= now {
            queued.push_back((kind(next), due(next)));
            next += 1;
        }
        while let Some(&(kind, due)) = queued.front() {
            let idle = connections.iter().position(|c| c.waiting_on.is_none());
            let index = match idle {
                Some(index) => index,
                None if connections.len() < MAX_CONNECTIONS => match load.connect() {
                    Ok(connection) => {
                        connections.push(connection);
                        connections.len() - 1
                    }
                    Err(_) => {
                        queued.pop_front();
                        load.record(kind, due, "error");
                        continue;
                    }
                },
                None => break,
            };
            queued.pop_front();
            if !load.send(&mut connections[index], kind, due) {
                connections.swap_remove(index);
            }
        }
        connections.retain(|c| match c.waiting_on {
            Some((kind, due)) if due.elapsed() > TIMEOUT => {
                load.record(kind, due, "timeout");
                false
            }
            _ => true,
        });
        if next == total && queued.is_empty() && connections.iter().all(|c| c.waiting_on.is_none()) {
            break;
        }

        let busy: Vec<usize> = (0..connections.len()).filter(|&i| connections[i].waiting_on.is_some()).collect();
        let wait = if next < total { due(next).saturating_duration_since(Instant::now()) } else { TIMEOUT };
        let mut fds: Vec<PollFd> =
            busy.iter().map(|&i| PollFd::new(connections[i].stream.as_fd(), PollFlags::POLLIN)).collect();
        match ppoll(&mut fds, Some(TimeSpec::from_duration(wait)), None) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => bail!("ppoll: {e}"),
        }
        let ready: Vec<usize> = fds
            .iter()
            .zip(&busy)
            .filter(|(fd, _)| fd.revents().is_some_and(|r| !r.is_empty()))
            .map(|(_, &i)| i)
            .collect();
        drop(fds);
        // From the highest index down, so that closing one (swap_remove) moves none still to read.
        for &index in ready.iter().rev() {
            if !load.receive(&mut connections[index]) {
                connections.swap_remove(index);
            }
        }
    }

    let elapsed = start.elapsed().as_secs_f64();
    for (kind, tally) in &load.seen {
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

/// A JSON POST to `path` below the base.
fn post(host: &str, prefix: &str, path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {prefix}/{path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

impl Load {
    fn connect(&self) -> std::io::Result<Connection> {
        let stream = TcpStream::connect_timeout(&self.addr, TIMEOUT)?;
        stream.set_nodelay(true)?;
        Ok(Connection { stream, received: Vec::new(), waiting_on: None })
    }

    /// Writes the request on `connection`, which is idle; false if it broke (recorded).
    fn send(&mut self, connection: &mut Connection, kind: Kind, due: Instant) -> bool {
        // A refresh with no token left (every one in flight) checks a token instead.
        let refresh = match kind {
            Kind::Refresh => self.refresh.pop_front(),
            _ => None,
        };
        let refresh_request;
        let (kind, request) = match (kind, refresh) {
            (Kind::Refresh, Some(token)) => {
                let body = serde_json::json!({ "refresh_token": token }).to_string();
                refresh_request = post(&self.host, &self.prefix, "refresh-token", &body);
                (Kind::Refresh, &refresh_request)
            }
            (Kind::SignIn, _) => (Kind::SignIn, &self.signin_request),
            _ => (Kind::Token, &self.token_request),
        };
        // The socket is blocking: a request of a few hundred bytes fits an idle connection's
        // send buffer whole.
        if connection.stream.write_all(request).is_err() {
            self.record(kind, due, "error");
            return false;
        }
        connection.waiting_on = Some((kind, due));
        true
    }

    /// Reads what has come on `connection` and records its answer once whole; false when the
    /// connection is to be closed.
    fn receive(&mut self, connection: &mut Connection) -> bool {
        let Some((kind, due)) = connection.waiting_on else { return false };
        let mut chunk = [0u8; 16 * 1024];
        // Readable, so this read does not block: it returns what has come, or 0 at the end.
        let n = match connection.stream.read(&mut chunk) {
            Ok(0) | Err(_) => {
                self.record(kind, due, "error");
                return false;
            }
            Ok(n) => n,
        };
        connection.received.extend_from_slice(&chunk[..n]);
        let Some(answer) = parse(&connection.received) else {
            self.record(kind, due, "error");
            return false;
        };
        let Some(answer) = answer else { return true };
        if kind == Kind::Refresh && answer.status == 200 {
            let body = &connection.received[answer.body_start..answer.end];
            let token = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.get("refresh_token")?.as_str().map(str::to_owned));
            self.refresh.extend(token);
        }
        self.record(kind, due, &answer.status.to_string());
        connection.received.drain(..answer.end);
        connection.waiting_on = None;
        !answer.close
    }

    fn record(&mut self, kind: Kind, due: Instant, status: &str) {
        let tally = self.seen.entry(kind).or_default();
        tally.micros.push(due.elapsed().as_micros() as u64);
        *tally.statuses.entry(status.to_owned()).or_default() += 1;
    }
}

/// One whole HTTP/1.1 answer at the start of a buffer.
#[derive(Debug, PartialEq)]
struct Answer {
    status: u16,
    body_start: usize,
    end: usize,
    close: bool,
}

/// The answer at the start of `buf`: Some(None) while it is still coming, None if it is not one
/// this load can read (no status, or no content-length: the service sends one on every answer).
fn parse(buf: &[u8]) -> Option<Option<Answer>> {
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else { return Some(None) };
    let head = std::str::from_utf8(&buf[..head_end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let (mut length, mut close) = (None, false);
    for (name, value) in lines.filter_map(|line| line.split_once(':')) {
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse::<usize>().ok();
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.trim().eq_ignore_ascii_case("close");
        }
    }
    let body_start = head_end + 4;
    let end = body_start + length?;
    Some((buf.len() >= end).then_some(Answer { status, body_start, end, close }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_read_once_whole_and_not_before() {
        let whole = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1";
        // The next answer's first bytes follow the body, and are left for it.
        let body_start = whole.len() - b"{}HTTP/1.1".len();
        let answer = Answer { status: 200, body_start, end: body_start + 2, close: false };
        assert_eq!(parse(whole), Some(Some(answer)));
        assert_eq!(parse(&whole[..body_start + 1]), Some(None));
        assert_eq!(parse(&whole[..40]), Some(None));
    }

    #[test]
    fn an_answer_without_a_length_or_status_is_refused_and_close_is_seen() {
        assert_eq!(parse(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"), None);
        assert_eq!(parse(b"garbage\r\n\r\n"), None);
        let closing = parse(b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
        assert!(closing.flatten().is_some_and(|a| a.status == 503 && a.close));
    }
}
