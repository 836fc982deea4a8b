#!/usr/bin/env python3
"""Timing of answers for a known account and an unknown one, side by side.

An attacker who can tell them apart by latency can enumerate accounts. This starts the
release binary on a fresh SQLite database with the default (OWASP) Argon2id cost, creates one
account per round, then alternates requests for the known and an unknown email on /signin (wrong
password), /forget-password and /request-otp, and prints each distribution's percentiles and
the Kolmogorov-Smirnov distance between them (0: the same distribution, 1: always apart).

    cargo build --release && python3 bench/enumeration.py [--rounds 200]

Rate limits are off for the run (RATE_LIMITS=off): otherwise the per-IP limits would stop it
after 30 sign-ins.
"""

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(sorted_values, p):
    i = min(len(sorted_values) - 1, int(round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[i]


def ks_distance(a, b):
    """The largest gap between the two empirical distribution functions."""
    a, b = sorted(a), sorted(b)
    i = j = 0
    gap = 0.0
    while i < len(a) and j < len(b):
        x = min(a[i], b[j])
        while i < len(a) and a[i] <= x:
            i += 1
        while j < len(b) and b[j] <= x:
            j += 1
        gap = max(gap, abs(i / len(a) - j / len(b)))
    return gap


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200, help="requests per email and route")
    parser.add_argument("--bin", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "fastauth"))
    args = parser.parse_args()
    if not os.path.exists(args.bin):
        sys.exit(f"{args.bin} is missing: run `cargo build --release` first")

    port = free_port()
    work = tempfile.mkdtemp(prefix="fastauth-enum-")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "LISTEN_ADDR": f"127.0.0.1:{port}",
        "BASE_URL": f"http://127.0.0.1:{port}/",
        "RATE_LIMITS": "off",
        "LOG_FORMAT": "json",
        "RUST_LOG": "warn",
    }
    server = subprocess.Popen([args.bin, "serve"], cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for _ in range(200):
            try:
                conn.request("GET", "/healthz")
                conn.getresponse().read()
                break
            except OSError:
                time.sleep(0.05)
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

        def post(path, body):
            started = time.perf_counter()
            conn.request("POST", path, json.dumps(body), {"content-type": "application/json"})
            res = conn.getresponse()
            res.read()
            return res.status, (time.perf_counter() - started) * 1000

        # One known account per round, so that per-address limits (one code a minute) treat the
        # known and the unknown side alike: every request names an address not used before.
        for i in range(args.rounds):
            body = {"firstname": "Known", "lastname": "Person", "email": f"known-{i}@example.com", "password": "a long enough passphrase"}
            status, _ = post("/signup", body)
            assert status == 201, status
        routes = [
            ("/signin", lambda e: {"email": e, "password": "not the password 1"}),
            ("/forget-password", lambda e: {"email": e}),
            ("/request-otp", lambda e: {"email": e}),
        ]
        print(f"{args.rounds} requests per email and route, release build, Argon2id m=19456 t=2 p=1, times in ms")
        print(f"{'route':18} {'email':8} {'status':>6} {'p10':>7} {'p50':>7} {'p90':>7} {'p99':>7}   KS distance")
        for path, body in routes:
            times = {"known": [], "unknown": []}
            statuses = {"known": set(), "unknown": set()}
            for i in range(args.rounds):
                # Alternate so that drift (CPU frequency, caches) hits both alike.
                for who in (("known", "unknown") if i % 2 == 0 else ("unknown", "known")):
                    email = f"{'known' if who == 'known' else 'nobody'}-{i}@example.com"
                    status, ms = post(path, body(email))
                    times[who].append(ms)
                    statuses[who].add(status)
            distance = ks_distance(times["known"], times["unknown"])
            for who in ("known", "unknown"):
                t = sorted(times[who])
                row = " ".join(f"{percentile(t, p):7.2f}" for p in (10, 50, 90, 99))
                tail = f"   {distance:.3f}" if who == "unknown" else ""
                print(f"{path:18} {who:8} {','.join(map(str, sorted(statuses[who]))):>6} {row}{tail}")
            if statuses["known"] != statuses["unknown"]:
                print(f"  answers differ on {path}: {statuses}", file=sys.stderr)
                sys.exit(1)
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
