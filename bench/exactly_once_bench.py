#!/usr/bin/env python3
"""Exactly-once actuation under line faults: a benchmark (a measurement, not a test).

picod <-> tests/integration/relay.py (seeded random faults) <-> picosim. One client toggles
the LED N times, a second pings the board every 100 ms; after each acknowledged toggle the LED
is read from picosim's control socket (the board's truth). Counted:
  false_actions  acknowledged toggles after which the LED is unchanged or not what the
                 acknowledgement said (the board ran a toggle twice)
  acked / failed toggles acknowledged / failed (timeouts)
plus picod's retry/timeout counters and the relay's fault counters. picod runs with its
default timings (heartbeat 1 s, poll 2 s, request timeout 500 ms, one retry).

    bench/exactly_once_bench.py --build build-test --ber 1e-3 --seed 1
    bench/exactly_once_bench.py --build /tmp/build-main --ber 1e-4 --only b2h

--build is a build tree with daemon/picod, client/picoctl and firmware/picosim (for "before"
figures, build another commit's tree). Results are printed as one JSON line (--json) or a
summary. docs/PERFORMANCE.md, "Exactly-once actuation under line faults", has the figures.
"""
import argparse
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import print_result, use_build  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests", "integration"))


def main():
    p = argparse.ArgumentParser(description="exactly-once actuation under line faults")
    p.add_argument("--build", required=True, help="build tree (daemon/picod, firmware/picosim)")
    p.add_argument("--ber", type=float, default=1e-4, help="bit error rate, both ways")
    p.add_argument("--drop", type=float, help="byte loss rate (default ber / 10)")
    p.add_argument("--garbage", type=float, help="garbage bursts per byte (default ber / 10)")
    p.add_argument("--only", choices=["h2b", "b2h"], help="faults in one direction only")
    p.add_argument("--toggles", type=int, default=300)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    use_build(a.build)
    import harness  # reads the binaries' paths from the environment
    from relay import B2H, H2B, Faults, Relay
    from test_exactly_once import run_toggles

    board = "0e0e0e0e0e0e0e0b"
    tmp = tempfile.mkdtemp(prefix="picod-eo-bench-")
    sim = relay = picod = None
    try:
        sim = harness.Picosim(tmp, "board0", board).start()
        relay = Relay(sim.pty, tmp + "/relay.tty", seed=a.seed).start()
        picod = harness.Picod(tmp, [relay.link_path], extra=[
            "--heartbeat-ms", "1000", "--poll-ms", "2000", "--request-timeout-ms", "500"]).start()
        harness.wait_online(picod.socket, board)
        c = harness.Client(picod.socket)
        assert c.call("led", board=board, mode="off")["ok"]
        c.close()
        drop = a.ber / 10 if a.drop is None else a.drop
        garbage = a.ber / 10 if a.garbage is None else a.garbage
        faults = Faults(ber=a.ber, drop=drop, garbage=garbage)
        for d in (H2B, B2H):
            if a.only in (None, d):
                relay.set_faults(d, faults)
        res = run_toggles(picod.socket, sim, board, a.toggles, ping_interval=0.1)
        for d in (H2B, B2H):
            relay.set_faults(d, None)
        c = harness.Client(picod.socket)
        st = c.call("stats", board=board)["result"]["boards"][0]
        c.close()
        out = {
            "build": a.build, "seed": a.seed, "ber": a.ber, "drop": drop, "garbage": garbage,
            "only": a.only or "both",
            "toggles": res["toggles"], "acked": res["acked"], "failed": res["failed"],
            "false_actions": res["false_actions"], "safe_state": res["safe_state"],
            "pings_ok": res["pings_ok"], "pings_failed": res["pings_failed"],
            "picod_requests": st["requests"], "picod_decoder": st["decoder"],
            "relay_h2b": relay.stats(H2B), "relay_b2h": relay.stats(B2H),
        }
    finally:
        from line_faults_bench import stop_all
        stop_all(tmp, picod, relay, sim)
    if a.json:
        print(json.dumps(out))
    else:
        rq = out["picod_requests"]
        print(f"ber {a.ber:g} drop {drop:g} garbage {garbage:g} ({out['only']}), seed {a.seed}: "
              f"{out['toggles']} toggles, {out['acked']} acked, {out['failed']} failed, "
              f"{out['false_actions']} false actions; picod sent {rq['sent']}, "
              f"retries {rq['retries']}, timeouts {rq['timeouts']}")


if __name__ == "__main__":
    main()
