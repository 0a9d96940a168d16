#!/usr/bin/env python3
"""Benchmark (not a test): `status` (and `list`) requests/s of picod with one picosim board,
against the fixed-reply baseline (bench/fixed_reply.c: a minimal libuv server that answers
every line with one fixed line - here the very bytes of picod's status answer, so both write
the same amount). Both are loaded in ONE run by bench/loadgen.c (closed loop, one request in
flight per connection unless --depth) at 1, 10, 100 and 1000 connections; the rounds
alternate picod / baseline so that machine noise hits both alike.

    cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release && cmake --build build-rel -j2
    python3 bench/status_bench.py --build build-rel [--conns 1,10,100,1000] [--seconds 3]
        [--rounds 3] [--cmd status]

Prints a Markdown table: requests/s of each (median of the rounds) and the ratio.
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build-rel")
    ap.add_argument("--conns", default="1,10,100,1000")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--depth", type=int, default=1)
    ap.add_argument("--cmd", default="status")
    a = ap.parse_args()
    b = os.path.abspath(a.build)
    os.environ.setdefault("PICOD", os.path.join(b, "daemon", "picod"))
    os.environ.setdefault("PICOSIM", os.path.join(b, "firmware", "picosim"))
    import harness  # noqa: E402  (reads PICOD/PICOSIM at import)
    from harness import Client, Picod, Picosim, wait_until  # noqa: E402

    conns = [int(x) for x in a.conns.split(",")]
    req = json.dumps({"cmd": a.cmd}, separators=(",", ":"))
    with tempfile.TemporaryDirectory() as d:
        sim = Picosim(d).start()
        pd = Picod(d, devices=[sim.pty], extra=["--max-clients", str(max(conns) + 64)]).start()
        fixed = None
        try:
            c = Client(pd.socket)
            wait_until(lambda: c.call("status")["result"]["boards"][0]["state"] == "online", 10)
            c.sock.sendall((req + "\n").encode())
            answer = c.buf  # raw bytes: the very line picod sends (Client may hold none)
            while not answer.endswith(b"\n"):
                answer += c.sock.recv(65536)
            c.sock.close()
            reply = os.path.join(d, "reply.txt")
            with open(reply, "wb") as f:
                f.write(answer)
            fsock = os.path.join(d, "fixed.sock")
            fixed = subprocess.Popen([os.path.join(b, "bench", "fixed_reply"), fsock, reply],
                                     stderr=subprocess.PIPE)
            fixed.stderr.readline()  # "fixed_reply: ready"

            def load(path, n):
                out = subprocess.run([os.path.join(b, "bench", "loadgen"), path, str(n),
                                      str(a.seconds), req, str(a.depth)],
                                     capture_output=True, text=True)
                if out.returncode != 0:
                    raise SystemExit(f"loadgen {path} {n}: {out.stderr}")
                return float(out.stdout.split()[2])

            print(f"`{req}`, one picosim board, answer {len(answer)} bytes, depth {a.depth}, "
                  f"{a.rounds} rounds x {a.seconds} s, median\n")
            print("| connections | picod req/s | fixed-reply req/s | ratio |")
            print("|---:|---:|---:|---:|")
            for n in conns:
                ours, base = [], []
                for _ in range(a.rounds):
                    ours.append(load(pd.socket, n))
                    base.append(load(fsock, n))
                o, f_ = statistics.median(ours), statistics.median(base)
                print(f"| {n} | {o:,.0f} | {f_:,.0f} | {o / f_:.2f}x |", flush=True)
        finally:
            if fixed:
                fixed.terminate()
                fixed.wait()
            pd.stop()
            sim.stop()


if __name__ == "__main__":
    main()
