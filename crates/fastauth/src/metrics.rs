//! Prometheus metrics kept per `App` (no global recorder, so test apps stay apart): requests by
//! route and status, latency histograms by route, sign-in outcomes, the hashing queue.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
    signins: BTreeMap<&'static str, u64>,
}

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Metrics {
    pub fn record_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let Ok(mut m) = self.inner.lock() else { return };
        *m.requests.entry((method.to_owned(), route.to_owned(), status)).or_default() += 1;
        let h = m.latency.entry(route.to_owned()).or_default();
        let secs = elapsed.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
        if route == "/signin" {
            let outcome = match status {
                200 => "success",
                401 => "invalid_credentials",
                429 => "rate_limited",
                503 => "overloaded",
                _ => "error",
            };
            *m.signins.entry(outcome).or_default() += 1;
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self, hash_queue: usize, hash_workers: usize) -> String {
        let mut out = String::new();
        let Ok(m) = self.inner.lock() else { return out };
        out.push_str("# HELP fastauth_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE fastauth_http_requests_total counter\n");
        for ((method, route, status), n) in &m.requests {
            let _ = writeln!(
                out,
                "fastauth_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP fastauth_http_request_duration_seconds Request latency by route.\n");
        out.push_str("# TYPE fastauth_http_request_duration_seconds histogram\n");
        for (route, h) in &m.latency {
            for (bound, n) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "fastauth_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "fastauth_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "fastauth_http_request_duration_seconds_sum{{route=\"{route}\"}} {}", h.sum);
            let _ = writeln!(out, "fastauth_http_request_duration_seconds_count{{route=\"{route}\"}} {}", h.count);
        }
        out.push_str(
            "# HELP fastauth_signin_total Sign-in attempts by outcome.\n# TYPE fastauth_signin_total counter\n",
        );
        for (outcome, n) in &m.signins {
            let _ = writeln!(out, "fastauth_signin_total{{outcome=\"{outcome}\"}} {n}");
        }
        out.push_str("# HELP fastauth_hash_queue_waiting Password hashing jobs waiting for a thread.\n");
        out.push_str("# TYPE fastauth_hash_queue_waiting gauge\n");
        let _ = writeln!(out, "fastauth_hash_queue_waiting {hash_queue}");
        out.push_str("# HELP fastauth_hash_workers Password hashing threads.\n# TYPE fastauth_hash_workers gauge\n");
        let _ = writeln!(out, "fastauth_hash_workers {hash_workers}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.record_request("POST", "/signin", 200, Duration::from_millis(3));
        m.record_request("POST", "/signin", 401, Duration::from_millis(30));
        let text = m.render(2, 4);
        assert!(text.contains("fastauth_http_requests_total{method=\"POST\",route=\"/signin\",status=\"401\"} 1"));
        assert!(text.contains("fastauth_http_request_duration_seconds_bucket{route=\"/signin\",le=\"0.005\"} 1"));
        assert!(text.contains("fastauth_http_request_duration_seconds_bucket{route=\"/signin\",le=\"0.05\"} 2"));
        assert!(text.contains("fastauth_signin_total{outcome=\"invalid_credentials\"} 1"));
        assert!(text.contains("fastauth_hash_queue_waiting 2"));
    }
}
