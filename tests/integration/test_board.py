"""A live simulated board as a user sees it through picoctl and the socket API."""
import json
import re
import subprocess
import unittest

from harness import PICOCTL, Client, Picod, PicodTestCase, picoctl, wait_until

BOARD = "0123456789abcdef"


class TestLiveBoard(PicodTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sim = cls.start_sim("board0", BOARD)
        cls.picod = Picod(cls.tmp, [cls.sim.pty]).start()

    def setUp(self):
        self.wait_state(BOARD, "online")

    def sensor_value(self, key):
        for s in self.status(BOARD)[0]["sensors"]:
            if key in s:
                return s[key]
        return None

    def test_stats_show_how_late_picods_own_timers_run(self):
        def timing():
            c = Client(self.picod.socket)
            try:
                return c.call("stats")["result"]["boards"][0]["timing"]
            finally:
                c.close()
        first = timing()
        # Heartbeats every 200 ms, polls every 300 ms (harness FAST): both keep being measured.
        wait_until(lambda: timing()["heartbeat_jitter_us"]["samples"] >=
                   first["heartbeat_jitter_us"]["samples"] + 3, 10, "heartbeat intervals")
        t = timing()
        for key in ("heartbeat_jitter_us", "poll_jitter_us"):
            j = t[key]
            self.assertGreater(j["samples"], 0, key)
            self.assertLessEqual(j["last"], j["max"], key)
            self.assertLessEqual(j["mean"], j["max"], key)
            # Lateness, not drift: well under one period even on a loaded machine.
            self.assertLess(j["mean"], 200000, key)

    def test_status_table_shows_live_board_with_sensors(self):
        self.sim.control("set temp 21.5")
        wait_until(lambda: self.sensor_value("temp_c") == 21.5, 10, "temp 21.5 in status")
        r = picoctl(self.picod.socket, "status", check=True)
        lines = r.stdout.splitlines()
        self.assertTrue(lines[0].startswith(BOARD + "  online for "), r.stdout)
        hdr = next(i for i, line in enumerate(lines) if line.lstrip().startswith("SENSOR"))
        self.assertIn("TEMPERATURE", lines[hdr])
        row = lines[hdr + 1]
        self.assertIn("21.50 °C", row)
        self.assertIn(" hPa ", row)
        self.assertIn(" %RH ", row)

    def test_status_json_and_list(self):
        r = picoctl(self.picod.socket, "--json", "status", BOARD[:6], check=True)
        b = json.loads(r.stdout)["boards"][0]
        self.assertEqual(b["board"], BOARD)
        self.assertEqual(b["device"], self.sim.pty)
        self.assertEqual(b["platform"], "picosim")
        self.assertIn(b["led"]["mode"], ("auto", "on", "off", "blink", "toggle"))
        r = picoctl(self.picod.socket, "list", check=True)
        self.assertIn(BOARD, r.stdout)
        self.assertIn(self.sim.pty, r.stdout)

    def test_led_on_off_toggle_seen_by_the_board(self):
        picoctl(self.picod.socket, "led", BOARD, "on", check=True)
        self.assertEqual(self.sim.control("led"), "on")
        r = picoctl(self.picod.socket, "led", BOARD[:4], "off", check=True)
        self.assertIn("led off", r.stdout)
        self.assertEqual(self.sim.control("led"), "off")
        picoctl(self.picod.socket, "led", self.sim.pty, "toggle", check=True)
        self.assertEqual(self.sim.control("led"), "on")
        picoctl(self.picod.socket, "led", BOARD, "toggle", check=True)
        self.assertEqual(self.sim.control("led"), "off")
        r = picoctl(self.picod.socket, "--json", "status", BOARD, check=True)
        led = json.loads(r.stdout)["boards"][0]["led"]
        self.assertEqual((led["on"], led["mode"]), (False, "off"))
        picoctl(self.picod.socket, "led", BOARD, "blink", "200", "30", check=True)
        picoctl(self.picod.socket, "led", BOARD, "auto", check=True)

    def test_click_shows_up_in_watch(self):
        w = subprocess.Popen([PICOCTL, "--socket", self.picod.socket, "--json", "watch",
                              "--count", "200"], stdout=subprocess.PIPE, text=True)
        try:
            # Wait for the watch to be registered: its first event is a periodic sensor one.
            first = json.loads(w.stdout.readline())
            self.assertEqual(first["board"], BOARD)
            self.sim.control("click")
            kinds = []
            while "release" not in kinds:
                ev = json.loads(w.stdout.readline())
                self.assertIsInstance(ev["rev"], int)
                if ev["event"] == "button":
                    self.assertEqual(ev["board"], BOARD)
                    kinds.append(ev["kind"])
            self.assertEqual(kinds[:1], ["press"])
        finally:
            w.terminate()
            w.wait(5)

    def test_watch_count_exits_after_n_events(self):
        r = picoctl(self.picod.socket, "watch", "--count", "2", timeout=20, check=True)
        self.assertEqual(len(r.stdout.splitlines()), 2, r.stdout)
        # Local time, then the board (it has no name here), then the event.
        self.assertTrue(all(re.match(r"\d\d:\d\d:\d\d\.\d{3} " + BOARD + " ", line)
                            for line in r.stdout.splitlines()), r.stdout)

    def test_rev_increases_per_board(self):
        c = Client(self.picod.socket)
        try:
            self.assertTrue(c.call("watch")["ok"])
            a = c.next_event()
            b = c.next_event()
            self.assertGreater(b["rev"], a["rev"])
        finally:
            c.close()

    def test_status_follows_the_board_and_its_ages_keep_counting(self):
        """status/list are written from bytes cached per rev: a change of the board shows at
        once, and the ages/uptime (filled in per answer, docs/API.md) still count up."""
        c = Client(self.picod.socket)
        try:
            for mode in ("on", "off", "on"):
                self.assertTrue(c.call("led", board=BOARD, mode=mode)["ok"])
                wait_until(lambda: c.call("status", board=BOARD)["result"]["boards"][0]["led"]
                           == {"on": mode == "on", "mode": mode}, 10, f"led {mode} in status")
            self.sim.control("set temp 17.25")
            wait_until(lambda: any(s.get("temp_c") == 17.25 for s in
                                   c.call("status")["result"]["boards"][0]["sensors"]),
                       10, "temp 17.25 in status")
            first = c.call("status", board=BOARD)["result"]["boards"][0]
            later = {}

            def aged():
                later.update(c.call("status", board=BOARD)["result"]["boards"][0])
                return later["state_age_ms"] >= first["state_age_ms"] + 150

            wait_until(aged, 10, "state_age_ms counting up")
            # uptime_ms is re-based on each heartbeat answer (the board's uptime when it
            # answered + the age of the answer), so it moves by that answer's transit jitter
            # (3 ms seen under load) besides counting up: 50 ms of slack, not a tight bound.
            self.assertGreaterEqual(later["uptime_ms"], first["uptime_ms"] + 150 - 50)
            self.assertGreaterEqual(later["rev"], first["rev"])
            for b in (first, later):
                self.assertGreaterEqual(b["last_rx_age_ms"], 0)
                self.assertGreaterEqual(b["mirror_age_ms"], 0)
                for s in b["sensors"]:
                    # Readings come every poll (300 ms here): a reading's age is its own, not
                    # the age of a cached answer.
                    self.assertTrue(0 <= s["age_ms"] < 5000, s)
            # Any JSON id comes back as sent, in list and status alike.
            for rid in ("x\u00e9\"", {"a": [1, None]}, 2**40):
                c.send_raw(json.dumps({"cmd": "list", "id": rid}).encode() + b"\n")
                msg = c.recv()
                while "event" in msg:
                    msg = c.recv()
                self.assertEqual(msg["id"], rid)
                self.assertEqual(msg["result"]["boards"][0]["board"], BOARD)
        finally:
            c.close()

    def test_i2c_scan_and_read_chip_id(self):
        r = picoctl(self.picod.socket, "i2c", BOARD, "scan", check=True)
        self.assertIn("70: -- -- -- -- -- -- 76 --", r.stdout.splitlines())  # i2cdetect's grid
        # BME280 chip id register 0xD0 reads 0x60.
        r = picoctl(self.picod.socket, "i2c", BOARD, "xfer", "0x76", "d0", "1", check=True)
        self.assertEqual(r.stdout.strip(), "60")
        # A plain write (the harmless "no reset" value to the reset register) is acked.
        r = picoctl(self.picod.socket, "i2c", BOARD, "write", "0x76", "e0", "00", check=True)
        self.assertEqual(r.stdout.strip(), "ok")
        r = picoctl(self.picod.socket, "i2c", BOARD, "read", "0x10", "1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("i2c_nack_addr", r.stderr)

    def test_i2c_read_of_exactly_the_128_byte_maximum(self):
        """128 bytes (PROTO_I2C_MAX_DATA) go through picoctl, picod, the protocol and the
        firmware whole; 129 are refused before anything is sent to the board."""
        # From the chip id register on: 0xD0 reads 0x60 (the BME280 wraps at 0xFF).
        def dumped(out):  # picoctl's dump: "OFFSET: 16 bytes in hex" per line
            lines = out.strip().splitlines()
            for i, line in enumerate(lines):
                self.assertRegex(line, rf"^{i * 16:02x}: [0-9a-f]{{2}}( [0-9a-f]{{2}}){{0,15}}$")
            return "".join(line.split(":", 1)[1].replace(" ", "") for line in lines)

        r = picoctl(self.picod.socket, "i2c", BOARD, "xfer", "0x76", "d0", "128", check=True)
        data = dumped(r.stdout)
        self.assertEqual(len(data), 2 * 128, r.stdout)
        self.assertTrue(data.startswith("60"), data)
        # A plain read (from wherever picod's own polling left the register pointer).
        r = picoctl(self.picod.socket, "i2c", BOARD, "read", "0x76", "128", check=True)
        self.assertEqual(len(dumped(r.stdout)), 2 * 128, r.stdout)
        c = Client(self.picod.socket)
        try:
            for op, extra in (("read", {}), ("write_read", {"data": "d0"})):
                a = c.call("i2c", board=BOARD, op=op, addr=0x76, len=128, **extra)
                self.assertTrue(a["ok"], a)
                self.assertEqual((a["result"]["len"], len(a["result"]["data"])), (128, 256), a)
                if extra:
                    self.assertTrue(a["result"]["data"].startswith("60"), a)
                a = c.call("i2c", board=BOARD, op=op, addr=0x76, len=129, **extra)
                self.assertEqual(a["error"]["code"], "invalid_argument", a)
                self.assertIn("len", a["error"]["message"])
        finally:
            c.close()
        for args in (("read", "0x76", "129"), ("xfer", "0x76", "d0", "129")):
            r = picoctl(self.picod.socket, "i2c", BOARD, *args)
            self.assertEqual(r.returncode, 2, r)  # usage error: nothing was asked of picod
            self.assertIn("usage: picoctl i2c", r.stderr)

    def test_numbers_with_trailing_junk_are_usage_errors(self):
        # "100ms" is not 100: picoctl refuses it before asking picod anything, and the board's
        # poll period and LED are as they were.
        before = self.status(BOARD)[0]
        for args in (("poll", BOARD, "100ms"), ("poll", BOARD, "0x", "100"),
                     ("i2c", BOARD, "read", "0x76", "1x"), ("i2c", BOARD, "read", "76h", "1")):
            r = picoctl(self.picod.socket, *args)
            self.assertEqual(r.returncode, 2, (args, r))
            self.assertIn(f"usage: picoctl {args[0]}", r.stderr)
        after = self.status(BOARD)[0]
        # (The LED's mode, not whether it is lit: in "auto" it blinks the heartbeat, and on a
        # loaded machine the commands above took long enough for it to change.)
        self.assertEqual((after["led"]["mode"], after["state"]),
                         (before["led"]["mode"], before["state"]))

    def test_ping_stats_version(self):
        r = picoctl(self.picod.socket, "ping", BOARD, check=True)
        self.assertIn(f"reply from {BOARD}: seq=1 time=", r.stdout)
        self.assertIn("1 requests, 1 replies, 0% loss", r.stdout)
        r = picoctl(self.picod.socket, "ping", check=True)
        self.assertIn("reply from picod: seq=1", r.stdout)
        r = picoctl(self.picod.socket, "--json", "stats", BOARD, check=True)
        b = json.loads(r.stdout)["boards"][0]
        self.assertGreater(b["decoder"]["frames"], 0)
        self.assertIn("board_reported", b)
        r = picoctl(self.picod.socket, "version", check=True)
        self.assertIn("protocol 1.", r.stdout)

    def test_unknown_and_ambiguous_board(self):
        r = picoctl(self.picod.socket, "led", "ffff", "on")
        self.assertEqual(r.returncode, 4)
        self.assertIn("no board matches 'ffff'", r.stderr)
        self.assertIn(BOARD, r.stderr)  # the candidates
        r = picoctl(self.picod.socket, "status", "nope")
        self.assertEqual(r.returncode, 4)
        self.assertEqual(len(r.stderr.splitlines()), 1)

    def test_help_and_usage(self):
        r = picoctl(self.picod.socket, "led", "--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("usage: picoctl led", r.stdout)
        r = picoctl(self.picod.socket, "led", BOARD, "purple")
        self.assertEqual(r.returncode, 2)


class TestTwoBoards(PicodTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.a = cls.start_sim("a", "aaaa000000000001")
        cls.b = cls.start_sim("b", "aaaa000000000002")
        cls.picod = Picod(cls.tmp, [cls.a.pty, cls.b.pty]).start()

    def test_prefix_must_be_unique(self):
        self.wait_state("aaaa000000000001", "online")
        self.wait_state("aaaa000000000002", "online")
        r = picoctl(self.picod.socket, "led", "aaaa", "on")
        self.assertEqual(r.returncode, 4)
        self.assertIn("'aaaa' is ambiguous: it matches aaaa000000000001", r.stderr)
        picoctl(self.picod.socket, "led", "aaaa000000000002", "on", check=True)
        self.assertEqual(self.b.control("led"), "on")


if __name__ == "__main__":
    unittest.main()
