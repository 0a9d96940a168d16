"""The config file (docs/CONFIG.md): --check-config, board names, per-board timings, SIGHUP
reload (a broken file refused with file:line, old settings kept, nothing dropped), systemd's
RELOADING=1/READY=1 and WATCHDOG=1, and the OpenMetrics text of `metrics`.

Real picod + picosim processes; readiness is waited for through events and notifications."""
import json
import os
import re
import signal
import subprocess
import time
import unittest

from harness import (PICOD, Client, Picod, PicodTestCase, picoctl, wait_until)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ID_A = "a1a2a3a4a5a6a7a8"
ID_B = "b1b2b3b4b5b6b7b8"


def check_config(path):
    return subprocess.run([PICOD, "--check-config", path], capture_output=True, text=True,
                          timeout=30)


# One line of OpenMetrics text: name{labels} value (labels optional).
_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
                     r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*)\})? (-?[0-9.eE+-]+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"')


def parse_metrics(text):
    """{(name, frozenset(labels)): value}; asserts the exposition's shape."""
    assert text.endswith("# EOF\n"), text[-200:]
    samples, types = {}, {}
    for line in text.splitlines()[:-1]:
        if line.startswith("#"):
            parts = line.split(" ", 3)
            assert parts[1] in ("TYPE", "HELP", "UNIT"), line
            if parts[1] == "TYPE":
                assert parts[2] not in types, f"family {parts[2]} twice"
                types[parts[2]] = parts[3]
            continue
        m = _SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        name, labels, value = m.group(1), m.group(3) or "", float(m.group(4))
        family = name[:-len("_total")] if name.endswith("_total") else name
        assert family in types, f"{name} without # TYPE"
        if types[family] == "counter":
            assert name.endswith("_total"), f"counter sample {name} must end in _total"
        samples[(name, frozenset(_LABEL.findall(labels)))] = value
    return samples


def board_samples(samples, name, board_id):
    return [v for (n, labels), v in samples.items()
            if n == name and ("board", board_id) in labels]


class TestCheckConfig(unittest.TestCase):
    """picod --check-config FILE: exit 0 with "ok", or non-zero with FILE:LINE: reason."""

    @classmethod
    def setUpClass(cls):
        if not PICOD:
            raise unittest.SkipTest("PICOD not set (run through ctest)")
        import tempfile
        cls.tmp = tempfile.mkdtemp(prefix="picod-cfg-")

    @classmethod
    def tearDownClass(cls):
        import shutil
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def write(self, text):
        path = os.path.join(self.tmp, "picod.conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_good_file(self):
        path = self.write("; picod\n[picod]\npoll-ms = 1000\nsensors = 0, 1\n\n"
                          f"[board bench]\nid = {ID_A.upper()}\npoll-ms = 500\n"
                          "heartbeat-ms = 250\nsensors = none\n\n"
                          f"[board lab-2]\nid = {ID_B}\n")
        r = check_config(path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("ok (2 board name(s))", r.stdout)

    def test_bad_files_name_file_and_line(self):
        cases = [
            ("[picod]\npoll-ms = 1000\nheartbeat-ms = soon\n", 3, "heartbeat-ms"),
            (f"[board bench]\nid = {ID_A}\npoll-ms = 1\n", 3, "poll-ms"),
            ("[board bench]\nid = 1234\n", 2, "16 hex digits"),
            (f"[board bench]\nid = {ID_A}\n[board bench]\nid = {ID_B}\n", 4, "appears twice"),
            (f"[board a]\nid = {ID_A}\n[board b]\nid = {ID_A}\n", 4, "already named"),
            (f"[board 9lives]\nid = {ID_A}\n", 2, "board name"),
            (f"[board {ID_B}]\nid = {ID_A}\n", 2, "board name"),
            (f"[board bench]\nid = {ID_A}\ncolour = red\n", 3, "unknown key 'colour'"),
            ("[board bench]\npoll-ms = 500\n", 2, "has no id"),
            ("[picod]\nmax-clients = 5\n[extra]\nx = 1\n", 4, "unknown section"),
            ("[picod]\nmax-clients = 5\nthis line has no equals sign\n", 3, "syntax error"),
            ("[picod]\nwhatever = 1\n", 2, "unknown setting"),
            ("[picod]\nsensors = 9\n", 2, "sensors"),
        ]
        for text, line, what in cases:
            with self.subTest(text=text):
                path = self.write(text)
                r = check_config(path)
                self.assertNotEqual(r.returncode, 0, r.stdout)
                self.assertIn(f"{path}:{line}: ", r.stderr)
                self.assertIn(what, r.stderr)

    def test_text_that_is_not_utf8_is_refused(self):
        """Paths, serials and group names picod shows in JSON must be UTF-8: a Latin-1 file
        is refused at its line (before, picod took it, and list, status and stats failed for
        every board: jansson makes no string of invalid UTF-8); so is such a --device."""
        for text, line, what in [(b"[picod]\ndevice = /dev/ttyACM\xe4\n", 2, "device"),
                                 (b"[picod]\nallow-serial = E66\xff\n", 2, "allow-serial"),
                                 (b"[picod]\nactuate-group = gr\xfcn\n", 2, "actuate-group")]:
            with self.subTest(text=text):
                path = os.path.join(self.tmp, "latin1.conf")
                with open(path, "wb") as f:
                    f.write(text)
                r = check_config(path)
                self.assertNotEqual(r.returncode, 0, r.stdout)
                self.assertIn(f"{path}:{line}: {what}: not valid UTF-8", r.stderr)
        r = subprocess.run([PICOD, "--socket", os.path.join(self.tmp, "s.sock"), "--device",
                            b"/dev/ttyACM\xe4"], capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(b"device: not valid UTF-8", r.stderr)

    def test_cross_checks_and_missing_file(self):
        r = check_config(self.write("[picod]\nstale-misses = 9\noffline-misses = 5\n"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("offline-misses (5) must be larger than stale-misses (9)", r.stderr)
        r = check_config(os.path.join(self.tmp, "absent.conf"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("No such file", r.stderr)

    def test_example_file_documents_every_option_and_is_valid(self):
        example = os.path.join(REPO, "systemd", "picod.conf.example")
        with open(example) as f:
            text = f.read()
        self.assertEqual(check_config(example).returncode, 0)
        # Uncommented, every example line is valid too.
        active = re.sub(r"(?m)^; ?(\[|[a-z-]+ = )", r"\1", text)
        r = check_config(self.write(active))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("ok (2 board name(s))", r.stdout)
        helptext = subprocess.run([PICOD, "--help"], capture_output=True, text=True).stdout
        for opt in set(re.findall(r"--([a-z][a-z-]+)", helptext)) - {
                "help", "version", "config", "check-config", "verbose", "quiet"}:
            self.assertRegex(text, rf"(?m)^; {opt} = ", opt)
        self.assertRegex(text, r"(?m)^; log-level = ")

    def test_unit_watchdog_reload_and_config(self):
        with open(os.path.join(REPO, "systemd", "picod.service")) as f:
            unit = f.read()
        self.assertRegex(unit, r"(?m)^Type=notify$")
        self.assertRegex(unit, r"(?m)^WatchdogSec=\d+s$")
        self.assertRegex(unit, r"(?m)^ExecReload=/bin/kill -HUP \$MAINPID$")
        self.assertRegex(unit, r"(?m)^ExecStart=.* --config /etc/picod/picod\.conf$")

    def test_help_lists_every_option(self):
        r = subprocess.run([PICOD, "--help"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0)
        for opt in ("--config", "--check-config", "--sensors", "--heartbeat-ms", "--poll-ms",
                    "--max-clients", "--actuate-group", "--allow-usb"):
            self.assertIn(opt, r.stdout)


class ConfigCase(PicodTestCase):
    """picod over two picosim boards, A named in the config, B not."""

    CONF = ""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.sim_a = cls.start_sim("a", ID_A)
            cls.sim_b = cls.start_sim("b", ID_B)
            cls.conf = os.path.join(cls.tmp, "picod.conf")
            cls.write_conf(cls.CONF)
            cls.picod = Picod(cls.tmp, [cls.sim_a.pty, cls.sim_b.pty],
                              extra=["--config", cls.conf])
            cls.picod.start()
            for b in (ID_A, ID_B):
                cls.wait_online(b)
        except BaseException:
            # unittest skips tearDownClass when setUpClass fails: stop what started.
            if cls.picod and cls.picod.proc:
                cls.picod.stop()
            cls.picod = None
            for s in cls.sims:
                s.stop()
            cls.sims = []
            raise

    @classmethod
    def wait_online(cls, board):
        def online():
            try:
                c = Client(cls.picod.socket)
                r = c.call("status", board=board)
                c.close()
                return r["ok"] and r["result"]["boards"][0]["state"] == "online"
            except (AssertionError, OSError):
                return False
        wait_until(online, 15, f"{board} online")

    @classmethod
    def write_conf(cls, text):
        tmp = cls.conf + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, cls.conf)

    def daemon_config(self):
        return self.call("stats")["result"]["daemon"]["config"]

    def hup(self):
        """SIGHUP, and wait for the reload to finish (READY=1 after RELOADING=1)."""
        before = self.daemon_config()
        self.picod.proc.send_signal(signal.SIGHUP)
        msg = self.picod.wait_notify("RELOADING=1")
        self.assertRegex(msg, r"(?m)^MONOTONIC_USEC=\d+$")
        self.picod.wait_notify("READY=1")
        self.assertIsNone(self.picod.proc.poll(), "picod died on SIGHUP")
        after = self.daemon_config()
        self.assertEqual(after["reloads"] + after["reload_failures"],
                         before["reloads"] + before["reload_failures"] + 1)
        return after


class TestBoardNames(ConfigCase):
    CONF = f"[picod]\npoll-ms = 300\n\n[board bench]\nid = {ID_A}\npoll-ms = 60000\n"

    def test_list_and_status_carry_name(self):
        boards = {b["board"]: b for b in self.call("list")["result"]["boards"]}
        self.assertEqual(boards[ID_A]["name"], "bench")
        self.assertIsNone(boards[ID_B]["name"])
        st = self.call("status", board="bench")
        self.assertTrue(st["ok"], st)
        self.assertEqual(st["result"]["boards"][0]["board"], ID_A)
        self.assertEqual(st["result"]["boards"][0]["name"], "bench")
        r = self.call("status", board="nosuch")
        self.assertEqual(r["error"]["code"], "unknown_board")

    def test_name_as_board_argument_everywhere(self):
        self.assertTrue(self.call("ping", board="bench")["ok"])
        self.assertTrue(self.call("led", board="bench", mode="on")["ok"])
        self.assertEqual(self.sim_a.control("led"), "on")
        stats = self.call("stats", board="bench")
        self.assertTrue(stats["ok"], stats)
        self.assertEqual(stats["result"]["boards"][0]["name"], "bench")
        # picoctl passes the name through.
        r = picoctl(self.picod.socket, "--json", "status", "bench", check=True)
        self.assertEqual(json.loads(r.stdout)["boards"][0]["board"], ID_A)
        picoctl(self.picod.socket, "led", "bench", "off", check=True)
        self.assertEqual(self.sim_a.control("led"), "off")
        lines = picoctl(self.picod.socket, "list", check=True).stdout.splitlines()
        self.assertEqual(lines[0].split()[:2], ["BOARD", "NAME"])
        self.assertIn([ID_A, "bench"], [ln.split()[:2] for ln in lines[1:]])
        self.assertIn([ID_B, "-"], [ln.split()[:2] for ln in lines[1:]])

    def test_events_carry_name(self):
        c = Client(self.picod.socket)
        try:
            self.assertTrue(c.call("watch")["ok"])
            self.sim_a.control("click")
            ev = c.next_event("button")
            while ev["board"] != ID_A:
                ev = c.next_event("button")
            self.assertEqual(ev["name"], "bench")
            while True:  # B's periodic sensor events: unnamed
                ev = c.next_event("sensor")
                if ev["board"] == ID_B:
                    break
            self.assertIn("name", ev)
            self.assertIsNone(ev["name"])
        finally:
            c.close()

    def test_per_board_poll_interval(self):
        def board_ms(board):
            s = self.call("status", board=board)["result"]["boards"][0]["sensors"]
            return s[0]["board_ms"] if s else None

        # B polls every 300 ms: its reading's board time moves on several times...
        seen_b = set()
        seen_a = set()
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            seen_b.add(board_ms(ID_B))
            seen_a.add(board_ms("bench"))
            time.sleep(0.1)
        self.assertGreaterEqual(len(seen_b - {None}), 3, seen_b)
        # ... while A (poll-ms = 60000) kept the one reading taken when it came online.
        self.assertLessEqual(len(seen_a - {None}), 1, seen_a)


class TestReload(ConfigCase):
    CONF = (f"[picod]\npoll-ms = 300\nclient-requests-max = 8\n\n"
            f"[board bench]\nid = {ID_A}\npoll-ms = 60000\n")

    def test_reload_broken_then_good(self):
        watcher = Client(self.picod.socket)
        self.assertTrue(watcher.call("watch")["ok"])
        cfg0 = self.daemon_config()
        self.assertEqual(cfg0["path"], self.conf)
        self.assertIsNone(cfg0["last_error"])
        self.assertEqual(cfg0["names"], 1)
        # A broken file: refused, with file:line in the log and in stats.
        self.write_conf(f"[picod]\npoll-ms = 300\nclient-requests-max = 3\n"
                        f"[board bench]\nid = {ID_A}\npoll-ms = fast\n")
        cfg = self.hup()
        self.assertEqual(cfg["reload_failures"], 1)
        self.assertIn(f"{self.conf}:6: poll-ms", cfg["last_error"])
        self.assertIn(f"{self.conf}:6: poll-ms", self.picod.tail())
        self.assertEqual(cfg["loaded_unix_ms"], cfg0["loaded_unix_ms"])
        # Old settings kept: the name, the limits.
        self.assertEqual(self.call("stats")["result"]["daemon"]["limits"]["client_requests_max"],
                         8)
        self.assertTrue(self.call("status", board="bench")["ok"])
        # A good file: applied without dropping anyone. The board gets a new name and its
        # own poll interval (200 ms) instead of 60 s.
        self.write_conf(f"[picod]\npoll-ms = 300\nclient-requests-max = 3\n"
                        f"[board rig]\nid = {ID_A}\npoll-ms = 200\n")
        cfg = self.hup()
        self.assertEqual(cfg["reloads"], 1)
        self.assertIsNone(cfg["last_error"])
        self.assertGreaterEqual(cfg["loaded_unix_ms"], cfg0["loaded_unix_ms"])
        self.assertEqual(self.call("stats")["result"]["daemon"]["limits"]["client_requests_max"],
                         3)
        self.assertEqual(self.call("status", board="bench")["error"]["code"], "unknown_board")
        st = self.call("status", board="rig")["result"]["boards"][0]
        self.assertEqual(st["board"], ID_A)
        rev = st["rev"]  # events up to this one may predate the reload (still unread)
        # The new poll interval: A's sensor 0 is read again and again (three polls within
        # 5 s, where 60 s would have given none).
        polls = set()
        t0 = time.monotonic()
        while len(polls) < 3 and time.monotonic() < t0 + 5:
            ev = watcher.next_event("sensor", timeout=5)
            if ev["board"] == ID_A and ev["sensor"] == 0 and ev["rev"] > rev:
                self.assertEqual(ev["name"], "rig")
                polls.add(ev["board_ms"])
        self.assertEqual(len(polls), 3, polls)
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)  # two periods of 200 ms at least
        # Nothing dropped: the watcher's connection, the boards (no board_offline seen).
        self.assertTrue(watcher.call("version")["ok"])
        watcher.close()
        for b in self.call("list")["result"]["boards"]:
            self.assertEqual(b["state"], "online")
            self.assertEqual(b["rev"] > 0, True)
        stats = self.call("stats")["result"]
        for b in stats["boards"]:
            self.assertEqual(b["board_counters"]["offline_count"], 0)
            self.assertEqual(b["link"]["opens"], 1)


class TestWatchdog(PicodTestCase):
    """Under WatchdogSec= (WATCHDOG_USEC in the environment) picod pings at half of it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = dict(os.environ, WATCHDOG_USEC="400000")
        cls.picod = Picod(cls.tmp, [os.path.join(cls.tmp, "none")]).start(env=env)

    def test_watchdog_pings(self):
        t0 = time.monotonic()
        for _ in range(4):
            self.picod.wait_notify("WATCHDOG=1", timeout=5)
        # Four pings at 200 ms: about 0.8 s (not the 1 s status timer, not a busy loop).
        self.assertLess(time.monotonic() - t0, 3.0)


class TestMetrics(ConfigCase):
    CONF = f"[board bench]\nid = {ID_A}\n"

    def test_metrics_text(self):
        r = self.call("metrics")
        self.assertTrue(r["ok"], r)
        text = r["result"]["text"]
        s = parse_metrics(text)
        self.assertEqual(s[("picod_boards", frozenset())], 2)
        self.assertEqual(s[("picod_boards_online", frozenset())], 2)
        self.assertGreaterEqual(s[("picod_clients_accepted_total", frozenset())], 1)
        rx = board_samples(s, "picod_board_received_bytes_total", ID_A)
        self.assertEqual(len(rx), 1)
        self.assertGreater(rx[0], 0)
        labels = [lb for (n, lb) in s if n == "picod_board_up" and ("board", ID_A) in lb][0]
        self.assertIn(("name", "bench"), labels)
        self.assertIn(("device", self.sim_a.pty), labels)
        labels_b = [lb for (n, lb) in s if n == "picod_board_up" and ("board", ID_B) in lb][0]
        self.assertIn(("name", ""), labels_b)
        for name in ("picod_board_requests_sent_total", "picod_board_requests_timeouts_total",
                     "picod_board_crc_errors_total", "picod_board_resets_total",
                     "picod_board_rtt_seconds", "picod_board_last_frame_age_seconds"):
            self.assertEqual(len(board_samples(s, name, ID_B)), 1, name)
        # The board clock's error bound, once heartbeats synchronised it: positive, well under
        # a second on a local pty.
        def clock_err():
            m = parse_metrics(self.call("metrics")["result"]["text"])
            return board_samples(m, "picod_board_clock_error_seconds", ID_A)[0]
        err = wait_until(lambda: clock_err() > 0 and clock_err(), 10, "clock synchronised")
        self.assertLess(err, 0.1)
        # Counters count: more requests later.
        sent = board_samples(s, "picod_board_requests_sent_total", ID_A)[0]
        wait_until(lambda: board_samples(parse_metrics(self.call("metrics")["result"]["text"]),
                                         "picod_board_requests_sent_total", ID_A)[0] > sent,
                   10, "requests_sent to grow")

    def test_picoctl_metrics_prints_raw(self):
        r = picoctl(self.picod.socket, "metrics", check=True)
        s = parse_metrics(r.stdout)
        self.assertIn(("picod_uptime_seconds", frozenset()), s)


class TestMetricsLabels(PicodTestCase):
    """Label values are escaped as OpenMetrics says: a device path with a double quote, a
    backslash and a newline in it comes out as \\", \\\\ and \\n, the rest of it as it is."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dev = os.path.join(cls.tmp, 'tty "A"\\B\nC')
        cls.picod = Picod(cls.tmp, [cls.dev]).start()

    def test_device_label_escaped(self):
        text = Client(self.picod.socket).call("metrics")["result"]["text"]
        line = [ln for ln in text.splitlines() if ln.startswith("picod_board_up{")][0]
        want = self.dev.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        self.assertIn(f'device="{want}"}}', line)
        s = parse_metrics(text)
        self.assertIn(("device", want), [lb for (n, lb) in s if n == "picod_board_up"][0])


if __name__ == "__main__":
    unittest.main()
