"""Bad things from the board side: garbage on the line, a hung board, a reset, a vanished
tty. Each with the outcome a user would notice asserted."""
import json
import unittest

from harness import Client, Picod, PicodTestCase, picoctl, wait_until

BOARD = "fa17000000000001"


class TestBoardFaults(PicodTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sim = cls.start_sim("faulty", BOARD)
        cls.picod = Picod(cls.tmp, [cls.sim.pty]).start()

    def setUp(self):
        self.wait_state(BOARD, "online")

    def stats(self):
        r = picoctl(self.picod.socket, "--json", "stats", check=True)
        return json.loads(r.stdout)["boards"][0]

    def test_garbage_is_counted_and_board_stays_online(self):
        before = self.stats()["decoder"]
        bad = lambda d: d["crc_errors"] + d["cobs_errors"] + d["short_frames"] + d["oversize"]
        for _ in range(5):
            self.sim.control("garbage 2000")
        wait_until(lambda: bad(self.stats()["decoder"]) > bad(before), 10, "decoder errors")
        after = self.stats()
        self.assertGreaterEqual(after["decoder"]["bytes"], before["bytes"] + 10000)
        self.assertEqual(after["state"], "online")
        # Still fully usable: a request round trip works.
        picoctl(self.picod.socket, "ping", BOARD, check=True)
        self.assertEqual(self.board_state(BOARD), "online")

    def test_silent_board_goes_stale_then_offline_then_back(self):
        c = Client(self.picod.socket)
        try:
            self.assertTrue(c.call("watch")["ok"])
            self.sim.control("silent on")
            ev = c.next_event("board_stale", 10)
            self.assertEqual(ev["board"], BOARD)
            self.assertEqual(self.board_state(BOARD), "stale")
            ev = c.next_event("board_offline", 10)
            self.assertEqual(self.board_state(BOARD), "offline")
            r = picoctl(self.picod.socket, "led", BOARD, "on")
            self.assertEqual(r.returncode, 1)
            self.assertIn("board_offline", r.stderr)
            self.sim.control("silent off")
            ev = c.next_event("board_online", 10)
            self.assertEqual(ev["board"], BOARD)
        finally:
            c.close()
        self.wait_state(BOARD, "online")

    def test_reset_gives_new_hello_same_identity(self):
        hellos = self.stats()["board_counters"]["hellos"]
        resets = self.stats()["board_counters"]["resets"]
        self.sim.control("reset")
        wait_until(lambda: self.stats()["board_counters"]["hellos"] > hellos, 10, "new HELLO")
        st = self.status(BOARD)[0]
        self.assertEqual(st["board"], BOARD)
        self.assertEqual(st["reset_cause"], "software")
        self.assertGreater(self.stats()["board_counters"]["resets"], resets)
        self.wait_state(BOARD, "online")

    def test_sensor_nack_is_reported_not_fatal(self):
        def sensor_status():
            s = self.status(BOARD)[0]["sensors"]
            return s[0]["status"] if s else None

        self.sim.control("nack on")
        try:
            wait_until(lambda: sensor_status() == "i2c_nack_addr", 10, "nack in status")
            r = picoctl(self.picod.socket, "status", check=True)
            self.assertIn("i2c_nack_addr", r.stdout)
            self.assertEqual(self.board_state(BOARD), "online")
            r = picoctl(self.picod.socket, "i2c", BOARD, "read", "0x76", "1")
            self.assertEqual(r.returncode, 1)
            self.assertIn("i2c_nack_addr", r.stderr)
        finally:
            self.sim.control("nack off")
        wait_until(lambda: sensor_status() == "ok", 10, "sensor back")

    def test_request_timeout_is_an_error_not_a_hang(self):
        self.sim.control("silent on")
        try:
            r = picoctl(self.picod.socket, "ping", BOARD)
            self.assertEqual(r.returncode, 1)
            self.assertTrue("timeout" in r.stderr or "board_offline" in r.stderr, r.stderr)
        finally:
            self.sim.control("silent off")


class TestVanishingBoard(PicodTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sim = cls.start_sim("gone", "90e0000000000001")
        cls.picod = Picod(cls.tmp, [cls.sim.pty]).start()

    def test_board_process_dies_and_comes_back(self):
        self.wait_state("90e0000000000001", "online")
        self.sim.stop()
        self.wait_state("90e0000000000001", "offline")
        self.sim.start()
        self.wait_state("90e0000000000001", "online", 15)


if __name__ == "__main__":
    unittest.main()
