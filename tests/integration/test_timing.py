"""When picod says what it says, measured by picod itself: a silent board goes stale after
--stale-misses heartbeat periods (not before, and at the first check after), offline after
--offline-misses; and a FAULT the board reports reaches a watcher. The board is the scripted
one of test_board_control (a protocol-1.0 peer on a pty, written in Python), which can fall
silent at a chosen moment."""
import os
import struct
import threading
import time

from harness import Client, Picod, PicodTestCase
from test_board_control import ScriptedBoard

HB_MS = 400  # this class's heartbeat period (the harness's 200 ms is overridden)
STALE_MISSES, OFFLINE_MISSES = 3, 8  # the harness's --stale-misses, --offline-misses


class FallingSilentBoard(ScriptedBoard):
    """Told to go silent, it stops answering at the next HEARTBEAT, answers that one heartbeat
    half a period late (its last word), then says nothing until told to speak again. Its last
    word thus lands in the middle of picod's heartbeat period, half a period away from the
    checks on either side: the stale event's silent_ms tells which check fired."""

    def __init__(self, path):
        self.mute = False
        self.silence_requested = None
        self.last_word = None  # time.monotonic() just before the last frame was written
        super().__init__(path)

    def go_silent(self, delay):
        with self.lock:
            self.silence_requested = delay

    def speak_again(self):
        with self.lock:
            self.mute = False

    def answer(self, type_, seq, body):
        if self.silence_requested is not None and type_ == 0x03:
            self.mute = True
            threading.Timer(self.silence_requested, self._last_word, (seq,)).start()
            self.silence_requested = None
        if self.mute:
            self.requests.append((type_, body))
            return None
        return super().answer(type_, seq, body)

    def _last_word(self, seq):
        with self.lock:
            self.last_word = time.monotonic()
            os.write(self.master, self.frame(0x83, seq, struct.pack("<IBB", self.uptime(), 1, 0)))

    def send_event(self, type_, seq, body):
        with self.lock:
            os.write(self.master, self.frame(type_, seq, body))


class TestStaleTiming(PicodTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.board = FallingSilentBoard(os.path.join(cls.tmp, "silent"))
        cls.picod = Picod(cls.tmp, [cls.board.path],
                          extra=["--heartbeat-ms", str(HB_MS)]).start()
        cls.id = cls.board.board_id.hex()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.board.close()

    def setUp(self):
        self.wait_state(self.id, "online")
        self.c = Client(self.picod.socket)

    def tearDown(self):
        self.c.close()

    def test_silent_board_goes_stale_after_three_heartbeat_periods(self):
        self.assertTrue(self.c.call("watch", events=["board_stale", "board_offline",
                                                     "board_online"])["ok"])
        self.board.go_silent(HB_MS / 2000)
        ev = self.c.next_event("board_stale", timeout=STALE_MISSES * HB_MS / 1000 + 10)
        received = time.monotonic()
        self.assertEqual(ev["board"], self.id)
        # picod's own measure of the silence when it judged: not before 3 periods, and at the
        # first heartbeat check after them (the last word came mid-period, so that check is
        # half a period later; a check one period early or late is half a period out).
        self.assertGreaterEqual(ev["silent_ms"], STALE_MISSES * HB_MS, ev)
        self.assertLess(ev["silent_ms"], (STALE_MISSES + 1) * HB_MS, ev)
        # And by this side's clock: the event cannot come before 3 periods of silence.
        self.assertGreaterEqual(received - self.board.last_word, STALE_MISSES * HB_MS / 1000)
        # Offline after 8 periods, the same way: status's two ages, read at one instant of
        # picod's clock, give the silence when the state changed.
        ev = self.c.next_event("board_offline", timeout=OFFLINE_MISSES * HB_MS / 1000 + 10)
        b = self.status(self.id)[0]
        self.assertEqual(b["state"], "offline")
        silent = b["last_rx_age_ms"] - b["state_age_ms"]
        self.assertGreaterEqual(silent, OFFLINE_MISSES * HB_MS, b)
        self.assertLess(silent, (OFFLINE_MISSES + 1) * HB_MS, b)
        self.board.speak_again()
        self.assertEqual(self.c.next_event("board_online", timeout=10)["board"], self.id)

    def test_fault_event_reaches_a_watcher(self):
        all_ = Client(self.picod.socket)
        try:
            self.assertTrue(all_.call("watch")["ok"])
            self.assertTrue(self.c.call("watch", events=["fault"])["ok"])
            # FAULT (0x42): {u8 kind, u8 task, u32 detail}: task 2 overran its budget by 1234.
            self.board.send_event(0x42, 7, struct.pack("<BBI", 3, 2, 1234))
            for client in (self.c, all_):
                ev = client.next_event("fault", timeout=5)
                self.assertEqual((ev["board"], ev["kind"], ev["task"], ev["detail"]),
                                 (self.id, "task_overrun", 2, 1234), ev)
        finally:
            all_.close()
