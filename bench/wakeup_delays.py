"""Scheduling delays from `perf sched timehist` output: usage: wakeup_delays.py FILE NAME...
For the threads whose names start with one of NAMEs, prints the p99, p99.9 and largest delay
between being woken and running, and for each delay over 1 ms which thread held that core
just before (bench/wakeup-delays)."""

import collections
import re
import sys

# timehist rows: time, [cpu], task[tid/pid], wait time, scheduling delay, run time (ms).
ROW = re.compile(r"^\s*(\d+\.\d+)\s+\[(\d+)\]\s+(\S+)\s+[\d.]+\s+([\d.]+)\s+[\d.]+\s*$")


def main():
    rows = [m.groups() for m in map(ROW.match, open(sys.argv[1])) if m]
    names = tuple(sys.argv[2:])
    delays, held_by = [], collections.Counter()
    last_on = {}
    for _, cpu, task, delay in rows:
        name = re.sub(r"\[.*", "", task)
        if name.startswith(names):
            delays.append(float(delay))
            if float(delay) > 1.0:
                held_by[last_on.get(cpu, "?")] += 1
        last_on[cpu] = name
    if not delays:
        print("  no scheduling events of those threads")
        return
    delays.sort()
    at = lambda q: delays[min(len(delays) - 1, int(len(delays) * q))]
    print(f"  scheduling delay over {len(delays)} runs: p99 {at(0.99):.3f} ms, p99.9 {at(0.999):.3f} ms, "
          f"max {delays[-1]:.3f} ms")
    over = sum(held_by.values())
    held = ", ".join(f"{n} {c}" for n, c in held_by.most_common())
    print(f"  {over} waits over 1 ms" + (f"; the core was held by: {held}" if over else ""))


main()
