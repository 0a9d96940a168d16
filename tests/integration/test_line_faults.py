"""Line faults between picod and a board (issue 12): every fault kind of relay.py in both
directions under a mixed load. Two clients take turns toggling the LED while a third pings and
a fourth writes I2C registers and reads them back. What a user would notice is asserted: no
false action (a toggle that acted twice or not at all while acknowledged, an I2C write
acknowledged and not done, a replayed frame that acted), picod's mirror equal to the board's
real state afterwards, and the board back online and serving.

run_workload() is also the measurement of bench/line_faults_bench.py (1,000+ actuations)."""
import collections
import threading
import time

from harness import Client, RelayCase, wait_until
from relay import B2H, H2B, Faults, parse_frame
from proto_vectors import frame  # (on the path relay.py sets)
from test_exactly_once import judge_toggle, led_is_on

BOARD = "0e0e0e0e0e0e0e12"
BOARD_FAR = "0e0e0e0e0e0e0e13"
BME, CONFIG = 0x76, 0xF5  # the BME280's config register: written by nobody but the I2C client

# One fault kind at a time, at a given bit error rate r. Byte and frame faults are set so that
# each kind spoils about as many frames as bit flips at r do (a frame is ~15 bytes = 120 bits).
KINDS = {
    "ber": lambda r: Faults(ber=r),
    "drop": lambda r: Faults(drop=8 * r),
    "garbage": lambda r: Faults(garbage=8 * r),
    "truncate": lambda r: Faults(truncate=120 * r),
    "replay": lambda r: Faults(replay=120 * r),
    "replay_old": lambda r: Faults(replay=120 * r, replay_depth=200, replay_min_age=40),
    "mixed": lambda r: Faults(ber=r, drop=r, garbage=r, truncate=10 * r, replay=10 * r,
                              replay_depth=200),
}


def board_led(sim):
    return led_is_on(sim)


def run_workload(sock, sim, board, toggles, toggle_every=0.02, i2c_every=0.05, ping_every=0.1,
                 min_i2c_writes=3):
    """Clients A and B take turns toggling the LED `toggles` times, one every toggle_every
    seconds (one toggle at a time, the board's LED read before and after each), while client P pings the board and client I
    writes the BME280 config register with a new value and reads it back (at least
    min_i2c_writes times, the toggles done or not). Returns a Counter:
      toggles, acked, failed, error_<code>, safe_state (host watchdog took the LED: not judged)
      false_twice      acked toggle after which the LED is unchanged (ran twice or not at all)
      false_lied       acked toggle whose answer is not the LED as it is
      false_spontaneous the LED changed between two toggles (nobody asked: a replay acted)
      i2c_writes, i2c_acked, i2c_failed, i2c_checked, false_i2c (an acked write not read back
      as written: not done, or undone by a replayed older write), pings_ok, pings_failed."""
    res = collections.Counter()
    stop = threading.Event()

    def pinger():
        c = Client(sock, timeout=30)
        try:
            while not stop.is_set():
                r = c.call("ping", board=board)
                res["pings_ok" if r["ok"] else "pings_failed"] += 1
                stop.wait(ping_every)
        finally:
            c.close()

    def i2c_writer():
        c = Client(sock, timeout=30)
        v = 0
        try:
            while not stop.is_set():
                v = (v + 1) & 0xFC  # config: t_sb, filter; bits 1..0 are left 0
                v = v or 4
                res["i2c_writes"] += 1
                r = c.call("i2c", board=board, op="write", addr=BME, data=f"{CONFIG:02x} {v:02x}")
                if not r["ok"]:
                    res["i2c_failed"] += 1
                    stop.wait(i2c_every)
                    continue
                res["i2c_acked"] += 1
                r = c.call("i2c", board=board, op="write_read", addr=BME, data=f"{CONFIG:02x}",
                           len=1)
                if r["ok"]:
                    res["i2c_checked"] += 1
                    if int(r["result"]["data"], 16) != v:
                        res["false_i2c"] += 1
                        res[f"false_i2c@{time.monotonic():.3f}:wrote={v},read="
                            f"{r['result']['data']}"] += 1
                stop.wait(i2c_every)
        finally:
            c.close()

    threads = [threading.Thread(target=f, daemon=True) for f in (pinger, i2c_writer)]
    clients = [Client(sock, timeout=30), Client(sock, timeout=30)]
    for t in threads:
        t.start()
    try:
        known = board_led(sim)
        for i in range(toggles):
            before = board_led(sim)
            if before != known:
                res["false_spontaneous"] += 1
                res[f"false_spontaneous@{time.monotonic():.3f}"] += 1
            r = clients[i % 2].call("led", board=board, mode="toggle")
            after = known = board_led(sim)
            verdict = judge_toggle(res, r, before, after)
            if verdict in ("twice", "lied"):
                res["false_" + verdict] += 1
                res[f"false_{verdict}@{time.monotonic():.3f}"] += 1
            time.sleep(toggle_every)  # a pace, not a synchronisation: lets the others interleave
        # At least min_i2c_writes I2C writes, whatever the toggles took: under valgrind 20
        # toggles were over while the first write (lost to a fault) was still timing out.
        wait_until(lambda: res["i2c_writes"] >= min_i2c_writes, 30,
                   f"{min_i2c_writes} I2C writes")
    finally:
        stop.set()
        for t in threads:
            t.join(30)
        for c in clients:
            c.close()
    res["false_actions"] = (res["false_twice"] + res["false_lied"] + res["false_spontaneous"]
                            + res["false_i2c"])
    return res


