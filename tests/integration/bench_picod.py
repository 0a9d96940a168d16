"""Benchmark (not a test): latency and footprint of picod with N picosim boards.

    PICOD=build/daemon/picod PICOCTL=build/client/picoctl PICOSIM=build/firmware/picosim \\
        /usr/bin/python3 tests/integration/bench_picod.py [N]

Prints: ping round trip client -> picod -> board (500x), `status` cost with N boards,
press (picosim control) -> button event at a watcher (20x), picod RSS and CPU over 10 s idle
at the default timings (heartbeat 1 s, poll 2 s)."""
import os
import shutil
import statistics
import sys
import tempfile
import time

import harness
from harness import Client, Picod, Picosim, wait_until


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    tmp = tempfile.mkdtemp(prefix="picod-bench-")
    sims = [Picosim(tmp, f"b{i}", "%016x" % (0xBE00000000000000 + i)).start() for i in range(n)]
    harness.FAST[:] = []  # default timings
    pd = Picod(tmp, [s.pty for s in sims]).start()
    c = Client(pd.socket)
    try:
        wait_until(lambda: all(b["state"] == "online"
                               for b in c.call("list")["result"]["boards"]), 30, "all online")
        bid = sims[0].board_id
        rtts = []
        for _ in range(500):
            t = time.perf_counter()
            assert c.call("ping", board=bid)["ok"]
            rtts.append((time.perf_counter() - t) * 1000)
        rtts.sort()
        print(f"ping round trip (500x): median {statistics.median(rtts):.3f} ms, "
              f"p99 {rtts[494]:.3f} ms, max {rtts[-1]:.3f} ms")
        t = time.perf_counter()
        for _ in range(2000):
            c.call("status")
        print(f"status with {n} boards: {(time.perf_counter() - t) / 2:.3f} ms per request")
        w = Client(pd.socket)
        w.call("watch")
        lat = []
        def next_button(kind):
            # A press soon after a release also yields a "double" event: skip it, or the
            # next measurement would stop at a stale event.
            while w.next_event("button").get("kind") != kind:
                pass

        for _ in range(20):
            t = time.perf_counter()
            sims[0].control("press")
            next_button("press")
            lat.append((time.perf_counter() - t) * 1000)
            sims[0].control("release")
            next_button("release")
        lat.sort()
        print(f"press -> button event at a watcher (20x, includes the board's debounce): "
              f"median {statistics.median(lat):.1f} ms, max {lat[-1]:.1f} ms")
        w.close()
        pid = pd.proc.pid

        def cpu_ticks():
            f = open(f"/proc/{pid}/stat").read().split()
            return int(f[13]) + int(f[14])

        c0 = cpu_ticks()
        time.sleep(10)
        c1 = cpu_ticks()
        rss = [l.split()[1] for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")][0]
        cpu = (c1 - c0) / os.sysconf("SC_CLK_TCK") / 10 * 100
        print(f"picod with {n} boards: RSS {rss} kB, CPU {cpu:.2f}% (10 s, default timings)")
    finally:
        c.close()
        print("picod exit status on SIGTERM:", pd.stop())
        for s in sims:
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
