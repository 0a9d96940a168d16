"""Board time in host time, against real picod and picosim boards whose clocks run 200 ppm
fast or slow (picosim --clock-ppm): after convergence the host_time of a button press (whose
true host time the test knows within its own measurement: between sending `press` and the
reply) is within the host_time_err_us picod reports, the drift in `stats` is within 20 ppm of
the truth, and a board reset or a jump of its clock restarts the estimate, which holds again
after it re-converges."""
import os
import struct
import time
import unittest

from harness import PICOSIM, Client, Picod, Picosim, PicodTestCase, wait_until
from peer import PtyPeer

# picod's heartbeat is 200 ms in the harness (FAST): 30 samples are 6 s.
CONVERGED_SAMPLES = 30


class SkewedPicosim(Picosim):
    """A picosim whose clock runs ppm fast (negative: slow)."""

    def __init__(self, workdir, name, board_id, ppm):
        super().__init__(workdir, name, board_id)
        self.ppm = ppm
        self.extra_args = ["--clock-ppm", str(ppm)]


def log(*a):
    """Measured numbers, for the record: PICOD_TEST_VERBOSE=1."""
    if os.environ.get("PICOD_TEST_VERBOSE"):
        print(*a, flush=True)


def now_us():
    return time.time_ns() // 1000


class ClockCase(PicodTestCase):
    PPM = 0
    BOARD = "c10c000000000000"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not PICOSIM:
            raise unittest.SkipTest("picosim not built")
        cls.sim = SkewedPicosim(cls.tmp, "clk", cls.BOARD, cls.PPM).start()
        cls.sims.append(cls.sim)
        cls.picod = Picod(cls.tmp, [cls.sim.pty]).start()

    def setUp(self):
        self.wait_state(self.BOARD, "online", 20)
        self.w = Client(self.picod.socket)
        self.assertTrue(self.w.call("watch")["ok"])

    def tearDown(self):
        self.w.close()

    def clock(self):
        c = Client(self.picod.socket)
        try:
            r = c.call("stats", board=self.BOARD)
        finally:
            c.close()
        self.assertTrue(r["ok"], r)
        return r["result"]["boards"][0]["clock"]

    def wait_converged(self, restarts=None):
        def ok():
            c = self.clock()
            if restarts is not None and c["restarts"] < restarts:
                return None
            return c if c["synced"] and c["samples"] >= CONVERGED_SAMPLES else None
        return wait_until(ok, 60, "the clock estimate to converge", interval=0.2)

    def press(self):
        """Press and release; return (t0, t1, event): the press happened in [t0, t1] (Unix
        us, the test's own clock), event is picod's button press event."""
        t0 = now_us()
        self.sim.control("press")
        t1 = now_us()
        ev = self.w.next_event("button", 10)  # after the debounce, still held
        while ev["kind"] != "press":  # a "double" may come first
            ev = self.w.next_event("button", 10)
        self.sim.control("release")
        # the release (a second click soon after a first also says "double")
        while self.w.next_event("button", 10)["kind"] != "release":
            pass
        return t0, t1, ev

    def assert_press_within_bound(self, n=5):
        for _ in range(n):
            t0, t1, ev = self.press()
            self.assertIn("host_time", ev, ev)
            h, err = ev["host_time"], ev["host_time_err_us"]
            # The truth is somewhere in [t0, t1]; picod says it is in [h - err, h + err]:
            # the two must meet (and the bound must be useful, not a day wide).
            self.assertLessEqual(h - err, t1, f"{ev}: press was in [{t0}, {t1}]")
            self.assertGreaterEqual(h + err, t0, f"{ev}: press was in [{t0}, {t1}]")
            self.assertLess(err, 20000, ev)
            log(f"ppm {self.PPM:+d}: press in [{t0}, {t1}] ({t1 - t0} us), host_time {h} "
                f"+- {err} us: {h - t0} us after t0")

    def assert_drift(self, c):
        log(f"ppm {self.PPM:+d}: clock {c}")
        self.assertLessEqual(abs(c["drift_ppm"] - self.PPM), 20, c)

    def test_1_converges_and_press_is_within_bound(self):
        c = self.wait_converged()
        self.assert_drift(c)
        self.assertGreater(c["err_us"], 0)
        self.assertLess(c["err_us"], 20000, c)
        self.assertGreaterEqual(c["last_rtt_us"], 0)
        # offset: the Unix time of board time 0, i.e. about when picosim started
        self.assertLess(abs(c["offset_us"] - now_us()), 600 * 1000000, c)
        self.assert_press_within_bound()

    def test_2_sensor_events_are_stamped(self):
        self.wait_converged()
        ev = self.w.next_event("sensor", 10)
        while "host_time" not in ev:
            ev = self.w.next_event("sensor", 10)
        # a reading was taken before it reached us
        self.assertLessEqual(ev["host_time"] - ev["host_time_err_us"], now_us(), ev)
        self.assertGreaterEqual(ev["host_time_err_us"], 500, ev)  # t_ms: 1 ms resolution

    def test_3_reset_restarts_and_holds_again(self):
        before = self.wait_converged()
        self.sim.control("reset")
        self.w.next_event("board_reset", 15)
        c = self.clock()
        self.assertGreater(c["restarts"], before["restarts"], c)
        self.assertLess(c["samples"], CONVERGED_SAMPLES, c)
        self.wait_state(self.BOARD, "online", 20)
        c = self.wait_converged(before["restarts"] + 1)
        self.assert_drift(c)
        self.assert_press_within_bound()

    def test_4_clock_jump_restarts_and_holds_again(self):
        before = self.wait_converged()
        self.sim.control("clock-jump 5000")
        c = wait_until(lambda: (lambda c: c if c["restarts"] > before["restarts"] else None)(
            self.clock()), 10, "a restart after the jump", interval=0.1)
        self.assertLess(c["samples"], CONVERGED_SAMPLES, c)
        c = self.wait_converged(before["restarts"] + 1)
        self.assert_drift(c)
        self.assert_press_within_bound()


