#!/usr/bin/env python3
"""Benchmark (not a test): picod's RSS with N idle watchers, and the delivery latency of one
board event (a button press on a picosim board) to all of them.

    cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release && cmake --build build-rel -j2
    python3 bench/watchers_bench.py --build build-rel [--watchers 10000] [--rounds 3]

picod runs under `prlimit --nofile=20000` with --max-clients N+64 (picod raises its soft limit
to the hard one and fits --max-clients to it). bench/watchers.c connects the N watchers (each
`{"cmd":"watch"}`, or with --filter `{"cmd":"watch","events":["button"]}`; --poll-ms 3600000
so that no sensor events flow while they idle), then the board is pressed; latencies are from the
moment the press command is sent to picosim's control socket to each watcher's receipt of
the `button` event line (so they include picosim and the pty; `first` is that path alone).
"""
import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))


def rss_kb(pid, key="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build-rel")
    ap.add_argument("--watchers", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--filter", action="store_true",
                    help='watch with {"events":["button"]} (a filter per client)')
    a = ap.parse_args()
    b = os.path.abspath(a.build)
    os.environ.setdefault("PICOD", os.path.join(b, "daemon", "picod"))
    os.environ.setdefault("PICOSIM", os.path.join(b, "firmware", "picosim"))
    import harness  # noqa: E402,F401
    from harness import Client, Picod, Picosim, wait_until  # noqa: E402

    n = a.watchers
    watch = '{"cmd":"watch","events":["button"]}' if a.filter else '{"cmd":"watch"}'
    with tempfile.TemporaryDirectory() as d:
        sim = Picosim(d).start()
        pd = Picod(d, devices=[sim.pty], extra=["--max-clients", str(n + 64),
                                                     "--poll-ms", "3600000"])
        pd.start(wrapper=["prlimit", "--nofile=20000"])
        try:
            c = Client(pd.socket)
            wait_until(lambda: c.call("status")["result"]["boards"][0]["state"] == "online", 10)
            c.close()
            base = rss_kb(pd.proc.pid)
            print(f"picod RSS with the board and no clients: {base / 1024:.1f} MiB")
            for rnd in range(a.rounds):
                w = subprocess.Popen([os.path.join(b, "bench", "watchers"), pd.socket, str(n),
                                      watch, '"event":"button"'],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                if w.stdout.readline().strip() != "ready":
                    raise SystemExit("watchers failed: " + str(w.wait()))
                idle = rss_kb(pd.proc.pid)
                w.stdin.write("go\n")
                w.stdin.flush()
                sim.control("press")
                out = w.stdout.readline().split()
                w.stdin.close()
                w.wait()
                sim.control("release")
                cnt, first, p50, p99, mx = (int(x) for x in out)
                print(f"round {rnd + 1}: {cnt} idle watchers: picod RSS {idle / 1024:.1f} MiB "
                      f"(+{(idle - base) / 1024:.1f} MiB, {(idle - base) * 1024 / cnt:.0f} B each); "
                      f"one button event: first {first / 1000:.2f} ms, p50 {p50 / 1000:.2f} ms, "
                      f"p99 {p99 / 1000:.2f} ms, max {mx / 1000:.2f} ms; "
                      f"VmHWM {rss_kb(pd.proc.pid, 'VmHWM') / 1024:.1f} MiB", flush=True)
                probe = Client(pd.socket)  # picod has let the last round's clients go
                wait_until(lambda: probe.call("stats")["result"]["daemon"]["clients"] <= 1, 30)
                probe.close()
        finally:
            pd.stop()
            sim.stop()


if __name__ == "__main__":
    main()
