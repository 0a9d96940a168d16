"""The board's own capabilities through picod: per-task scheduler statistics (stats BOARD),
board-side sensor polling (poll) and reboot, with picoctl and the raw socket API, including
bad arguments (each gets its documented error and the connection stays usable)."""
import json
import time
import unittest

from harness import Client, Picod, PicodTestCase, picoctl, wait_until

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
        self.assertIn("rx_frames=", r.stdout)
        self.assertIn("rx_crc_errors=", r.stdout)
        self.assertIn("tx_bytes=", r.stdout)
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
        self.assertEqual(r["result"], {"board": BOARD, "mode": "normal"})
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


if __name__ == "__main__":
    unittest.main()
