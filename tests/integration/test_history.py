"""History and catch-up against real picod + picosim: the daemon-wide seq, watch "since" across
a reconnect (nothing lost, nothing repeated at the seam while events keep coming), the gap
line once the ring has wrapped, a replay larger than the client's output bound streamed to a
slow reader, the watch filters, and the history command's downsampling and bounds."""
import json
import socket
import time
import unittest

from harness import Client, Picod, PicodTestCase, cleanup_after_failed_setup, wait_until

BOARD_A = "00000000000000a1"
BOARD_B = "b200000000000002"


def seqs_of(events):
    return [e["seq"] for e in events if "seq" in e]


def daemon(c):
    return c.call("stats")["result"]["daemon"]


def read_events(c, until_seq, timeout=20.0):
    """Lines from a watching client until one with seq >= until_seq (gap lines included)."""
    out = []
    deadline = time.monotonic() + timeout
    while not out or out[-1].get("seq", 0) < until_seq:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no seq {until_seq} in time; last {out[-1:]}")
        msg = c.recv(left)
        if msg is None:
            raise AssertionError("picod closed the connection")
        if "event" in msg:
            out.append(msg)
    return out


def wait_online(picod, n):
    c = Client(picod.socket)
    wait_until(lambda: [b["state"] for b in c.call("list")["result"]["boards"]] ==
               ["online"] * n, 20, "online")
    c.close()


