"""The board's own capabilities through picod: per-task scheduler statistics (stats BOARD),
board-side sensor polling (poll) and reboot, with picoctl and the raw socket API, including
bad arguments (each gets its documented error and the connection stays usable)."""
import json
import os
import struct
import time
import unittest

from harness import Client, Picod, PicodTestCase, picoctl, wait_until
from peer import PtyPeer

BOARD = "c0de000000000001"
# The firmware's scheduler tasks (firmware/core/app.c) and the idle pseudo-task after them.
FIRMWARE_TASKS = {"led", "link", "button", "sensors"}


class TestBoardControl(PicodTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sim = cls.start_sim("ctl", BOARD)
        # picod's own sensor polling effectively off (it still reads once after HELLO), so
        # every later sensor event comes from the board's SET_POLL streaming.
        cls.picod = Picod(cls.tmp, [cls.sim.pty], extra=["--poll-ms", "3600000"]).start()

    def setUp(self):
        self.wait_state(BOARD, "online")
        self.c = Client(self.picod.socket)

    def tearDown(self):
        self.c.close()

    def assert_error(self, resp, code, fragment=None):
        self.assertFalse(resp["ok"], resp)
        self.assertEqual(resp["error"]["code"], code, resp)
        if fragment:
            self.assertIn(fragment, resp["error"]["message"])

    def next_response(self, c=None):
        """The next line that is not an event."""
        while True:
            m = (c or self.c).recv(10)
            self.assertIsNotNone(m, "picod closed the connection")
            if "event" not in m:
                return m

    def assert_usable(self, c=None):
        """The connection still answers, and the next response is the one to the next request
        (so the request before got exactly one response)."""
        (c or self.c).send_raw(b'{"cmd":"ping","id":"usable"}\n')
        r = self.next_response(c)
        self.assertEqual(r.get("id"), "usable", r)
        self.assertEqual(r["result"], {"pong": True})

    def board_stats(self):
        r = self.c.call("stats", board=BOARD)
        self.assertTrue(r["ok"], r)
        return r["result"]["boards"][0]

    # ---- per-task statistics ------------------------------------------------------------------

    def test_stats_has_every_task_and_idle_last(self):
        b = self.board_stats()
        n = b["board_reported"]["task_count"]
        tasks = b["tasks"]
        self.assertEqual(len(tasks), n + 1, tasks)
        self.assertEqual([t["index"] for t in tasks], list(range(n + 1)))
        for t in tasks:
            self.assertEqual(set(t), {"index", "name", "state", "runs", "total_us", "max_us",
                                      "max_late_us", "stack_hwm"})
        self.assertEqual({t["name"] for t in tasks[:-1]}, FIRMWARE_TASKS)
        idle = tasks[-1]
        self.assertEqual((idle["name"], idle["state"]), ("idle", "idle"))
        self.assertGreater(idle["runs"], 0, "the board idles between events")
        for t in tasks[:-1]:
            self.assertIn(t["state"], ("ready", "running", "sleeping", "waiting", "done"))
            self.assertGreater(t["runs"], 0, t)
            self.assertGreaterEqual(t["total_us"], t["max_us"])
        # The link task served this very request: it is the one running.
        link = next(t for t in tasks if t["name"] == "link")
        self.assertEqual(link["state"], "running")
        # Counters are live: the link task has run more by the next call.
        again = {t["name"]: t for t in self.board_stats()["tasks"]}
        self.assertGreater(again["link"]["runs"], link["runs"])

    def test_picoctl_stats_board_prints_a_task_table(self):
        r = picoctl(self.picod.socket, "stats", BOARD[:4], check=True)
        lines = r.stdout.splitlines()
        self.assertTrue(lines[0].startswith(BOARD + "  online"), r.stdout)
        header = next(i for i, line in enumerate(lines) if line.startswith("TASK"))
        for col in ("NAME", "STATE", "RUNS", "TOTAL_US", "MAX_US", "MAX_LATE_US", "STACK_HWM"):
            self.assertIn(col, lines[header])
        rows = [line.split() for line in lines[header + 1:]]
        self.assertEqual({row[1] for row in rows}, FIRMWARE_TASKS | {"idle"})
        self.assertEqual(rows[-1][1:3], ["idle", "idle"])
        # The link counters, both sides, are in the report too.
        self.assertRegex(r.stdout, r"\n +rx_frames +\d+\n")
        self.assertRegex(r.stdout, r"\n +rx_crc_errors +\d+\n")
        self.assertRegex(r.stdout, r"\n +tx_bytes +\d+\n")
        r = picoctl(self.picod.socket, "--json", "stats", BOARD, check=True)
        b = json.loads(r.stdout)["boards"][0]
        self.assertEqual(b["tasks"][-1]["name"], "idle")
        self.assertIn("board_reported", b)

    def test_stats_of_a_silent_board_is_one_clear_error(self):
        c = self.c
        self.assertTrue(c.call("watch")["ok"])
        self.sim.control("silent on")
        try:
            c.send_raw(b'{"cmd":"stats","board":"%s","id":"s1"}\n' % BOARD.encode())
            c.send_raw(b'{"cmd":"version","id":"v1"}\n')
            # version answers at once, stats when the board's silence is certain.
            self.assertEqual(self.next_response().get("id"), "v1")
            resp = self.next_response()
            self.assertEqual(resp.get("id"), "s1", resp)
            self.assertIn(resp["error"]["code"], ("timeout", "board_offline"), resp)
            self.assertIn(BOARD, resp["error"]["message"])
            if resp["error"]["code"] == "timeout":
                self.assertIn("GET_STATS", resp["error"]["message"])
            # Once offline, stats BOARD gives picod's own counters, without tasks.
            c.next_event("board_offline", 10)
            r = picoctl(self.picod.socket, "stats", BOARD, check=True)
            self.assertIn("the board is offline", r.stdout)
            resp = c.call("stats", board=BOARD)
            self.assertTrue(resp["ok"], resp)
            self.assertNotIn("tasks", resp["result"]["boards"][0])
        finally:
            self.sim.control("silent off")
        self.assert_usable()
        self.wait_state(BOARD, "online")
        self.assertIn("tasks", self.board_stats())

    # ---- board-side polling ---------------------------------------------------------------------

    def sensor_events(self, c, count, timeout=10.0):
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"only {len(out)} of {count} sensor events: {out}")
            ev = c.next_event("sensor", left)
            self.assertEqual(ev["board"], BOARD)
            out.append(ev)
        return out

    def test_poll_streams_readings_at_the_interval_then_stops(self):
        c = self.c
        self.assertTrue(c.call("watch")["ok"])
        r = c.call("poll", board=BOARD, sensor="all", interval_ms=100)
        self.assertTrue(r["ok"], r)
        self.assertEqual(r["result"], {"board": BOARD, "sensor": "all", "interval_ms": 100})
        evs = self.sensor_events(c, 12)
        s0 = [e["board_ms"] for e in evs if e["sensor"] == 0]
        self.assertGreaterEqual(len(s0), 4, evs)
        gaps = sorted(b - a for a, b in zip(s0, s0[1:]))
        self.assertTrue(80 <= gaps[len(gaps) // 2] <= 150, f"board_ms gaps {gaps}")
        self.assertEqual({e["sensor"] for e in evs}, {0, 1}, "both simulated sensors stream")
        # Readings that stream in are mirrored: status shows a fresh value.
        self.sim.control("set temp 30.25")
        wait_until(lambda: self.status(BOARD)[0]["sensors"][0].get("temp_c") == 30.25, 5,
                   "streamed temp in status")

        r = c.call("poll", board=BOARD, interval_ms=0)
        self.assertTrue(r["ok"], r)
        self.assertEqual(r["result"]["interval_ms"], 0)
        stopped_at = self.board_stats()["board_reported"]["uptime_ms"]
        # Nothing measured after the stop: read what arrives for a second of board time.
        deadline = time.monotonic() + 1.0
        late = []
        while time.monotonic() < deadline:
            try:
                ev = c.next_event("sensor", max(0.05, deadline - time.monotonic()))
            except (AssertionError, TimeoutError):
                break
            if ev["board_ms"] > stopped_at:
                late.append(ev)
        self.assertEqual(late, [], "the board kept polling after interval_ms 0")

    def test_poll_one_sensor_and_picoctl(self):
        c = self.c
        self.assertTrue(c.call("watch")["ok"])
        r = picoctl(self.picod.socket, "poll", BOARD, "1", "100", check=True)
        self.assertIn("sensor 1 every 100 ms", r.stdout)
        try:
            # A read picod made after a HELLO may still be on its way: judge the later ones.
            evs = self.sensor_events(c, 6)
            self.assertEqual({e["sensor"] for e in evs[-3:]}, {1}, evs)
            self.assertEqual(evs[-1]["kind"], "sht3x")
        finally:
            r = picoctl(self.picod.socket, "poll", BOARD, "0", check=True)
        self.assertIn("stopped", r.stdout)
        r = picoctl(self.picod.socket, "--json", "poll", BOARD, "all", "0", check=True)
        self.assertEqual(json.loads(r.stdout)["sensor"], "all")

    def test_poll_bad_arguments(self):
        c = self.c
        cases = [
            ({}, "missing_argument", '"board"'),
            ({"board": "ffff", "interval_ms": 100}, "unknown_board", "ffff"),
            ({"board": BOARD}, "missing_argument", '"interval_ms"'),
            ({"board": BOARD, "interval_ms": "100"}, "invalid_argument", '"interval_ms"'),
            ({"board": BOARD, "interval_ms": 1.5}, "invalid_argument", '"interval_ms"'),
            ({"board": BOARD, "interval_ms": -1}, "invalid_argument", '"interval_ms"'),
            ({"board": BOARD, "interval_ms": 49}, "invalid_argument", "50..2000000"),
            ({"board": BOARD, "interval_ms": 2000001}, "invalid_argument", "50..2000000"),
            ({"board": BOARD, "interval_ms": 100, "sensor": 8}, "invalid_argument", '"sensor"'),
            ({"board": BOARD, "interval_ms": 100, "sensor": -1}, "invalid_argument", '"sensor"'),
            ({"board": BOARD, "interval_ms": 100, "sensor": "one"}, "invalid_argument",
             '"sensor"'),
            ({"board": BOARD, "interval_ms": 100, "sensor": True}, "invalid_argument", '"sensor"'),
            # A valid index the board has no sensor for: the board's own refusal.
            ({"board": BOARD, "interval_ms": 100, "sensor": 5}, "no_sensor", "SET_POLL"),
        ]
        for args, code, fragment in cases:
            with self.subTest(args=args):
                self.assert_error(c.call("poll", **args), code, fragment)
                self.assert_usable()
        r = picoctl(self.picod.socket, "poll", BOARD, "20")
        self.assertEqual(r.returncode, 1)
        self.assertIn("invalid_argument", r.stderr)
        for argv in (["poll", BOARD], ["poll", BOARD, "x", "100"], ["poll", BOARD, "1", "abc"],
                     ["poll", BOARD, "1", "2", "3"]):
            with self.subTest(argv=argv):
                r = picoctl(self.picod.socket, *argv)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("usage: picoctl poll", r.stderr)

    # ---- reboot ---------------------------------------------------------------------------------

    def test_reboot_normal_resets_the_board_which_comes_back(self):
        c = self.c
        before = self.status(BOARD)[0]
        counters = self.board_stats()["board_counters"]
        self.assertTrue(c.call("watch")["ok"])
        t0 = time.monotonic()
        r = c.call("reboot", board=BOARD, mode="normal")
        self.assertTrue(r["ok"], r)
        self.assertEqual(r["result"], {"board": BOARD, "mode": "normal", "acknowledged": True})
        ev = c.next_event("board_reset", 10)
        self.assertEqual(ev["board"], BOARD)
        self.assertIn(ev["detected_by"], ("heartbeat", "state", "hello"))
        wait_until(lambda: self.board_stats()["board_counters"]["hellos"] > counters["hellos"],
                   10, "HELLO after the reboot")
        self.wait_state(BOARD, "online")
        after = self.status(BOARD)[0]
        self.assertEqual(after["board"], BOARD, "same identity")
        self.assertEqual(after["device"], before["device"])
        self.assertEqual(after["reset_cause"], "software")
        # The board started after the request was sent: its uptime is shorter than that.
        self.assertLess(after["uptime_ms"], (time.monotonic() - t0) * 1000 + 100)
        now = self.board_stats()["board_counters"]
        self.assertEqual(now["resets"], counters["resets"] + 1, "one reset, announced once")
        # Still fully usable, with picoctl too.
        r = picoctl(self.picod.socket, "reboot", BOARD[:6], check=True)
        self.assertIn(f"{BOARD}: rebooting (normal)", r.stdout)
        c.next_event("board_reset", 10)
        self.wait_state(BOARD, "online")
        picoctl(self.picod.socket, "ping", BOARD, check=True)

    def test_reboot_bootsel_is_refused_and_the_board_keeps_running(self):
        resets = self.board_stats()["board_counters"]["resets"]
        up0 = self.board_stats()["board_reported"]["uptime_ms"]
        r = self.c.call("reboot", board=BOARD, mode="bootsel")
        self.assert_error(r, "unsupported", "REBOOT bootsel")
        self.assert_usable()
        r = picoctl(self.picod.socket, "reboot", BOARD, "--bootsel")
        self.assertEqual(r.returncode, 1)
        self.assertIn("unsupported", r.stderr)
        b = self.board_stats()
        self.assertGreaterEqual(b["board_reported"]["uptime_ms"], up0, "no reset happened")
        self.assertEqual(b["board_counters"]["resets"], resets)
        self.assertEqual(b["state"], "online")
        self.assertNotIn("bootsel", self.status(BOARD)[0]["caps"])

    def test_reboot_bad_arguments(self):
        cases = [
            ({}, "missing_argument", '"board"'),
            ({"board": "ffff"}, "unknown_board", "ffff"),
            ({"board": 7}, "invalid_argument", '"board"'),
            ({"board": BOARD, "mode": "fast"}, "invalid_argument", '"mode"'),
            ({"board": BOARD, "mode": 1}, "invalid_argument", '"mode"'),
        ]
        for args, code, fragment in cases:
            with self.subTest(args=args):
                self.assert_error(self.c.call("reboot", **args), code, fragment)
                self.assert_usable()
        for argv in (["reboot"], ["reboot", BOARD, "--force"], ["reboot", BOARD, "x", "y"]):
            with self.subTest(argv=argv):
                r = picoctl(self.picod.socket, *argv)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("usage: picoctl reboot", r.stderr)
        self.assertEqual(self.board_state(BOARD), "online")



SCRIPTED_ID = bytes.fromhex("5c1e000000000007")


class ScriptedBoard(PtyPeer):
    """A protocol-1.0 board written in the test, on a pty: it answers like the firmware but can
    be told to misbehave in ways picosim cannot (an ERROR or a wrong answer in the middle of the
    task statistics, a REBOOT whose ack is lost in the reset, a REBOOT never answered)."""

    TASKS = [b"alpha", b"beta", b"gamma"]
    board_id = SCRIPTED_ID
    build = b"scripted"

    def __init__(self, path):
        super().__init__(path)
        self.t0 = time.monotonic()
        self.hello_seen = False
        self.requests = []  # (type, body)
        self.task_errors = {}  # index -> protocol error code to answer with
        self.wrong_index = set()  # indices answered with another index
        self.reboot = "ack"  # "ack" then reset, "lose_ack" (reset, no ack), "ignore"
        self.start()

    def uptime(self):
        return int((time.monotonic() - self.t0) * 1000)

    def reset(self):
        self.t0 = time.monotonic()
        self.hello_seen = False

    def count(self, type_):
        with self.lock:
            return [t for t, _ in self.requests].count(type_)

    def bodies(self, type_):
        with self.lock:
            return [b for t, b in self.requests if t == type_]

    def hello_ack(self):
        self.hello_seen = True
        crash = struct.pack("<BBIII", 0, 0xFF, 0, 0, 0)
        return (struct.pack("<BBBBBBBBI", 1, 0, 0, 1, 0, 2, 3, 1, 0x17) + self.board_id +
                self.build.ljust(24, b"\0")[:24] + crash + struct.pack("<I", self.uptime()))

    def task_stats(self, idx):
        if idx in self.task_errors:
            return 0xFF, struct.pack("<BBH", self.task_errors[idx], 0x0B, 0)
        name, state, hwm = (self.TASKS[idx], 3, 0) if idx < len(self.TASKS) else (b"idle", 0, 512)
        shown = idx + 1 if idx in self.wrong_index else idx
        return 0x8B, struct.pack("<B8sBIIIIH", shown, name, state, 10 + idx, 100, 9, 2, hwm)

    def answer(self, type_, seq, body):
        self.requests.append((type_, body))
        link = 1 if self.hello_seen else 0
        if type_ == 0x01:
            return 0x81, self.hello_ack()
        if type_ == 0x03:
            return 0x83, struct.pack("<IBB", self.uptime(), link, 0)
        if type_ == 0x04:
            return 0x84, struct.pack("<IBBBBIB", self.uptime(), 0, 4, 0, link, 0, 0)
        if type_ == 0x06:
            return 0x86, b"\0"
        if type_ == 0x0A:
            return 0x8A, struct.pack("<13IHHBB", self.uptime(), *([0] * 12), 0, 0,
                                     len(self.TASKS), link)
        if type_ == 0x0B:
            return self.task_stats(body[0])
        if type_ == 0x0C:
            if self.reboot == "ignore":
                return None
            if self.reboot == "lose_ack":
                self.reset()
                return None
        return type_ | 0x80, body if type_ == 0x02 else b""

    def after_answer(self, type_):
        if type_ == 0x0C and self.reboot == "ack":
            self.reset()


class TestScriptedBoard(PicodTestCase):
    """What picod does when the board's side of these requests goes wrong."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.board = ScriptedBoard(os.path.join(cls.tmp, "scripted"))
        cls.picod = Picod(cls.tmp, [cls.board.path]).start()
        cls.id = SCRIPTED_ID.hex()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.board.close()

    def setUp(self):
        self.board.task_errors, self.board.wrong_index, self.board.reboot = {}, set(), "ack"
        self.wait_state(self.id, "online")
        self.c = Client(self.picod.socket)

    def tearDown(self):
        self.c.close()

    def test_task_stats_come_one_request_after_another(self):
        before = len(self.board.bodies(0x0B))
        r = self.c.call("stats", board=self.id)
        self.assertTrue(r["ok"], r)
        tasks = r["result"]["boards"][0]["tasks"]
        self.assertEqual([t["name"] for t in tasks], ["alpha", "beta", "gamma", "idle"])
        self.assertEqual(tasks[0], {"index": 0, "name": "alpha", "state": "waiting", "runs": 10,
                                    "total_us": 100, "max_us": 9, "max_late_us": 2,
                                    "stack_hwm": 0})
        self.assertEqual((tasks[3]["state"], tasks[3]["stack_hwm"]), ("idle", 512))
        self.assertEqual(self.board.bodies(0x0B)[before:], [b"\0", b"\1", b"\2", b"\3"])

    def test_a_task_refused_midway_is_one_error_and_the_rest_is_not_asked(self):
        self.board.task_errors = {2: 12}  # internal
        before = len(self.board.bodies(0x0B))
        self.c.send_raw(b'{"cmd":"stats","board":"%s","id":"s"}\n' % self.id.encode())
        self.c.send_raw(b'{"cmd":"ping","id":"p"}\n')
        got = [self.c.recv(5), self.c.recv(5)]
        self.assertEqual(sorted(m["id"] for m in got), ["p", "s"])
        r = next(m for m in got if m["id"] == "s")
        self.assertEqual(r["error"]["code"], "internal", r)
        self.assertIn("GET_TASK_STATS 2", r["error"]["message"])
        self.assertEqual(self.board.bodies(0x0B)[before:], [b"\0", b"\1", b"\2"])
        r = picoctl(self.picod.socket, "stats", self.id)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertEqual(r.stdout, "")

    def test_an_answer_for_another_task_is_bad_response(self):
        self.board.wrong_index = {1}
        r = self.c.call("stats", board=self.id)
        self.assertEqual(r["error"]["code"], "bad_response", r)
        self.assertIn("GET_TASK_STATS 1", r["error"]["message"])
        self.assertTrue(self.c.call("ping")["ok"])

    def test_reboot_whose_ack_is_lost_is_answered_by_the_reset(self):
        self.board.reboot = "lose_ack"
        n = self.board.count(0x0C)
        self.assertTrue(self.c.call("watch")["ok"])
        self.c.send_raw(b'{"cmd":"reboot","board":"%s","id":"r"}\n' % self.id.encode())
        r = self.next_non_event_or_reset()
        self.assertEqual(r.get("id"), "r", "the answer comes before the board_reset event")
        self.assertTrue(r["ok"], r)
        self.assertFalse(r["result"]["acknowledged"], "answered by the reset, not by an ack")
        ev = self.c.next_event("board_reset", 5)
        self.assertEqual(ev["board"], self.id)
        wait_until(lambda: self.board.hello_seen, 5, "HELLO after the reset")
        self.wait_state(self.id, "online")
        # Never sent twice: a second copy would have rebooted the rebooted board again.
        self.assertEqual(self.board.count(0x0C), n + 1)

    def next_non_event_or_reset(self):
        while True:
            m = self.c.recv(5)
            if "event" not in m or m["event"] == "board_reset":
                return m

    def test_reboot_never_answered_times_out_once_and_a_second_one_is_busy(self):
        self.board.reboot = "ignore"
        n = self.board.count(0x0C)
        t0 = time.monotonic()
        self.c.send_raw(b'{"cmd":"reboot","board":"%s","id":1}\n' % self.id.encode())
        self.c.send_raw(b'{"cmd":"reboot","board":"%s","id":2}\n' % self.id.encode())
        r2 = self.c.recv(5)
        self.assertEqual((r2["id"], r2["error"]["code"]), (2, "busy"), r2)
        self.assertIn("already rebooting", r2["error"]["message"])
        r1 = self.c.recv(10)
        self.assertEqual((r1["id"], r1["error"]["code"]), (1, "timeout"), r1)
        self.assertIn("neither answered REBOOT normal nor reset", r1["error"]["message"])
        # --request-timeout-ms 300 + 2 heartbeats of 200 ms, and no retry in between.
        self.assertGreaterEqual(time.monotonic() - t0, 0.65)
        self.assertEqual(self.board.count(0x0C), n + 1)
        self.assertEqual(self.board_state(self.id), "online")
        self.board.reboot = "ack"
        r = self.c.call("reboot", board=self.id)
        self.assertTrue(r["ok"], r)


if __name__ == "__main__":
    unittest.main()
