"""Exactly-once actuation (PROTOCOL.md, "Exactly once"): picod, a fault-injecting relay
(relay.py) and picosim. A toggle whose acknowledgement is lost and that picod retries after
other requests went through must toggle once, and the client must be told the LED as it is.

run_toggles() is also the measurement of bench/exactly_once_bench.py."""
import collections
import threading
import time

from harness import Client, RelayCase, wait_until
from relay import B2H, H2B, Faults

BOARD = "0e0e0e0e0e0e0e08"
BOARD_RESET = "0e0e0e0e0e0e0e09"
SET_LED, SET_LED_ACK, PING, PING_ACK, ERROR = 0x05, 0x85, 0x02, 0x82, 0xFF
# Long enough that client B's ping is answered before picod retries the toggle.
REQUEST_TIMEOUT_MS = 1000


def led_is_on(sim):
    """The board's truth: the LED pin as picosim's control socket reports it."""
    return sim.control("led") == "on"


def judge_toggle(res, r, before, after):
    """Count one toggle's answer r against the board's LED before and after it in the Counter
    res (toggles, failed, error_<code>, acked, safe_state). Returns "failed", "safe_state"
    (the host watchdog had taken the LED: not judged), "twice" (acked, LED unchanged: ran
    twice or not at all), "lied" (the answer is not the LED as it is) or "ok"."""
    res["toggles"] += 1
    if not r["ok"]:
        res["failed"] += 1
        res["error_" + r["error"]["code"]] += 1
        return "failed"
    res["acked"] += 1
    led = r["result"]["led"]
    if led.get("mode") == "auto":
        res["safe_state"] += 1
        return "safe_state"
    if after == before:
        return "twice"
    return "lied" if led["on"] != after else "ok"


def run_toggles(sock, sim, board, toggles, ping_interval=0.15, led_on=led_is_on):
    """One client toggles the LED `toggles` times, one at a time, while a second pings the
    board every ping_interval seconds. After each acknowledged toggle the LED is read from the
    board: a false action is an acknowledged toggle after which the LED is unchanged, or not
    what the acknowledgement said. Returns a Counter: toggles, acked, failed (and the error
    codes), false_actions, safe_state (the host watchdog had taken the LED: not counted),
    pings_ok, pings_failed."""
    res = collections.Counter()
    stop = threading.Event()
    pinger_client = Client(sock, timeout=30)

    def pinger():
        while not stop.is_set():
            r = pinger_client.call("ping", board=board)
            res["pings_ok" if r["ok"] else "pings_failed"] += 1
            stop.wait(ping_interval)

    t = threading.Thread(target=pinger, daemon=True)
    a = Client(sock, timeout=30)
    t.start()
    try:
        for _ in range(toggles):
            before = led_on(sim)
            r = a.call("led", board=board, mode="toggle")
            after = led_on(sim)
            verdict = judge_toggle(res, r, before, after)
            if verdict not in ("ok", "failed", "safe_state"):
                res["false_actions"] += 1
                res[f"false@{time.monotonic():.3f}:before={before},after={after},"
                    f"said={r['result']['led']['on']}"] += 1
    finally:
        stop.set()
        t.join(30)
        a.close()
        pinger_client.close()
    return res