class OldBoard(PtyPeer):
    """A protocol 1.1 board (written in the test): its HEARTBEAT_ACK is the 6-byte body
    without uptime_us, so picod has only the ms uptime. Its clock runs 200 ppm fast."""

    version = 0x11
    PPM = 200
    BOARD_ID = bytes.fromhex("c10c0000000001d1")

    def __init__(self, path):
        super().__init__(path)
        self.boot_ns = time.monotonic_ns()
        self.start()

    def uptime_ms(self):
        return int((time.monotonic_ns() - self.boot_ns) * (1 + self.PPM * 1e-6) / 1e6)

    def answer(self, type_, seq, body):
        if type_ == 0x01:  # HELLO
            crash = struct.pack("<BBIII", 0, 0xFF, 0, 0, 0)
            return 0x81, (struct.pack("<BBBBBBBBI", 1, 1, 0, 1, 0, 2, 1, 1, 0x1F) +
                          self.BOARD_ID + b"old-board".ljust(24, b"\0") + crash +
                          struct.pack("<IBB", self.uptime_ms(), 0, 0))
        if type_ == 0x03:  # HEARTBEAT: the 1.1 body, 6 bytes
            return 0x83, struct.pack("<IBB", self.uptime_ms(), 1, 0)
        if type_ == 0x06:  # READ_SENSORS: none
            return 0x86, b"\0"
        if type_ == 0x04:  # GET_STATE
            return 0x84, struct.pack("<IBBBBIB", self.uptime_ms(), 0, 4, 0, 1, 0, 0)
        return type_ | 0x80, b""


class TestClockOldBoard(PicodTestCase):
    """A board without uptime_us (protocol 1.0/1.1) is estimated from its ms uptime, the
    1 ms resolution part of the bound."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.board = OldBoard(os.path.join(cls.tmp, "oldboard"))
        cls.picod = Picod(cls.tmp, [cls.board.path]).start()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.board.close()

    def test_ms_uptime_gives_an_estimate_with_ms_in_the_bound(self):
        board = OldBoard.BOARD_ID.hex()

        def clock():
            c = Client(self.picod.socket)
            try:
                r = c.call("stats")  # without board: picod's own counters only
            finally:
                c.close()
            self.assertTrue(r["ok"], r)
            for b in r["result"]["boards"]:
                if b["board"] == board:
                    return b["clock"]
            return None
        # 1 ms steps: twice the samples of a us clock (12 s) for its drift
        c = wait_until(lambda: (lambda c: c if c and c["samples"] >= 2 * CONVERGED_SAMPLES
                                else None)(clock()), 60, "60 timed heartbeats", interval=0.2)
        log(f"1.1 board, +200 ppm: clock {c}")
        self.assertTrue(c["synced"], c)
        self.assertGreaterEqual(c["err_us"], 500, c)  # a ms clock cannot do better
        self.assertLess(c["err_us"], 5000, c)
        self.assertLessEqual(abs(c["drift_ppm"] - OldBoard.PPM), 100, c)
        # Board time 0 is (in host time) when the peer started, within the bound plus what
        # the drift error makes of the time since.
        truth = time.time_ns() // 1000 - (time.monotonic_ns() - self.board.boot_ns) // 1000
        age_s = (time.monotonic_ns() - self.board.boot_ns) / 1e9
        self.assertLess(abs(c["offset_us"] - truth), c["err_us"] + 100 * age_s + 1000, c)


class TestClockFast(ClockCase):
    PPM = 200
    BOARD = "c10c000000000200"


class TestClockSlow(ClockCase):
    PPM = -200
    BOARD = "c10c0000000000f2"


if __name__ == "__main__":
    unittest.main()
