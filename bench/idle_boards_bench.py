#!/usr/bin/env python3
"""Benchmark (not a test): what picod costs at idle with many boards — RSS, CPU time and
wake-ups per second while it only does its scheduled work (heartbeats, polls) for N picosim
boards and has no clients.

    cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release && cmake --build build-rel -j2
    python3 bench/idle_boards_bench.py --build build-rel [--boards 64] [--seconds 30]

picod runs with its default timings (heartbeat 1 s, poll 2 s). CPU is utime + stime from
/proc/PID/stat over the window; wake-ups are the voluntary context switches of picod's
process (each is the loop going back to epoll_wait after work) from /proc/PID/status. Boards
added together have their timers due in the same millisecond, so one wake-up serves them all
and the answers that arrive together: the count grows with the number of distinct due times,
not with the number of boards.
"""
import argparse
import os
import sys
import tempfile
import time
from benchlib import proc_status  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))



def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build-rel")
    ap.add_argument("--boards", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=30)
    a = ap.parse_args()
    b = os.path.abspath(a.build)
    os.environ.setdefault("PICOD", os.path.join(b, "daemon", "picod"))
    os.environ.setdefault("PICOSIM", os.path.join(b, "firmware", "picosim"))
    from harness import Client, Picod, Picosim, wait_until  # noqa: E402

    hz = os.sysconf("SC_CLK_TCK")
    with tempfile.TemporaryDirectory() as d:
        sims = [Picosim(d, f"b{i}", f"{0x1d1e0000 + i:016x}").start() for i in range(a.boards)]
        pd = Picod(d, devices=[s.pty for s in sims])
        # The harness's fast test timings are not what an operator runs: use the defaults.
        import harness
        saved, harness.FAST = harness.FAST, []
        try:
            pd.start()
        finally:
            harness.FAST = saved
        try:
            c = Client(pd.socket)

            def online():
                return sum(x["state"] == "online" for x in c.call("list")["result"]["boards"])
            wait_until(lambda: online() == a.boards, 60, f"{a.boards} boards online")
            c.close()
            pid = pd.proc.pid
            t0, cpu0 = time.monotonic(), cpu_ticks(pid)
            v0 = proc_status(pid, "voluntary_ctxt_switches")
            n0 = proc_status(pid, "nonvoluntary_ctxt_switches")
            time.sleep(a.seconds)  # a measurement window, not synchronisation
            dt = time.monotonic() - t0
            cpu = (cpu_ticks(pid) - cpu0) / hz
            vol = proc_status(pid, "voluntary_ctxt_switches") - v0
            inv = proc_status(pid, "nonvoluntary_ctxt_switches") - n0
            print(f"{a.boards} idle boards, {dt:.0f} s: picod RSS "
                  f"{proc_status(pid, 'VmRSS') / 1024:.1f} MiB (VmHWM "
                  f"{proc_status(pid, 'VmHWM') / 1024:.1f} MiB); CPU {100 * cpu / dt:.2f} % of a "
                  f"core ({1000 * cpu / dt / a.boards:.3f} ms/s per board); wake-ups "
                  f"{vol / dt:.1f}/s ({vol / dt / a.boards:.2f}/s per board), involuntary switches "
                  f"{inv / dt:.1f}/s")
        finally:
            pd.stop()
            for s in sims:
                s.stop()


if __name__ == "__main__":
    main()
