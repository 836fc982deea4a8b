"""Where the cores went during a load: usage: cpu_shares.py SECONDS. Samples every thread on the
machine twice, SECONDS apart, and prints one line: CPU time by process and thread name (digits
dropped, so hash-0 and hash-1 count together) as a share of all the cores' time, largest first,
then the idle share. bench/run prints it for the mixed load, as the profile behind its figure."""

import os
import re
import sys
import time


def threads():
    seen = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            process = open(f"/proc/{pid}/comm").read().strip()
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue  # gone meanwhile
        for tid in tids:
            try:
                # Fields after the parenthesised name: utime and stime are the 12th and 13th.
                fields = open(f"/proc/{pid}/task/{tid}/stat").read().rsplit(")", 1)[1].split()
                name = open(f"/proc/{pid}/task/{tid}/comm").read().strip()
            except OSError:
                continue
            seen[tid] = (f"{process}/{re.sub(r'[-_:.]?[0-9]+$', '', name)}", int(fields[11]) + int(fields[12]))
    return seen


def machine():
    values = [int(v) for v in open("/proc/stat").readline().split()[1:9]]
    return sum(values), values[3] + values[4]  # total, idle + iowait


before, (total0, idle0) = threads(), machine()
time.sleep(float(sys.argv[1]))
after, (total1, idle1) = threads(), machine()
shares = {}
for tid, (name, ticks) in after.items():
    used = ticks - before.get(tid, (name, 0))[1]
    shares[name] = shares.get(name, 0) + used
total = max(total1 - total0, 1)
top = sorted(shares.items(), key=lambda kv: -kv[1])[:6]
busy = [f"{name} {100 * t / total:.0f} %" for name, t in top if 100 * t >= total]
print(", ".join(busy + [f"idle {100 * (idle1 - idle0) / total:.0f} %"]))
