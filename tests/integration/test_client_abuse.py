"""Client abuse (issue 12): hostile input lines, and a crowd of abusive clients while boards
stream events. Each hostile line gets one clear error and loses nothing: the connection keeps
serving and other clients never notice. Under abuse, a well-behaved client sees no error and
its latency stays within a bound; picod's output memory stays within its budget.

abuse_load() is also the measurement of bench/client_abuse_bench.py (10,000 connections, VmRSS,
the p99 ratio)."""
import collections
import json
import os
import socket
import threading
import time

from harness import Client, Picod, PicodTestCase, wait_until
from test_board_control import ScriptedBoard

BOARDS = ("ab00000000000001", "ab00000000000002")
B = BOARDS[0]
SLOW = "ab0000000000005e"

# (line, error code): one error each, then the connection serves on.
HOSTILE = [
    # invalid UTF-8: a bare continuation byte, a truncated sequence, an encoded surrogate,
    # an overlong encoding of "/"
    (b'{"cmd":"status","board":"\xff\xfe"}', "parse_error"),
    (b'{"cmd":"version","id":"\xc3("}', "parse_error"),
    (b'{"cmd":"version","id":"\xed\xa0\x80"}', "parse_error"),
    (b'{"cmd":"version","id":"\xc0\xaf"}', "parse_error"),
    # nesting: deeper than the parser's limit (2048), and a line of 100,000 brackets
    (b'{"cmd":"version","id":' + b"[" * 5000 + b"]" * 5000 + b"}", "parse_error"),
    (b"[" * 100000, "line_too_long"),
    # numbers out of range: beyond 64 bits, beyond double, wrapping 32 bits, negative
    (b'{"cmd":"led","board":"%s","mode":"blink","period_ms":99999999999999999999999}'
     % B.encode(), "parse_error"),
    (b'{"cmd":"version","id":1e400}', "parse_error"),
    (b'{"cmd":"led","board":"%s","mode":"blink","period_ms":1e300}' % B.encode(),
     "invalid_argument"),
    (b'{"cmd":"led","board":"%s","mode":"blink","period_ms":4294967496}' % B.encode(),
     "invalid_argument"),
    (b'{"cmd":"led","board":"%s","mode":"blink","period_ms":200.5}' % B.encode(),
     "invalid_argument"),
    (b'{"cmd":"i2c","board":"%s","op":"read","addr":4294967414,"len":1}' % B.encode(),
     "invalid_argument"),
    (b'{"cmd":"i2c","board":"%s","op":"read","addr":118,"len":4294967297}' % B.encode(),
     "invalid_argument"),
    (b'{"cmd":"i2c","board":"%s","op":"write","addr":118,"data":[4294967297]}' % B.encode(),
     "invalid_argument"),
    (b'{"cmd":"i2c","board":"%s","op":"write","addr":118,"data":[-1]}' % B.encode(),
     "invalid_argument"),
    (b'{"cmd":"poll","board":"%s","interval_ms":4294967297}' % B.encode(), "invalid_argument"),
    (b'{"cmd":"poll","board":"%s","interval_ms":-4294967000}' % B.encode(), "invalid_argument"),
    (b'{"cmd":"watch","since":9223372036854775807}', "invalid_argument"),
    (b'{"cmd":"version","id":NaN}', "parse_error"),
    # an error message that quotes the request, cut inside a UTF-8 character: jansson's parse
    # error ("invalid escape near ..."), a command name cut to 64 bytes, an event kind cut to
    # 32. picod answered nothing at all (jansson makes no string of invalid UTF-8): found by
    # the api fuzz target
    (b' "\\u0\xd0\xa90"', "parse_error"),
    (b'{"cmd":"' + b"a" * 63 + b'\xd0\xa9"}', "unknown_command"),
    (b'{"cmd":"watch","events":["' + b"b" * 31 + b'\xd0\xa9"]}', "invalid_argument"),
]


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else None


