#!/usr/bin/env python3
"""Replug cycles: does picod leak fds, memory or timers when a board comes and goes? (issue 12;
a measurement, not a test.)

--mode pty: board A is a picosim whose pty vanishes and comes back (picosim stopped and
started: picod's --device tty hangs up, picod reopens it). --mode udev: under umockdev (the
script re-runs itself under umockdev-wrapper), board A's USB device is removed and added
(udev remove/add uevents; picod drops the board and takes it back). Board B (picosim) stays,
with a client pinging it every 100 ms. Each cycle waits for board_offline then board_online of A (events
on a watcher), and checks A's identity and its config name. Counted from /proc/PID: open fds,
VmRSS, and picod's wakeups per second under that same steady load (context switches over
--idle seconds: a leaked repeating timer adds wakeups) - after a warm-up of 10 cycles and after
the last; fds, VmRSS and the events held in picod's history (bounded: --history-events) at
each quarter of the run.

    bench/replug_bench.py --build build-rel --mode pty --cycles 1000
    bench/replug_bench.py --build build-rel --mode udev --cycles 1000
    bench/replug_bench.py --build build-rel --mode pty --cycles 50 --valgrind

--valgrind runs picod under valgrind (memcheck, --track-fds=yes) and prints its summary: use a
build without sanitizers. Output: one JSON line (--json) or a summary.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import print_result, use_build  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests", "integration"))

A, B = "7e91000000000001", "7e91000000000002"


def proc_counts(pid):
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    st = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            st[k] = v.strip()
    return fds, int(st["VmRSS"].split()[0]), int(st["voluntary_ctxt_switches"]) + int(
        st["nonvoluntary_ctxt_switches"])


def idle_wakeups(pid, seconds):
    _, _, w0 = proc_counts(pid)
    time.sleep(seconds)  # a measurement interval, not a synchronisation
    _, _, w1 = proc_counts(pid)
    return (w1 - w0) / seconds


def main():
    p = argparse.ArgumentParser(description="replug cycles: fd, memory and timer leaks")
    p.add_argument("--build", required=True)
    p.add_argument("--mode", choices=["pty", "udev"], default="pty")
    p.add_argument("--cycles", type=int, default=1000)
    p.add_argument("--idle", type=float, default=5.0, help="seconds of idle wakeup counting")
    p.add_argument("--valgrind", action="store_true")
    p.add_argument("--history-events", type=int, help="picod --history-events (default its own)")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    b = use_build(a.build)
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    if a.mode == "udev" and "umockdev" not in os.environ.get("LD_PRELOAD", ""):
        # Debian's python3 has the UMockdev bindings (python3-gi), a pyenv one may not.
        py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
        os.execvp("umockdev-wrapper", ["umockdev-wrapper", py] + sys.argv)

    import harness
    from harness import Client
    tmp = tempfile.mkdtemp(prefix="picod-replug-")
    conf = os.path.join(tmp, "picod.conf")
    with open(conf, "w") as f:
        f.write(f"[board replug-a]\nid = {A}\n\n[board steady-b]\nid = {B}\n")
    extra = ["--config", conf]
    if a.history_events:
        extra += ["--history-events", str(a.history_events)]
    wrapper = []
    if a.valgrind:
        wrapper = ["valgrind", "--leak-check=full", "--show-leak-kinds=definite,indirect",
                   "--track-fds=yes", "--error-exitcode=99", f"--log-file={tmp}/valgrind.log"]
    sims, picod, tb = [], None, None
    out = {"mode": a.mode, "cycles": a.cycles, "valgrind": a.valgrind}
    try:
        sim_a = harness.Picosim(tmp, "a", A)
        sim_b = harness.Picosim(tmp, "b", B)
        if a.mode == "udev":
            from test_hotplug import OURS, UdevTestCase

            class Bed(UdevTestCase):
                pass
            Bed.setUpClass()
            tb = Bed
            sim_a.start(env=Bed.plain)
            sim_b.start(env=Bed.plain)
            sims = [sim_a, sim_b]
            Bed.plug("1-1", "ttyACM0", OURS, A, pty=sim_a.pty)
            Bed.plug("1-2", "ttyACM1", OURS, B, pty=sim_b.pty, minor=1)
            env = dict(os.environ, UMOCKDEV_DIR=Bed.root)
            picod = harness.Picod(tmp, [], extra=["--udev"] + extra)
            picod.start(wrapper=wrapper, env=env)
        else:
            sim_a.start()
            sim_b.start()
            sims = [sim_a, sim_b]
            picod = harness.Picod(tmp, [sim_a.pty, sim_b.pty], extra=extra)
            picod.start(wrapper=wrapper)
        pid = picod.proc.pid

        def states():
            c = Client(picod.socket)
            try:
                return {x["board"]: x for x in c.call("status")["result"]["boards"]}
            finally:
                c.close()
        harness.wait_until(lambda: all(states().get(x, {}).get("state") == "online"
                                       for x in (A, B)), 60, "both online")

        stop = threading.Event()
        pings = {"ok": 0, "failed": 0}

        def pinger():
            c = Client(picod.socket, timeout=30)
            while not stop.is_set():
                r = c.call("ping", board=B)
                pings["ok" if r["ok"] else "failed"] += 1
                stop.wait(0.1)
            c.close()
        t = threading.Thread(target=pinger, daemon=True)
        t.start()
        w = Client(picod.socket, timeout=60)
        assert w.call("watch", boards=[A], events=["board_offline", "board_online"])["ok"]

        def cycle():
            if a.mode == "udev":
                tb.unplug("1-1", "ttyACM0")
            else:
                sim_a.stop()
            ev = w.next_event("board_offline", 60)
            assert ev["board"] == A, ev
            if a.mode == "udev":
                tb.plug("1-1", "ttyACM0", OURS, A, pty=sim_a.pty)
            else:
                sim_a.start()
            ev = w.next_event("board_online", 60)
            assert ev["board"] == A and ev.get("name") in (None, "replug-a"), ev

        t0 = time.monotonic()
        warm = min(10, a.cycles)
        for _ in range(warm):
            cycle()
        fd0, rss0, _ = proc_counts(pid)
        wake0 = idle_wakeups(pid, a.idle)
        samples = []  # (cycles, fds, VmRSS KiB, events held in picod's history)

        def history_held():
            c = Client(picod.socket)
            try:
                return c.call("stats")["result"]["daemon"]["history"]["events_held"]
            finally:
                c.close()
        for i in range(a.cycles - warm):
            cycle()
            if (warm + i + 1) % max(1, a.cycles // 4) == 0:
                fd, rss, _ = proc_counts(pid)
                samples.append((warm + i + 1, fd, rss, history_held()))
        secs = time.monotonic() - t0
        fd1, rss1, _ = proc_counts(pid)
        wake1 = idle_wakeups(pid, a.idle)
        st = states()
        stop.set()
        t.join(30)
        w.close()
        out.update({
            "seconds": round(secs, 1), "fds_after_warmup": fd0, "fds_after": fd1,
            "vmrss_kib_after_warmup": rss0, "vmrss_kib_after": rss1,
            "idle_wakeups_per_s_after_warmup": round(wake0, 1),
            "idle_wakeups_per_s_after": round(wake1, 1),
            "samples_cycles_fds_rss_history": samples, "a_identity": st[A]["board"], "a_name": st[A]["name"], "a_state": st[A]["state"],
            "b_name": st[B]["name"], "pings_ok": pings["ok"], "pings_failed": pings["failed"],
        })
    finally:
        rc = picod.stop() if picod else None
        out["picod_exit"] = rc
        for s in sims:
            s.stop()
        if tb:
            for fd in tb.masters:
                os.close(fd)
        if a.valgrind and os.path.exists(f"{tmp}/valgrind.log"):
            text = open(f"{tmp}/valgrind.log").read()
            for key in ("ERROR SUMMARY", "definitely lost", "indirectly lost", "FILE DESCRIPTORS"):
                m = re.search(re.escape(key) + r"[^\n]*", text)
                out[key.lower().replace(" ", "_")] = m.group(0) if m else None
        shutil.rmtree(tmp, ignore_errors=True)
    print_result(out, a.json)


if __name__ == "__main__":
    main()
