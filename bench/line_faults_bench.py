#!/usr/bin/env python3
"""Line faults between picod and a board: a benchmark (issue 12; a measurement, not a test).

picod <-> tests/integration/relay.py (seeded faults, both directions) <-> picosim.

--mode load (default): for each fault kind (tests/integration/test_line_faults.py KINDS: ber,
drop, garbage, truncate, replay, replay_old, mixed) at each --rates value, the workload of
test_line_faults.run_workload: two clients take turns toggling the LED (--toggles per run),
a third pings, a fourth writes an I2C register and reads it back. Per run: actuations
(toggles + I2C writes) acknowledged / failed, false actions (false_twice, false_lied,
false_spontaneous, false_i2c), the faults injected, frames picod could not decode, picod's
retries / timeouts, and whether picod's LED mirror equals the board's LED afterwards.

--mode single: one fault at a time on a quiet line (heartbeats and polls off), on the answer
to a ping (b2h) or on the ping itself (h2b): frames lost for that one fault (requests retried
or failed), and the latency of the request it hit next to an unhit ping's.

    bench/line_faults_bench.py --build build-test                     # every kind, 1e-4 and 1e-3
    bench/line_faults_bench.py --build build-test --kinds mixed --rates 1e-3 --toggles 1000
    bench/line_faults_bench.py --build build-test --mode single

Output: a Markdown table (or --json, one line per run). docs/RELIABILITY.md "Line faults
between picod and a board" has the figures.
"""
import argparse
import collections
import json
import os
import random
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import print_result, use_build  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests", "integration"))

BOARD = "0e0e0e0e0e0e0e13"


def start(tmp, seed, extra):
    import harness
    from relay import Relay
    sim = harness.Picosim(tmp, "board0", BOARD).start()
    relay = Relay(sim.pty, tmp + "/relay.tty", seed=seed).start()
    picod = harness.Picod(tmp, [relay.link_path], extra=extra).start()
    harness.wait_online(picod.socket, BOARD)
    return sim, relay, picod


def stop_all(tmp, picod, relay, sim):
    """Stop what start() started (any of them None); returns picod's exit status."""
    rc = picod.stop() if picod else None
    if relay:
        relay.close()
    if sim:
        sim.stop()
    shutil.rmtree(tmp, ignore_errors=True)
    return rc


def picod_board_stats(sock):
    import harness
    c = harness.Client(sock)
    try:
        return c.call("stats")["result"]["boards"][0]
    finally:
        c.close()


def load_run(a, kind, rate):
    import harness
    from relay import B2H, H2B
    from test_line_faults import KINDS, mirror_matches, run_workload
    tmp = tempfile.mkdtemp(prefix="picod-lf-bench-")
    sim = relay = picod = None
    try:
        sim, relay, picod = start(tmp, a.seed, [
            "--heartbeat-ms", "1000", "--poll-ms", "2000", "--request-timeout-ms", "500"])
        c = harness.Client(picod.socket)
        assert c.call("led", board=BOARD, mode="off")["ok"]
        while len(relay.frames(H2B)) < 60:  # old frames for replay_old
            assert c.call("ping", board=BOARD)["ok"]
        c.close()
        st0 = picod_board_stats(picod.socket)
        for d in (H2B, B2H):
            relay.set_faults(d, KINDS[kind](rate))
        t0 = time.monotonic()
        res = run_workload(picod.socket, sim, BOARD, a.toggles)
        secs = time.monotonic() - t0
        for d in (H2B, B2H):
            relay.set_faults(d, None)
        quiet = time.monotonic()
        try:
            harness.wait_until(lambda: mirror_matches(picod.socket, sim, BOARD, quiet), 15,
                               "mirror")
            consistent, resync = True, time.monotonic() - quiet
        except AssertionError:
            consistent, resync = False, None
        st = picod_board_stats(picod.socket)
        dec = {k: st["decoder"][k] - st0["decoder"][k] for k in st["decoder"]}
        rq = {k: st["requests"][k] - st0["requests"][k] for k in ("sent", "retries", "timeouts",
                                                                  "unmatched")}
        replayed = {d: dict(collections.Counter(f"0x{t:02x}" for _, t, _ in relay.replays(d)))
                    for d in (H2B, B2H)}
        faults = {}
        for d in (H2B, B2H):
            for k, v in relay.stats(d).items():
                if k not in ("frames", "bytes_in"):
                    faults[f"{d}_{k}"] = v
        return {
            "kind": kind, "rate": rate, "seed": a.seed, "seconds": round(secs, 1),
            "toggles": res["toggles"], "toggles_acked": res["acked"],
            "toggles_failed": res["failed"], "safe_state": res["safe_state"],
            "i2c_writes": res["i2c_writes"], "i2c_acked": res["i2c_acked"],
            "i2c_failed": res["i2c_failed"], "i2c_checked": res["i2c_checked"],
            "pings_ok": res["pings_ok"], "pings_failed": res["pings_failed"],
            "false_actions": res["false_actions"],
            "false_detail": {k: v for k, v in res.items() if k.startswith("false") and v},
            "errors": {k: v for k, v in res.items() if k.startswith("error_")},
            "picod_undecodable": dec["crc_errors"] + dec["cobs_errors"] + dec["short_frames"]
            + dec["oversize"], "picod_frames": dec["frames"], "picod_requests": rq,
            "relay": faults, "replayed_types": replayed, "mirror_consistent": consistent,
            "mirror_refreshed_s": None if resync is None else round(resync, 2),
            "board_state_after": st["state"],
        }
    finally:
        rc = stop_all(tmp, picod, relay, sim)
        if rc not in (None, 0):
            print(f"picod exited {rc}", file=sys.stderr)