def well_behaved(sock, n, board=B, slow=None):
    """n requests one at a time (ping, status, led on/off; and a ping of the slow board):
    latencies (s) and the errors."""
    c = Client(sock, timeout=30)
    lat, errors = [], []
    reqs = [("ping", {"board": board}), ("status", {}), ("led", {"board": board, "mode": "on"}),
            ("led", {"board": board, "mode": "off"})]
    if slow:
        reqs.append(("ping", {"board": slow}))
    try:
        for i in range(n):
            cmd, args = reqs[i % len(reqs)]
            t = time.monotonic()
            r = c.call(cmd, **args)
            lat.append(time.monotonic() - t)
            if not r["ok"]:
                errors.append(r)
    finally:
        c.close()
    return lat, errors


def abuse_load(sock, stop, idle_conns=200, flooders=4, readers=2, hogs=3, slow=None,
               big_every=0.05):
    """Start the abusers on threads; they run until stop is set. Returns (threads, counters).
    - idle_conns connections that watch everything and never read
    - flooders clients pipelining requests (status, ping, invalid JSON, invalid UTF-8, deep
      nesting) as fast as picod takes them, never reading (picod soon stops reading them)
    - readers clients doing the same but reading (and dropping) the answers: a flood that
      never stops
    - hogs clients each keeping 8 (--client-requests-max) pings of the slow board in flight
      (SlowBoard: answers after 30 ms): 3 want more than the 12 slots clients share, so the
      well-behaved client's requests for that board must wait for one (not fail)
    - one client sending 1 MiB lines every big_every seconds, reading its errors."""
    counts = collections.Counter()
    socks = []
    for _ in range(idle_conns):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sock)
        s.sendall(b'{"cmd":"watch"}\n')
        socks.append(s)
        counts["idle"] += 1
    burst = b"".join([
        b'{"cmd":"status"}\n', b'{"cmd":"ping","board":"%s"}\n' % B.encode(),
        b'{"cmd": "status",\n', b'{"cmd":"version","id":"\xff"}\n',
        b'{"cmd":"version","id":' + b"[" * 3000 + b"]" * 3000 + b"}\n"])

    def drain(s):
        try:
            while s.recv(1 << 16):
                pass
        except OSError:
            pass

    def flooder(reads=False):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sock)
        s.settimeout(0.2)
        if reads:
            threading.Thread(target=drain, args=(s,), daemon=True).start()
        try:
            while not stop.is_set():
                try:
                    s.sendall(burst)  # picod stops reading a client that does not read
                    counts["flood_lines"] += 5
                except (socket.timeout, BlockingIOError):
                    continue
                except OSError:
                    return  # dropped by picod: fine
        finally:
            s.close()

    def big_sender():
        c = Client(sock, timeout=30)
        line = b'{"cmd":"version","pad":"' + b"x" * (1 << 20) + b'"}\n'
        try:
            while not stop.is_set():
                c.send_raw(line)
                r = c.recv(30)
                assert r["error"]["code"] == "line_too_long", r
                counts["big_lines"] += 1
                stop.wait(big_every)
        finally:
            c.close()

    def hog():
        c = Client(sock, timeout=30)
        req = b'{"cmd":"ping","board":"%s"}\n' % slow.encode()
        try:
            c.send_raw(req * 8)
            while not stop.is_set():
                r = c.recv(30)
                if r is None:
                    break
                counts["hog_" + ("ok" if r["ok"] else r["error"]["code"])] += 1
                c.send_raw(req)
        except OSError:
            counts["hog_dropped"] += 1  # picod dropped it (the output budget): fine
        finally:
            c.close()

    threads = [threading.Thread(target=flooder, args=(i < readers,), daemon=True)
               for i in range(flooders + readers)]
    threads += [threading.Thread(target=hog, daemon=True) for _ in range(hogs if slow else 0)]
    threads.append(threading.Thread(target=big_sender, daemon=True))
    for t in threads:
        t.start()

    def close_all():
        for t in threads:
            t.join(30)
        for s in socks:
            s.close()
    return close_all, counts


