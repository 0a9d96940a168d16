#!/usr/bin/env python3
"""Benchmark (not a test): picod's memory with watchers that never read, while picosim boards
stream sensor readings. Shows that the output bounds (--client-out-max, --out-budget, flow
control) keep picod under picod.service's MemoryMax= however many clients stop reading.

    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build
    PICOD=build/daemon/picod PICOCTL=build/client/picoctl PICOSIM=build/firmware/picosim \\
        python3 bench/bench_watchers.py [--watchers 100,1000] [--boards 4] [--seconds 20] \\
        [-- extra picod options]

For each watcher count: start the boards and picod (default limits, --max-clients raised to
fit the watchers unless --default-max-clients; --poll-ms 50, so every board yields ~40
readings a second), connect the watchers (each sends `watch` and never reads a byte, receive buffer
4 KiB), keep one watcher that reads everything, and sample picod's VmRSS/VmHWM
(/proc/PID/status) for the duration. Prints one line per run: peak RSS, high-water mark,
picod's own counters (dropped_slow, dropped_budget, out_bytes_max) and the bytes the kernel
holds in picod's socket send queues (ss -x), which are outside picod's RSS.
"""
import argparse
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
import harness  # noqa: E402
from harness import Client, Picod, Picosim, wait_until  # noqa: E402
from benchlib import proc_status  # noqa: E402



def kernel_send_queue(pid):
    """Bytes queued in the kernel on picod's Unix sockets (Send-Q of ss -x), or None."""
    if not shutil.which("ss"):
        return None
    out = subprocess.run(["ss", "-xnp"], capture_output=True, text=True).stdout
    total = 0
    for line in out.splitlines():
        if f"pid={pid}," in line:
            cols = line.split()
            if len(cols) > 3 and cols[3].isdigit():
                total += int(cols[3])
    return total


def run(n_watchers, n_boards, seconds, default_max_clients, extra):
    tmp = tempfile.mkdtemp(prefix="picod-bench-w-")
    sims = [Picosim(tmp, f"b{i}", "%016x" % (0xBE00 + i)).start() for i in range(n_boards)]
    harness.FAST[:] = ["--poll-ms", "50"]  # picod polls every board 20x a second: steady events
    opts = list(extra)
    if not default_max_clients:
        opts += ["--max-clients", str(n_watchers + 16)]
    pd = Picod(tmp, [s.pty for s in sims], extra=opts).start()
    pid = pd.proc.pid
    c = Client(pd.socket, timeout=30)
    stuck = []
    try:
        wait_until(lambda: all(b["state"] == "online"
                               for b in c.call("list")["result"]["boards"]), 30, "online")
        for s in sims:
            assert c.call("poll", board=s.board_id, sensor="all", interval_ms=50)["ok"]
        reader = Client(pd.socket, timeout=30)
        reader.call("watch")
        rss0 = proc_status(pid, "VmRSS")
        refused = 0
        for _ in range(n_watchers):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(pd.socket)
            stuck.append(s)
            try:
                s.sendall(b'{"cmd":"watch"}\n')
            except (BrokenPipeError, ConnectionResetError):
                refused += 1  # over --max-clients: picod accepted and closed it
        rss_max, ksq_max, events = 0, 0, 0
        t_end = time.monotonic() + seconds
        next_sample = 0.0
        while time.monotonic() < t_end:
            # The reading watcher keeps up (and proves events still flow to readers).
            reader.next_event()
            events += 1
            if time.monotonic() >= next_sample:
                rss_max = max(rss_max, proc_status(pid, "VmRSS"))
                ksq = kernel_send_queue(pid)
                ksq_max = max(ksq_max, ksq or 0)
                next_sample = time.monotonic() + 0.5
        d = c.call("stats")["result"]["daemon"]
        # An older picod (before the output budget) lacks some counters: show them as 0.
        for k in ("dropped_budget", "out_bytes_max"):
            d.setdefault(k, 0)
        d.setdefault("limits", {"max_clients": "?", "out_budget": 0})
        hwm = proc_status(pid, "VmHWM")
        print(f"watchers {n_watchers:5d} (max_clients {d['limits']['max_clients']}): "
              f"RSS before {rss0 / 1024:.1f} MB, peak {rss_max / 1024:.1f} MB, "
              f"VmHWM {hwm / 1024:.1f} MB | clients now {d['clients']}, "
              f"rejected_full {d['rejected_full']} (seen {refused}), "
              f"dropped_slow {d['dropped_slow']}, "
              f"dropped_budget {d['dropped_budget']}, out_bytes_max "
              f"{d['out_bytes_max'] / 1048576:.2f} MiB (budget "
              f"{d['limits']['out_budget'] / 1048576:.0f} MiB) | reader got {events} events | "
              f"kernel send queues peak {ksq_max / 1048576:.1f} MiB", flush=True)
        reader.close()
    finally:
        for s in stuck:
            s.close()
        c.close()
        rc = pd.stop()
        for s in sims:
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        if rc != 0:
            print(f"picod exit status {rc} on SIGTERM", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--watchers", default="100,1000")
    ap.add_argument("--boards", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--default-max-clients", action="store_true",
                    help="keep picod's default --max-clients (extra watchers are refused)")
    ap.add_argument("extra", nargs="*", help="more picod options (after --)")
    a = ap.parse_args()
    need = max(int(n) for n in a.watchers.split(",")) + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:  # picod inherits it: both ends of every connection are in this machine
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(need, soft), hard), hard))
    for n in a.watchers.split(","):
        run(int(n), a.boards, a.seconds, a.default_max_clients, a.extra)


if __name__ == "__main__":
    main()