class TestResetBeforeTheAnswer(RelayCase):
    """The board acts, then resets before its answer leaves; picod's retry reaches the new
    boot before picod has heard of the reset: its heartbeats are 20 s apart here and it does
    not poll (a poll's GET_STATE answer would tell it first: its uptime went back)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.start_relayed(BOARD_RESET, 9, ["--request-timeout-ms", "1000", "--heartbeat-ms",
                                           "20000", "--poll-ms", "3600000", "--host-timeout-ms",
                                           "60000"])

    def test_retry_reaching_the_new_boot_is_not_done(self):
        """Protocol 1.4: the new boot, which has had no HELLO, does not do the retried toggle
        (ERROR no_session); the client gets board_reset, watchers get board_reset, picod says
        HELLO again and the board serves. Before, the new boot toggled again and the client
        got ok."""
        self.wait_state(BOARD_RESET, "online")
        w, c = Client(self.picod.socket), Client(self.picod.socket)
        try:
            self.assertTrue(w.call("watch")["ok"])
            self.assertTrue(c.call("led", board=BOARD_RESET, mode="on")["ok"])
            dropped = self.relay.drop_next(B2H, SET_LED_ACK)
            c.send_raw(b'{"cmd":"led","board":"%s","mode":"toggle","id":"t"}\n'
                       % BOARD_RESET.encode())
            self.assertTrue(dropped.wait(5), "the relay never saw the toggle's acknowledgement")
            self.assertFalse(led_is_on(self.sim), "the toggle was not done")
            self.sim.control("reset")
            r = c.recv(10)
            while r.get("id") != "t":
                r = c.recv(10)
            self.assertFalse(r["ok"], f"the retry was done by the new boot: {r}")
            self.assertEqual(r["error"]["code"], "board_reset", r)
            self.assertIn("reset", r["error"]["message"])
            self.assertEqual(w.next_event("board_reset", 10)["board"], BOARD_RESET)
            self.wait_state(BOARD_RESET, "online")
            # The scenario did happen: the same seq went twice; the new boot refused it.
            sent = [f for f in self.relay.frames(H2B) if f[1] == SET_LED]
            seq = sent[-1][2]
            self.assertEqual(len([f for f in sent if f[2] == seq]), 2, sent[-3:])
            answers = [f[1] for f in self.relay.frames(B2H)
                       if f[2] == seq and f[1] in (SET_LED_ACK, ERROR)]
            self.assertEqual(answers, [SET_LED_ACK, ERROR], "the first boot's ack, the new one's refusal")
            # The new boot's LED is its own (the heartbeat): picod's mirror says so once the
            # GET_STATE after its HELLO is answered. And the board takes requests.
            wait_until(lambda: self.status(BOARD_RESET)[0]["led"]["mode"] == "auto", 5,
                       "picod's mirror: the new boot's LED mode")
            r = c.call("led", board=BOARD_RESET, mode="on")
            self.assertTrue(r["ok"], r)
            self.assertTrue(led_is_on(self.sim))
        finally:
            c.close()
            w.close()


class TestExactlyOnce(RelayCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.start_relayed(BOARD, 8, ["--request-timeout-ms", str(REQUEST_TIMEOUT_MS)])

    def setUp(self):
        self.wait_state(BOARD, "online")
        c = Client(self.picod.socket)
        try:
            self.assertTrue(c.call("led", board=BOARD, mode="off")["ok"])
        finally:
            c.close()
        self.assertFalse(led_is_on(self.sim))

    def test_lost_toggle_ack_retried_after_another_clients_request(self):
        a, b = Client(self.picod.socket), Client(self.picod.socket)
        try:
            dropped = self.relay.drop_next(B2H, SET_LED_ACK)
            a.send_raw(b'{"cmd":"led","board":"%s","mode":"toggle","id":"t"}\n' % BOARD.encode())
            self.assertTrue(dropped.wait(5), "the relay never saw the toggle's acknowledgement")
            t_dropped = time.monotonic()
            r = b.call("ping", board=BOARD)  # meanwhile, client B's request goes through
            self.assertTrue(r["ok"], r)
            r = a.recv(10)
            while r.get("id") != "t":
                r = a.recv(10)
        finally:
            a.close()
            b.close()
        self.assertTrue(r["ok"], r)
        self.assertTrue(r["result"]["led"]["on"], f"client A was told the wrong LED: {r}")
        self.assertTrue(led_is_on(self.sim), "the toggle acted twice: the LED is off")

        # The scenario did happen: the same SET_LED seq went to the board twice, and B's
        # ping was answered in between.
        sent = [f for f in self.relay.frames(H2B) if f[1] == SET_LED]
        seq = sent[-1][2]
        copies = [f[0] for f in sent if f[2] == seq]
        self.assertEqual(len(copies), 2, f"picod did not retry the toggle once: {sent[-3:]}")
        pongs = [f for f in self.relay.frames(B2H)
                 if f[1] == PING_ACK and t_dropped <= f[0] < copies[1]]
        self.assertTrue(pongs, "client B's ping was not answered before picod's retry")

    def test_random_line_faults_no_false_action(self):
        # A CI-length run of the measurement: errors both ways, 30 toggles, a second client.
        faults = Faults(ber=1e-3, drop=1e-4, garbage=1e-4)
        self.relay.set_faults(H2B, faults)
        self.relay.set_faults(B2H, faults)
        try:
            res = run_toggles(self.picod.socket, self.sim, BOARD, 30)
        finally:
            self.relay.set_faults(H2B, None)
            self.relay.set_faults(B2H, None)
        self.assertEqual(res["toggles"], 30)
        self.assertGreater(res["acked"], 0, res)
        self.assertEqual(res["false_actions"], 0, f"acknowledged toggles that lied: {res}")
        wait_until(lambda: self.board_state(BOARD) == "online", 10, "board online again")


if __name__ == "__main__":
    import unittest
    unittest.main()