class TestCatchUp(PicodTestCase):
    """A watcher that goes away and comes back with since=<last seq it saw> gets exactly what
    it missed, button presses included, then live events: every seq once, in order."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.sim = cls.start_sim("a", BOARD_A)
            cls.picod = Picod(cls.tmp, [cls.sim.pty], extra=["--poll-ms", "50"]).start()
            wait_online(cls.picod, 1)
        except BaseException:
            cleanup_after_failed_setup(cls)
            raise

    def test_version_has_boot_id_and_seq(self):
        c = Client(self.picod.socket)
        v = c.call("version")["result"]
        self.assertRegex(v["boot_id"], "^[0-9a-f]{32}$")
        self.assertGreaterEqual(v["seq"], 1)  # board_online at least
        h = daemon(c)["history"]
        self.assertEqual(h["boot_id"], v["boot_id"])
        self.assertEqual(h["events_max"], 10000)
        c.close()

    def buttons(self, c):
        return c.call("status", board=BOARD_A)["result"]["boards"][0]["button"]

    def test_catch_up_across_reconnect(self):
        w = Client(self.picod.socket)
        r = w.call("watch")["result"]
        self.assertTrue(r["watching"])
        boot = r["boot_id"]
        seen = read_events(w, r["seq"] + 3)
        # Live seqs follow the answer's seq without a hole.
        self.assertEqual(seqs_of(seen), list(range(r["seq"] + 1, seen[-1]["seq"] + 1)))
        last = seen[-1]["seq"]
        w.close()

        # Meanwhile: three clicks (a press and a release each) and the readings go on.
        c = Client(self.picod.socket)
        for _ in range(3):
            presses = self.buttons(c)["presses"]
            self.sim.control("click")
            # The board saw this one (pressed and released) before the next.
            wait_until(lambda: self.buttons(c) == {"down": False, "presses": presses + 1}, 10,
                       "click seen")
        wait_until(lambda: daemon(c)["history"]["seq"] > last + 20, 10, "more events")

        w = Client(self.picod.socket)
        r = w.call("watch", since=last, boot_id=boot)["result"]
        self.assertEqual(r["since"], last)
        self.assertFalse(r["restarted"])
        # Replay up to the answer's seq, then live: 30 more arrive while we read.
        got = read_events(w, r["seq"] + 30)
        self.assertNotIn("gap", [e["event"] for e in got])
        self.assertEqual(seqs_of(got), list(range(last + 1, got[-1]["seq"] + 1)))
        buttons = [e for e in got if e["event"] == "button"]
        self.assertGreaterEqual(len(buttons), 6, buttons)
        self.assertTrue(all(e["board"] == BOARD_A for e in buttons))
        w.close()
        c.close()

    def test_other_boot_id_replays_everything_held(self):
        w = Client(self.picod.socket)
        r = w.call("watch", since=999999999, boot_id="0" * 32)["result"]
        self.assertTrue(r["restarted"])
        got = read_events(w, 2)
        self.assertEqual(got[0]["seq"], 1)  # all held: this run has not wrapped
        self.assertEqual(got[0]["event"], "board_online")
        w.close()

    def test_since_after_the_last_seq_is_refused(self):
        c = Client(self.picod.socket)
        r = c.call("watch", since=10 ** 12)
        self.assertFalse(r["ok"])
        self.assertEqual(r["error"]["code"], "invalid_argument")
        self.assertIn("restarted", r["error"]["message"])
        self.assertTrue(c.call("version")["ok"])  # still served
        for bad in ({"since": -1}, {"since": "3"}, {"boards": "x"}, {"events": ["nope"]},
                    {"changes_only": 1}, {"boards": ["ffff"]}):
            r = c.call("watch", **bad)
            self.assertFalse(r["ok"], bad)
        c.close()


class TestGap(PicodTestCase):
    """With --history-events 5, a watch from 0 after dozens of events starts with a gap line
    naming exactly what is gone, then the five held, then live."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.sim = cls.start_sim("g", BOARD_A)
            cls.picod = Picod(cls.tmp, [cls.sim.pty],
                              extra=["--poll-ms", "50", "--history-events", "5"]).start()
        except BaseException:
            cleanup_after_failed_setup(cls)
            raise

    def test_gap_after_the_ring_wrapped(self):
        c = Client(self.picod.socket)
        wait_until(lambda: daemon(c)["history"]["seq"] > 30, 20, "30 events")
        w = Client(self.picod.socket)
        r = w.call("watch", since=0)["result"]
        got = read_events(w, r["seq"] + 5)
        gap = got[0]
        self.assertEqual(gap["event"], "gap")
        self.assertNotIn("seq", gap)
        self.assertEqual(gap["from"], 1)
        # The ring held the last five at the answer (more may have come since).
        self.assertGreaterEqual(gap["to"], r["seq"] - 5)
        self.assertEqual(seqs_of(got[1:]), list(range(gap["to"] + 1, got[-1]["seq"] + 1)))
        h = daemon(c)["history"]
        self.assertEqual(h["events_held"], 5)
        self.assertEqual(h["first_seq"], h["seq"] - 4)
        # since within the held range: no gap.
        w2 = Client(self.picod.socket)
        r2 = w2.call("watch", since=h["seq"] - 2)["result"]
        got2 = read_events(w2, r2["seq"])
        self.assertNotEqual(got2[0]["event"], "gap")
        self.assertEqual(got2[0]["seq"], h["seq"] - 1)
        for x in (w, w2, c):
            x.close()


class TestBigReplay(PicodTestCase):
    """A replay many times --client-out-max reaches a reader that reads slowly, whole and in
    order, while live events keep coming: it is sent as the reader reads, never dropped."""

    OUT_MAX = 4096

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.sims = [cls.start_sim(f"r{i}", "%016x" % (0xE0 + i)) for i in range(2)]
            cls.picod = Picod(cls.tmp, [s.pty for s in cls.sims],
                              extra=["--poll-ms", "50", "--client-out-max", str(cls.OUT_MAX)]
                              ).start()
        except BaseException:
            cleanup_after_failed_setup(cls)
            raise

    def test_slow_reader_gets_the_whole_replay(self):
        c = Client(self.picod.socket)
        # Some 25 times the bound held (sensor events are about 250 bytes).
        wait_until(lambda: daemon(c)["history"]["seq"] * 250 > 25 * self.OUT_MAX, 30,
                   "events held")
        before = daemon(c)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        s.connect(self.picod.socket)
        s.sendall(b'{"cmd":"watch","since":0,"id":1}\n')
        buf = b""
        lines = []
        target = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            chunk = s.recv(512)  # small reads, with a pause: a slow reader
            self.assertTrue(chunk, "picod closed the slow reader")
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                lines.append(json.loads(line))
            if lines and target is None:
                target = lines[0]["result"]["seq"] + 20
            if lines and lines[-1].get("seq", 0) >= (target or 1 << 60):
                break
            time.sleep(0.002)
        s.close()
        events = lines[1:]
        # Every seq once, in order: the live events that came during the replay queued behind.
        self.assertEqual(seqs_of(events), list(range(1, events[-1]["seq"] + 1)))
        total = sum(len(json.dumps(e)) for e in events)
        self.assertGreater(total, 10 * self.OUT_MAX)
        after = daemon(c)
        self.assertEqual(after["dropped_slow"], before["dropped_slow"])
        self.assertEqual(after["dropped_budget"], before["dropped_budget"])
        c.close()