def single_faults(a):
    """One scripted fault per case on a quiet line; frames lost and the hit request's delay."""
    import harness
    from relay import B2H, H2B
    rng = random.Random(a.seed)

    def flip(raw):
        i = rng.randrange(len(raw))
        return raw[:i] + bytes([raw[i] ^ (1 << rng.randrange(8))]) + raw[i + 1:] + b"\0"

    def garbage(n):
        return bytes(rng.randrange(1, 256) for _ in range(n))

    cases = {
        "one bit flipped": flip,
        "one byte dropped": lambda r: r[:len(r) // 2] + r[len(r) // 2 + 1:] + b"\0",
        "closing 0x00 dropped": lambda r: r,
        "truncated (half)": lambda r: r[:len(r) // 2] + b"\0",
        "64 B garbage inside": lambda r: r[:3] + garbage(64) + r[3:] + b"\0",
        "1 KiB garbage after": lambda r: r + b"\0" + garbage(1024),
        "frame sent twice": lambda r: r + b"\0\0" + r + b"\0",
    }
    tmp = tempfile.mkdtemp(prefix="picod-lf-single-")
    sim = relay = picod = None
    rows = []
    try:
        sim, relay, picod = start(tmp, a.seed, [
            "--heartbeat-ms", "60000", "--poll-ms", "60000", "--request-timeout-ms", "500"])
        c = harness.Client(picod.socket, timeout=30)
        for _ in range(20):
            assert c.call("ping", board=BOARD)["ok"]
        t = time.monotonic()
        for _ in range(20):
            assert c.call("ping", board=BOARD)["ok"]
        clean_ms = (time.monotonic() - t) / 20 * 1000
        for d in (B2H, H2B):
            for name, fn in cases.items():
                st0 = picod_board_stats(picod.socket)
                hit = relay.fault_next(d, fn)
                t = time.monotonic()
                r = c.call("ping", board=BOARD)
                hit_ms = (time.monotonic() - t) * 1000
                assert hit.wait(5)
                after = [c.call("ping", board=BOARD)["ok"] for _ in range(5)]
                st = picod_board_stats(picod.socket)
                rq = {k: st["requests"][k] - st0["requests"][k]
                      for k in ("retries", "timeouts", "unmatched")}
                dec = st["decoder"]
                bad = sum(dec[k] - st0["decoder"][k]
                          for k in ("crc_errors", "cobs_errors", "short_frames", "oversize"))
                rows.append({"direction": d, "fault": name, "hit_request_ok": r["ok"],
                             "hit_request_ms": round(hit_ms, 1), "clean_ping_ms":
                             round(clean_ms, 2), "retries": rq["retries"],
                             "timeouts": rq["timeouts"], "unmatched": rq["unmatched"],
                             "picod_undecodable": bad, "next_5_ok": all(after)})
        c.close()
    finally:
        stop_all(tmp, picod, relay, sim)
    return rows


def main():
    p = argparse.ArgumentParser(description="line faults between picod and a board")
    p.add_argument("--build", required=True, help="build tree (daemon/picod, firmware/picosim)")
    p.add_argument("--mode", choices=["load", "single"], default="load")
    p.add_argument("--kinds", default="ber,drop,garbage,truncate,replay,replay_old,mixed")
    p.add_argument("--rates", default="1e-4,1e-3")
    p.add_argument("--toggles", type=int, default=300)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    b = use_build(a.build)
    if a.mode == "single":
        rows = single_faults(a)
        if a.json:
            for r in rows:
                print(json.dumps(r))
            return
        print("| direction | one fault | hit request | its latency ms (clean ping) | retries "
              "| timeouts | undecodable frames | next 5 pings |")
        print("|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['direction']} | {r['fault']} | {'ok' if r['hit_request_ok'] else 'failed'}"
                  f" | {r['hit_request_ms']} ({r['clean_ping_ms']}) | {r['retries']} | "
                  f"{r['timeouts']} | {r['picod_undecodable']} | "
                  f"{'ok' if r['next_5_ok'] else 'FAILED'} |")
        return
    if not a.json:
        print("| kind | rate | actuations acked / failed | false actions | faults injected "
              "(h2b + b2h) | picod undecodable frames | retries / timeouts | mirror == board |")
        print("|---|---|---|---|---|---|---|---|")
    total = {"actuations": 0, "false": 0}
    for rate in [float(x) for x in a.rates.split(",")]:
        for kind in a.kinds.split(","):
            r = load_run(a, kind, rate)
            total["actuations"] += r["toggles"] + r["i2c_writes"]
            total["false"] += r["false_actions"]
            if a.json:
                print(json.dumps(r), flush=True)
                continue
            inj = sum(v for k, v in r["relay"].items() if k.endswith(
                ("bits_flipped", "bytes_dropped", "garbage_bursts", "truncated", "replayed")))
            acked = r["toggles_acked"] + r["i2c_acked"]
            failed = r["toggles_failed"] + r["i2c_failed"]
            rq = r["picod_requests"]
            print(f"| {kind} | {rate:g} | {acked} / {failed} | {r['false_actions']} "
                  f"{r['false_detail'] or ''} | {inj} | {r['picod_undecodable']} | "
                  f"{rq['retries']} / {rq['timeouts']} | "
                  f"{'yes' if r['mirror_consistent'] else 'NO'} |", flush=True)
    if not a.json:
        print(f"\ntotal: {total['actuations']} actuations, {total['false']} false actions")


if __name__ == "__main__":
    main()
