#!/usr/bin/env python3
"""Benchmark (not a test): picod-mqtt's throughput and its latency from a board event to an
MQTT subscriber, against a real mosquitto on loopback, picod and picosim boards.

    cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release && cmake --build build-rel -j2
    python3 bench/mqtt_bench.py --build build-rel [--clicks 200] [--requests 20000] [--burst 500]

Latency: a button click on picosim; the board stamps the release (t_us), picod maps it to
host time (host_time, with its error bound host_time_err_us, docs/API.md); the subscriber
(mosquitto_sub, QoS 1, as Home Assistant subscribes) receives button_short_press and the bench
notes the wall clock on arrival. latency = arrival - host_time: board USB/pty link, picod, the
socket API, the bridge, the broker and the subscriber's pipe. Also the same for picod's own
watch stream (a socket client), to show what the bridge and the broker add. (The firmware
reports a release after its 20 ms debounce: most of the total is that, on both paths.)

Throughput: --requests `ping` requests published on bridge/request/ping (one mosquitto_pub -l,
one message a line, QoS 1) in bursts of --burst; round trips/s = answers received / time from
the first request sent to the last answer (each a round trip MQTT -> bridge -> picod ->
bridge -> MQTT: two messages through the broker, two lines on picod's socket).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build-rel")
    ap.add_argument("--clicks", type=int, default=200)
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--burst", type=int, default=500)
    a = ap.parse_args()
    b = os.path.abspath(a.build)
    os.environ.setdefault("PICOD", os.path.join(b, "daemon", "picod"))
    os.environ.setdefault("PICOSIM", os.path.join(b, "firmware", "picosim"))
    os.environ.setdefault("PICOD_MQTT", os.path.join(b, "bridge", "picod-mqtt"))
    from harness import Client, Picod, Picosim, wait_until  # noqa: E402
    import mqtt_harness  # noqa: E402
    mqtt_harness.PICOD_MQTT = os.environ["PICOD_MQTT"]
    from mqtt_harness import Bridge, Broker  # noqa: E402

    board = "be0c000000000001"
    with tempfile.TemporaryDirectory() as d:
        sim = Picosim(d, "b0", board).start()
        pd = Picod(d, devices=[sim.pty]).start()
        broker = Broker(d).start()
        br = Bridge(d, pd.socket, broker.port, "bench").start()
        action = f"picod/bench/{board}/action"
        arrivals = []
        lock = threading.Condition()

        sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-q",
                                "1", "-t", action, "-t", "picod/bench/bridge/response/ping",
                                "-F", "%t"], stdout=subprocess.PIPE, text=True, bufsize=1)

        def read():
            for line in sub.stdout:
                t = time.time()
                with lock:
                    arrivals.append((line.strip(), t))
                    lock.notify_all()
        threading.Thread(target=read, daemon=True).start()
        w = Client(pd.socket)
        w.call("watch", events=["button"])
        wait_until(lambda: "watching picod" in br.tail(), 10, "the bridge watching")
        wait_until(lambda: "connected to the broker" in br.tail(), 10, "the bridge connected")
        time.sleep(6)  # picod needs a few heartbeats of the board before it gives host_time

        via_mqtt, via_socket, err = [], [], []
        for i in range(a.clicks):
            with lock:
                n = len([x for x in arrivals if x[0] == action])
            sim.control("click 60")
            while True:
                ev = w.next_event("button")
                if ev["kind"] == "release":
                    t_sock = time.time()
                    break
            with lock:
                while len([x for x in arrivals if x[0] == action]) <= n:
                    lock.wait(5)
                t_mqtt = [x for x in arrivals if x[0] == action][n][1]
            if "host_time" in ev:
                ht = ev["host_time"] / 1e6
                via_mqtt.append((t_mqtt - ht) * 1000)
                via_socket.append((t_sock - ht) * 1000)
                err.append(ev["host_time_err_us"] / 1000)
            time.sleep(0.45)  # apart: presses within 400 ms are a double press
        w.close()

        # In bursts of --burst, each sent once the previous one is answered: a burst larger
        # than the bridge's queue of one-off messages (1024) would lose the oldest answers by
        # design (docs/MQTT.md "Robustness").
        pub = subprocess.Popen(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-q",
                                "1", "-t", "picod/bench/bridge/request/ping", "-l"],
                               stdin=subprocess.PIPE, text=True)
        with lock:
            arrivals.clear()
        t0 = time.time()
        sent = 0
        while sent < a.requests:
            n = min(a.burst, a.requests - sent)
            pub.stdin.write("".join(json.dumps({"transaction": sent + i}) + "\n"
                                    for i in range(n)))
            pub.stdin.flush()
            sent += n
            with lock:
                while len(arrivals) < sent:
                    if not lock.wait(20):
                        break
        with lock:
            got = len(arrivals)
            t1 = arrivals[-1][1] if arrivals else t0
        pub.stdin.close()
        pub.wait(10)
        rss = 0
        with open(f"/proc/{br.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    rss = int(line.split()[1])
        sub.terminate()
        br.stop()
        broker.stop()
        pd.stop()
        sim.stop()

    print(f"latency board event -> MQTT subscriber, {len(via_mqtt)} clicks (ms): "
          f"p50 {statistics.median(via_mqtt):.2f}  p99 {pct(via_mqtt, 99):.2f}  "
          f"max {max(via_mqtt):.2f}")
    print(f"latency board event -> picod watch client (ms): "
          f"p50 {statistics.median(via_socket):.2f}  p99 {pct(via_socket, 99):.2f}  "
          f"max {max(via_socket):.2f}   (host_time bound: median {statistics.median(err):.2f})")
    added = [m - s for m, s in zip(via_mqtt, via_socket)]
    print(f"added by bridge + broker + subscriber (ms): p50 {statistics.median(added):.2f}  "
          f"p99 {pct(added, 99):.2f}  max {max(added):.2f}")
    print(f"requests: {got}/{a.requests} answered in {t1 - t0:.2f} s: "
          f"{got / max(t1 - t0, 1e-9):.0f} round trips/s "
          f"({2 * got / max(t1 - t0, 1e-9):.0f} MQTT messages/s through the broker)")
    print(f"picod-mqtt peak RSS (VmHWM): {rss / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