class TestHostileInput(PicodTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sim = cls.start_sim("b", B)
        cls.picod = Picod(cls.tmp, [cls.sim.pty]).start()

    def test_each_hostile_line_one_error_and_nothing_lost(self):
        self.wait_state(B, "online")
        c, other = Client(self.picod.socket), Client(self.picod.socket)
        try:
            for line, code in HOSTILE:
                # Pipelined with a good request: the error, then the good answer, in order.
                c.send_raw(line + b'\n{"cmd":"ping","board":"%s","id":"after"}\n' % B.encode())
                r = c.recv(10)
                self.assertIsNotNone(r, f"connection closed after {line[:60]!r}")
                self.assertEqual((r["ok"], r["error"]["code"]), (False, code), (line[:60], r))
                self.assertTrue(r["error"]["message"])
                r = c.recv(10)
                self.assertEqual((r["id"], r["ok"]), ("after", True), (line[:60], r))
                self.assertTrue(other.call("status", board=B)["ok"])
        finally:
            c.close()
            other.close()
        self.assertEqual(self.board_state(B), "online")


class SlowBoard(ScriptedBoard):
    """A scripted board that answers PING 30 ms late (a board busy with a slow bus): requests
    for it hold their slots."""

    board_id = bytes.fromhex(SLOW)

    def answer(self, type_, seq, body):
        if type_ != 0x02:
            return super().answer(type_, seq, body)
        self.requests.append((type_, body))
        out = self.frame(0x82, seq, body)
        threading.Timer(0.03, self._late, (out,)).start()
        return None

    def _late(self, out):
        with self.lock:
            try:
                os.write(self.master, out)
            except OSError:
                pass


class TestAbuseUnderLoad(PicodTestCase):
    """Two boards stream sensor readings (polled every 100 ms) to 200 watchers that never
    read, 4 clients flood pipelined good and bad requests without reading and 2 while reading,
    3 keep 8 slow requests each in flight for board B, one sends 1 MiB lines: a well-behaved
    client gets every answer, ok, within 1 s. Before the fix its requests for B failed with
    busy whenever the hogs held the 12 slots clients share."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for i, b in enumerate(BOARDS):
            cls.start_sim(f"b{i}", b)
        cls.slow = SlowBoard(os.path.join(cls.tmp, "slow"))
        cls.picod = Picod(cls.tmp, [s.pty for s in cls.sims] + [cls.slow.path],
                          extra=["--poll-ms", "100"]).start()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.slow.close()

    def test_well_behaved_client_served_under_abuse(self):
        for b in BOARDS + (SLOW,):
            self.wait_state(b, "online")
        quiet, errors = well_behaved(self.picod.socket, 100, slow=SLOW)
        self.assertEqual(errors, [])
        stop = threading.Event()
        close_all, counts = abuse_load(self.picod.socket, stop, slow=SLOW)
        try:
            wait_until(lambda: counts["big_lines"] >= 2 and counts["flood_lines"] > 100
                       and counts["hog_ok"] > 24, 20, "the abusers at work")
            loaded, errors = well_behaved(self.picod.socket, 200, slow=SLOW)
            c = Client(self.picod.socket)
            d = c.call("stats")["result"]["daemon"]
            c.close()
        finally:
            stop.set()
            close_all()
        self.assertEqual(errors, [], "the well-behaved client saw errors")
        self.assertLess(percentile(loaded, 0.99), 1.0, f"p99 {percentile(loaded, 0.99):.3f} s")
        self.assertLessEqual(d["out_bytes"], d["limits"]["out_budget"])
        self.assertGreater(d["lines_too_long"], 0)
        for b in BOARDS:
            self.assertEqual(self.board_state(b), "online")
        print(f"\nwell-behaved p99: quiet {percentile(quiet, 0.99) * 1000:.1f} ms, under abuse "
              f"{percentile(loaded, 0.99) * 1000:.1f} ms; {json.dumps(counts)}")


if __name__ == "__main__":
    import unittest
    unittest.main()
