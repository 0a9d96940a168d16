#!/usr/bin/env python3
"""Client abuse: picod's memory and a well-behaved client's latency while clients misbehave
(issue 12; a measurement, not a test).

Two picosim boards stream sensor readings (polled every 100 ms); a third (SlowBoard, scripted)
answers pings 30 ms late. The abusers of
tests/integration/test_client_abuse.abuse_load: --idle connections that watch everything and
never read (default 10,000), --flooders clients pipelining good and bad requests (invalid
JSON, invalid UTF-8, 3000-deep nesting) without reading, --readers doing so while reading
the answers (a flood that never pauses), --hogs keeping 8 pings each of the slow board in
flight (more than the 12 slots clients share), one client sending 1 MiB lines. A
well-behaved client makes --requests requests one at a time (ping, status, led on, led off,
a ping of the slow board)
first on a quiet picod, then under the abuse. Reported: its errors, p50/p99 quiet and under
abuse and their ratio (one run), picod's VmRSS quiet, VmHWM (peak) and VmRSS under abuse and
after, and picod's out_bytes against its --out-budget.

    bench/client_abuse_bench.py --build build-rel
    bench/client_abuse_bench.py --build build-rel --idle 1000 --flooders 16

Use a build without sanitizers for memory figures (ASan's quarantine keeps freed memory).
"""
import argparse
import os
import resource
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import print_result, proc_status, use_build  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests", "integration"))



def main():
    p = argparse.ArgumentParser(description="client abuse: memory and latency")
    p.add_argument("--build", required=True)
    p.add_argument("--idle", type=int, default=10000)
    p.add_argument("--flooders", type=int, default=8, help="request floods that never read")
    p.add_argument("--readers", type=int, default=4, help="request floods that read")
    p.add_argument("--hogs", type=int, default=3, help="clients keeping 8 slow requests each")
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    use_build(a.build)
    import harness
    from test_client_abuse import BOARDS, SLOW, SlowBoard, abuse_load, percentile, well_behaved

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = a.idle + a.flooders + 200
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, need), hard), hard))
    tmp = tempfile.mkdtemp(prefix="picod-abuse-")
    sims, picod = [], None
    out = {"idle": a.idle, "flooders": a.flooders, "readers": a.readers, "requests": a.requests}
    try:
        for i, board in enumerate(BOARDS):
            sims.append(harness.Picosim(tmp, f"b{i}", board).start())
        slow = SlowBoard(os.path.join(tmp, "slow"))
        picod = harness.Picod(tmp, [s.pty for s in sims] + [slow.path], extra=[
            "--poll-ms", "100", "--max-clients", str(a.idle + a.flooders + 10)])
        picod.start(wrapper=["prlimit", f"--nofile=1024:{need + 1000}"])
        pid = picod.proc.pid

        def online():
            c = harness.Client(picod.socket)
            try:
                bs = c.call("status")["result"]["boards"]
                return len(bs) == 3 and all(x["state"] == "online" for x in bs)
            finally:
                c.close()
        harness.wait_until(online, 20, "boards online")
        well_behaved(picod.socket, 100, slow=SLOW)  # warm-up
        quiet, errors_q = well_behaved(picod.socket, a.requests, slow=SLOW)
        rss_quiet = proc_status(pid, "VmRSS", None)
        stop = threading.Event()
        t0 = time.monotonic()
        close_all, counts = abuse_load(picod.socket, stop, idle_conns=a.idle,
                                       flooders=a.flooders, readers=a.readers, hogs=a.hogs,
                                       slow=SLOW)
        setup_s = time.monotonic() - t0
        harness.wait_until(lambda: counts["big_lines"] >= 2, 60, "abusers at work")
        loaded, errors_l = well_behaved(picod.socket, a.requests, slow=SLOW)
        rss_loaded, hwm = proc_status(pid, "VmRSS", None), proc_status(pid, "VmHWM", None)
        c = harness.Client(picod.socket)
        d = c.call("stats")["result"]["daemon"]
        c.close()
        stop.set()
        close_all()
        harness.wait_until(lambda: harness.Client(picod.socket).call("stats")["result"]
                           ["daemon"]["clients"] <= 2, 60, "abusers gone")
        ms = lambda x: round(x * 1000, 2)  # noqa: E731
        fast = lambda lat: [x for i, x in enumerate(lat) if i % 5 != 4]  # noqa: E731
        out.update({
            "abusers_connect_s": round(setup_s, 1), "abuse": counts,
            "errors_quiet": len(errors_q), "errors_under_abuse": len(errors_l),
            "error_codes_under_abuse": sorted({e["error"]["code"] for e in errors_l}),
            "an_error_under_abuse": errors_l[0]["error"]["message"] if errors_l else None,
            "p50_ms_quiet": ms(percentile(quiet, 0.5)), "p99_ms_quiet": ms(percentile(quiet, 0.99)),
            "p50_ms_abuse": ms(percentile(loaded, 0.5)),
            "p99_ms_abuse": ms(percentile(loaded, 0.99)),
            "p99_ratio": round(percentile(loaded, 0.99) / percentile(quiet, 0.99), 1),
            # every 5th request is the slow board's ping (30 ms by design): the others alone
            "p99_ms_quiet_fast_boards": ms(percentile(fast(quiet), 0.99)),
            "p99_ms_abuse_fast_boards": ms(percentile(fast(loaded), 0.99)),
            "p99_ratio_fast_boards": round(percentile(fast(loaded), 0.99)
                                           / percentile(fast(quiet), 0.99), 1),
            "vmrss_kib_quiet": rss_quiet, "vmrss_kib_abuse": rss_loaded, "vmhwm_kib": hwm,
            "vmrss_kib_after": proc_status(pid, "VmRSS", None),
            "clients_under_abuse": d["clients"], "paused": d["paused"],
            "dropped_slow": d["dropped_slow"], "dropped_budget": d["dropped_budget"],
            "out_bytes": d["out_bytes"], "out_budget": d["limits"]["out_budget"],
            "lines_too_long": d["lines_too_long"], "request_errors": d["errors"],
        })
    finally:
        out["picod_exit"] = picod.stop() if picod else None
        for s in sims:
            s.stop()
        if "slow" in locals():
            slow.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print_result(out, a.json)


if __name__ == "__main__":
    main()
