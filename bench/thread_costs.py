"""What one process's threads did between two moments, per request: usage:
thread_costs.py PID REQUESTS BEFORE_FILE, after `thread_costs.py PID snapshot > BEFORE_FILE`.
Prints, by thread name (digits dropped), the CPU milliseconds, the times the threads went to
sleep (voluntary context switches) and the times they were preempted (involuntary ones), each
per request. bench/signin-cost prints it for sign-ins at a steady rate. With COUNT_POSTGRES=1 in
the environment the PostgreSQL server's processes count too, together, as `postgres`."""

import json
import os
import re
import sys

TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def tasks(pid):
    """(name, /proc directory) of each of the process's threads, and of PostgreSQL's processes
    where asked."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        yield None, f"/proc/{pid}/task/{tid}"
    if os.environ.get("COUNT_POSTGRES"):
        for other in filter(str.isdigit, os.listdir("/proc")):
            try:
                if open(f"/proc/{other}/comm").read().strip() == "postgres":
                    yield "postgres", f"/proc/{other}"
            except OSError:
                continue


def snapshot(pid):
    totals = {}
    for given_name, path in tasks(pid):
        try:
            stat = open(f"{path}/stat").read()
            status = open(f"{path}/status").read()
        except OSError:
            continue  # gone meanwhile
        name = given_name or re.sub(r"[-_:.]?[0-9]+$", "", stat[stat.index("(") + 1 : stat.rindex(")")])
        fields = stat.rsplit(")", 1)[1].split()
        counts = dict(line.split(":\t") for line in status.splitlines() if ":\t" in line)
        row = totals.setdefault(name, [0, 0, 0])
        row[0] += (int(fields[11]) + int(fields[12])) * TICK_MS
        row[1] += int(counts["voluntary_ctxt_switches"])
        row[2] += int(counts["nonvoluntary_ctxt_switches"])
    return totals


def main():
    pid = sys.argv[1]
    if sys.argv[2] == "snapshot":
        print(json.dumps(snapshot(pid)))
        return
    requests = int(sys.argv[2])
    before = json.load(open(sys.argv[3]))
    after = snapshot(pid)
    print(f"  {'thread':<18} {'CPU ms':>8} {'sleeps':>8} {'preempted':>10}   (per request)")
    total = 0.0
    for name, row in sorted(after.items(), key=lambda kv: -kv[1][0]):
        was = before.get(name, [0, 0, 0])
        cpu, sleeps, preempted = ((now - then) / requests for now, then in zip(row, was))
        total += cpu
        if cpu or sleeps:
            print(f"  {name:<18} {cpu:8.3f} {sleeps:8.2f} {preempted:10.2f}")
    print(f"  {'all':<18} {total:8.3f}")


main()