class TestFilters(PicodTestCase):
    """boards, events and changes_only, live and in the replay."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.a = cls.start_sim("fa", BOARD_A)
            cls.b = cls.start_sim("fb", BOARD_B)
            cls.picod = Picod(cls.tmp, [cls.a.pty, cls.b.pty], extra=["--poll-ms", "50"]).start()
            wait_online(cls.picod, 2)
        except BaseException:
            cleanup_after_failed_setup(cls)
            raise

    def test_boards_filter_live_and_replay(self):
        c = Client(self.picod.socket)
        r = c.call("watch", since=0, boards=[BOARD_B[:4]])  # a unique prefix resolves
        self.assertTrue(r["ok"], r)
        got = read_events(c, r["result"]["seq"] + 20)
        self.assertTrue(got)
        self.assertEqual({e["board"] for e in got}, {BOARD_B})
        self.assertEqual(got[0]["event"], "board_online")  # from the replay
        # A full id of a board not (yet) connected is accepted.
        self.assertTrue(c.call("watch", boards=["%016x" % 0x77])["ok"])
        r = c.call("watch", boards=["zz"])
        self.assertEqual(r["error"]["code"], "unknown_board")
        c.close()

    def test_events_filter(self):
        c = Client(self.picod.socket)
        r = c.call("watch", events=["button"])["result"]
        self.a.control("click")
        got = [c.next_event(), c.next_event()]
        self.assertEqual([e["event"] for e in got], ["button", "button"])
        self.assertTrue(all(e["seq"] > r["seq"] for e in got))
        # The replay is filtered too: from 0, only buttons.
        r = c.call("watch", since=0, events=["button", "board_online"])
        self.assertTrue(r["ok"])
        kinds = {c.next_event()["event"] for _ in range(4)}  # 2 online + 2 button
        self.assertEqual(kinds, {"button", "board_online"})
        c.close()

    def test_changes_only(self):
        c = Client(self.picod.socket)
        self.a.control("set temp 20")
        wait_until(lambda: [s.get("temp_c") for s in
                            c.call("status", board=BOARD_A)["result"]["boards"][0]["sensors"]
                            if s["sensor"] == 0] == [20.0], 10, "temp 20")
        w = Client(self.picod.socket)
        r = w.call("watch", boards=[BOARD_A], events=["sensor"], changes_only=True)["result"]
        first = [w.next_event(), w.next_event()]  # the first reading of each sensor
        self.assertEqual(sorted(e["sensor"] for e in first), [0, 1])
        # 0.05 degC is not more than 0.1: nothing; then 0.3 degC is.
        self.a.control("set temp 20.05")
        wait_until(lambda: [s.get("temp_c") for s in
                            c.call("status", board=BOARD_A)["result"]["boards"][0]["sensors"]
                            if s["sensor"] == 0] == [20.05], 10, "temp 20.05")
        self.a.control("set temp 20.3")
        ev = w.next_event()
        self.assertEqual(ev["sensor"], 0)
        self.assertEqual(ev["temp_c"], 20.3)
        # Meanwhile unchanged readings (and the one 0.05 degC off) were emitted, not sent.
        self.assertGreater(ev["seq"] - r["seq"], 4)
        w.close()
        c.close()


class TestHistoryCommand(PicodTestCase):
    """Readings downsampled to at most max_points buckets (min/max/mean), within since/until."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.sim = cls.start_sim("h", BOARD_A)
            cls.picod = Picod(cls.tmp, [cls.sim.pty], extra=["--poll-ms", "50"]).start()
            wait_online(cls.picod, 1)
        except BaseException:
            cleanup_after_failed_setup(cls)
            raise

    def history(self, c, **args):
        r = c.call("history", board=BOARD_A, **args)
        self.assertTrue(r["ok"], r)
        return r["result"]

    def test_downsampling_and_bounds(self):
        c = Client(self.picod.socket)
        t0 = int(time.time() * 1000)
        self.sim.control("set temp 10")
        wait_until(lambda: self.history(c, sensor=0)["held"] >= 20, 20, "20 readings")
        self.sim.control("set temp 30")
        wait_until(lambda: self.history(c, sensor=0, max_points=1)["points"][0]["temp_c"]["max"]
                   == 30.0, 10, "30 degC recorded")
        h = self.history(c, sensor=0, max_points=4)
        self.assertLessEqual(len(h["points"]), 4)
        self.assertEqual(sum(p["n"] for p in h["points"]), h["samples"])
        self.assertEqual(h["samples"], h["held"])  # no bounds: everything held
        for p in h["points"]:
            self.assertGreaterEqual(p["t_ms"], h["since_ms"])
            self.assertLessEqual(p["t_ms"], h["until_ms"])
            t = p["temp_c"]
            self.assertLessEqual(t["min"], t["mean"])
            self.assertLessEqual(t["mean"], t["max"])
            self.assertIn("pressure_pa", p)  # the BME280 measures pressure too
        self.assertEqual(h["points"][0]["temp_c"]["min"], 10.0)
        self.assertEqual(h["points"][-1]["temp_c"]["max"], 30.0)
        # Times are Unix ms of this run.
        self.assertGreaterEqual(h["since_ms"], t0 - 60000)
        self.assertLessEqual(h["until_ms"], int(time.time() * 1000) + 1000)
        # Bounds: only what lies within, at most max_points.
        mid = (h["since_ms"] + h["until_ms"]) // 2
        later = self.history(c, sensor=0, since_ms=mid, max_points=1000)
        self.assertTrue(all(p["t_ms"] >= mid for p in later["points"]))
        self.assertLess(later["samples"], h["held"] + 100)
        self.assertTrue(all(p["n"] == 1 or later["bucket_ms"] > 1 for p in later["points"]))
        future = self.history(c, sensor=0, since_ms=int(time.time() * 1000) + 10 ** 7)
        self.assertEqual(future["points"], [])
        for bad in ({"sensor": 0, "max_points": 0}, {"sensor": 9}, {},
                    {"sensor": 0, "since_ms": 5, "until_ms": 4}):
            r = c.call("history", board=BOARD_A, **bad)
            self.assertFalse(r["ok"], bad)
        self.assertEqual(c.call("history", board="nope", sensor=0)["error"]["code"],
                         "unknown_board")
        st = daemon(c)["history"]["readings"]
        self.assertEqual(st["series"], 2)
        self.assertLessEqual(st["bytes"], st["budget_bytes"])
        c.close()


class TestHistoryBudget(PicodTestCase):
    """A budget with room for one series of 100 readings: the first sensor to report keeps its
    history (the last 100), the other gets none and its readings are counted as refused."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.sim = cls.start_sim("hb", BOARD_A)
            cls.picod = Picod(cls.tmp, [cls.sim.pty],
                              extra=["--poll-ms", "50", "--history-readings", "100",
                                     "--history-budget", "4000"]).start()
            wait_online(cls.picod, 1)
        except BaseException:
            cleanup_after_failed_setup(cls)
            raise

    def test_budget_holds(self):
        c = Client(self.picod.socket)
        wait_until(lambda: daemon(c)["history"]["readings"]["samples"] > 120, 20, "readings")
        st = daemon(c)["history"]["readings"]
        self.assertEqual(st["series"], 1)
        self.assertLessEqual(st["bytes"], 4000)
        self.assertGreater(st["readings_refused"], 0)
        held = [c.call("history", board=BOARD_A, sensor=n)["result"]["held"] for n in (0, 1)]
        self.assertEqual(sorted(held), [0, 100])
        c.close()


if __name__ == "__main__":
    unittest.main()