def mirror_matches(sock, sim, board, since):
    """picod's mirror of the LED, refreshed after `since` (monotonic), equals the board's."""
    c = Client(sock)
    try:
        r = c.call("status", board=board)
    finally:
        c.close()
    b = r["result"]["boards"][0]
    if b["state"] != "online" or time.monotonic() - b["mirror_age_ms"] / 1000 < since:
        return False
    return b["led"]["on"] == board_led(sim)


class LineFaultsCase(RelayCase):
    """picod <-> relay <-> picosim, picod with its default timings but faster heartbeats."""

    seed = 12

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.start_relayed(BOARD, cls.seed, ["--request-timeout-ms", "500"])

    def setUp(self):
        self.wait_state(BOARD, "online")
        c = Client(self.picod.socket)
        try:
            self.assertTrue(c.call("led", board=BOARD, mode="off")["ok"])
            # Old frames to replay: more than the board's window (32) and replay_min_age (40).
            while len(self.relay.frames(H2B)) < 60:
                self.assertTrue(c.call("ping", board=BOARD)["ok"])
        finally:
            c.close()

    def run_kind(self, kind, rate, toggles):
        faults = KINDS[kind](rate)
        for d in (H2B, B2H):
            self.relay.set_faults(d, faults)
        try:
            res = run_workload(self.picod.socket, self.sim, BOARD, toggles)
        finally:
            for d in (H2B, B2H):
                self.relay.set_faults(d, None)
        quiet = time.monotonic()
        self.assertEqual(res["toggles"], toggles)
        self.assertGreater(res["acked"], toggles // 2, res)
        self.assertGreater(res["i2c_acked"], 0, res)
        self.assertEqual(res["false_actions"], 0, f"{kind}: false actions: {res}")
        wait_until(lambda: mirror_matches(self.picod.socket, self.sim, BOARD, quiet), 10,
                   "picod's LED mirror refreshed and equal to the board's LED")
        return res


class TestLineFaults(LineFaultsCase):
    """Each fault kind, both directions, at 1e-3 (CI length: 20 toggles each)."""

    def test_bit_flips(self):
        self.run_kind("ber", 1e-3, 20)

    def test_dropped_bytes(self):
        self.run_kind("drop", 1e-3, 20)

    def test_garbage_bursts(self):
        self.run_kind("garbage", 1e-3, 20)

    def test_truncated_frames(self):
        self.run_kind("truncate", 1e-3, 20)

    def test_replayed_recent_frames(self):
        self.run_kind("replay", 1e-3, 20)

    def test_replayed_frames_older_than_the_window(self):
        self.run_kind("replay_old", 1e-3, 20)

    def test_mixed(self):
        self.run_kind("mixed", 1e-3, 20)


HELLO, SET_LED, PING, HELLO_ACK, ERROR = 0x01, 0x05, 0x02, 0x81, 0xFF


class TestReplays(LineFaultsCase):
    """One old frame replayed, at a chosen moment. Before the fix the board executed a request
    replayed from beyond its 32-seq window again, and picod took a replayed HELLO_ACK for a
    board reset."""

    def last_seq(self, msg_type=None):
        return [f[2] for f in self.relay.frames(H2B) if msg_type in (None, f[1])][-1]

    def replay_h2b(self, c, pred, what):
        """Have the relay send the newest earlier frame to the board matching pred again,
        after the next frame (a ping c sends)."""
        sent = self.relay.replay(H2B, pred)
        self.assertTrue(c.call("ping", board=BOARD)["ok"])
        self.assertTrue(sent.wait(5), f"the relay did not replay the {what}")

    def test_toggle_replayed_after_the_window_does_not_act(self):
        c = Client(self.picod.socket)
        try:
            r = c.call("led", board=BOARD, mode="toggle")
            self.assertTrue(r["ok"] and r["result"]["led"]["on"], r)
            seq = self.last_seq(SET_LED)
            while (self.last_seq() - seq) & 0xFFFF < 40:  # the toggle leaves the window
                self.assertTrue(c.call("ping", board=BOARD)["ok"])
            self.replay_h2b(c, lambda t, s: t == SET_LED and s == seq, "toggle")
            # The board reads its line in order: this ping's answer comes after the replay.
            self.assertTrue(c.call("ping", board=BOARD)["ok"])
        finally:
            c.close()
        self.assertTrue(led_is_on(self.sim), "the replayed toggle acted: the LED is off again")
        quiet = time.monotonic()
        wait_until(lambda: mirror_matches(self.picod.socket, self.sim, BOARD, quiet), 10,
                   "picod's LED mirror equal to the board's LED")

    def test_toggle_replayed_after_a_replayed_hello_does_not_act(self):
        """Protocol 1.4: picod's HELLO replayed on the line is of the board's session, so it
        empties nothing (from beyond the window, as here after setUp's pings, it is refused
        like any old request: stale_seq); a toggle replayed after it is still no new request. Before,
        the replayed HELLO emptied the window and restarted its seqs: the toggle acted."""
        c = Client(self.picod.socket)
        try:
            r = c.call("led", board=BOARD, mode="toggle")
            self.assertTrue(r["ok"] and r["result"]["led"]["on"], r)
            seq = self.last_seq(SET_LED)
            self.replay_h2b(c, lambda t, s: t == HELLO, "HELLO")
            self.replay_h2b(c, lambda t, s: t == SET_LED and s == seq, "toggle")
            # The board reads its line in order: this ping's answer comes after the replays.
            self.assertTrue(c.call("ping", board=BOARD)["ok"])
        finally:
            c.close()
        self.assertTrue(led_is_on(self.sim), "the replayed toggle acted: the LED is off again")
        self.assertEqual(self.board_state(BOARD), "online")

    def test_replayed_hello_ack_is_not_a_reset(self):
        def resets():
            return c.call("stats", board=BOARD)["result"]["boards"][0]["board_counters"]["resets"]

        c = Client(self.picod.socket)
        try:
            # Old enough that its uptime is a reset to picod (more than the slack for jitter
            # of 2 request timeouts + 250 ms past the HELLO_ACK it replays).
            wait_until(lambda: self.status(BOARD)[0]["uptime_ms"] > 3000, 10, "uptime 3 s")
            self.assertTrue(c.call("watch")["ok"])
            before = resets()
            sent = self.relay.replay(B2H, lambda t, s: t == HELLO_ACK)
            self.assertTrue(sent.wait(5), "the relay did not replay the HELLO_ACK")
            # picod reads its line in order: the answer to this ping comes after the replay.
            c.send_raw(b'{"cmd":"ping","board":"%s","id":"p"}\n' % BOARD.encode())
            seen = []
            while (m := c.recv(10)).get("id") != "p":
                seen.append(m.get("event"))
            self.assertTrue(m["ok"], m)
            self.assertNotIn("board_reset", seen)
            self.assertEqual(resets(), before)
        finally:
            c.close()
        self.assertEqual(self.board_state(BOARD), "online")


class TestFarAheadSeq(RelayCase):
    """A frame damaged on the line that still passes the CRC (about 1 in 65,536 damaged
    frames) and whose seq is far ahead of picod's: the board takes it for its newest request
    and drops picod's following ones as replays from beyond its window."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.start_relayed(BOARD_FAR, 13, ["--request-timeout-ms", "1000"])

    def test_board_back_at_once_after_a_frame_far_ahead(self):
        """Protocol 1.4: the board refuses picod's next request as old (ERROR stale_seq) and
        picod starts a new session at once (a new id: one of the old session would be refused
        as old too), without the board going offline; the refused request fails with
        stale_seq, not done. Before, the board dropped picod's requests unanswered until it
        was offline (8 heartbeats), and picod's HELLO of the same session never got through."""
        self.wait_state(BOARD_FAR, "online")
        w, c = Client(self.picod.socket), Client(self.picod.socket)
        try:
            self.assertTrue(w.call("watch")["ok"])
            resyncs = self.resyncs(c)

            def far_ahead(raw):
                _, seq = parse_frame(raw)
                return raw + b"\0" + frame(PING, (seq + 1000) & 0xFFFF, b"far")
            self.assertTrue(self.relay.fault_next(H2B, far_ahead).wait(5))
            answers = [c.call("ping", board=BOARD_FAR)]
            while not answers[-1]["ok"] and len(answers) < 3:
                answers.append(c.call("ping", board=BOARD_FAR))
            self.assertTrue(answers[-1]["ok"], answers)
            for r in answers[:-1]:
                self.assertEqual(r["error"]["code"], "stale_seq", r)
            self.assertEqual(self.resyncs(c), resyncs + 1)
            # Watchers heard no board_offline (events come in order: before this answer).
            w.send_raw(b'{"cmd":"ping","board":"%s","id":"p"}\n' % BOARD_FAR.encode())
            seen = []
            while (m := w.recv(10)).get("id") != "p":
                seen.append(m.get("event"))
            self.assertTrue(m["ok"], m)
            self.assertNotIn("board_offline", seen)
            # The board refused as old what picod had sent after the injected frame.
            refused = [f for f in self.relay.frames(B2H) if f[1] == ERROR]
            self.assertTrue(refused, "the board refused nothing")
        finally:
            c.close()
            w.close()

    def resyncs(self, c):
        r = c.call("stats", board=BOARD_FAR)
        return r["result"]["boards"][0]["board_counters"]["resyncs"]


if __name__ == "__main__":
    import unittest
    unittest.main()
