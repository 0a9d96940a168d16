"""picoctl as a person and a script meet it, against a real picod and picosim boards.

Human formats are compared with golden files (tests/integration/golden/, NO_COLOR, TZ=UTC)
after masking what changes from run to run (ages, round trips, the temp dir); --json output is
parsed and checked field by field. PICOD_GOLDEN_UPDATE=1 rewrites the golden files.
"""
import json
import os
import pty
import select
import re
import socket
import subprocess
import threading

from harness import PICOCTL, Client, Picod, PicodTestCase, wait_until

BENCH = "0123456789abcdef"
OTHER = "0123000000000002"
GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
COMMANDS = ("status", "list", "led", "button", "sensor", "i2c", "watch", "history", "ping",
            "stats", "poll", "reboot", "bootsel", "config", "metrics", "version")


def run(sock, *args, env=None, timeout=20):
    e = dict(os.environ, NO_COLOR="1", TZ="UTC")
    e.update(env or {})
    return subprocess.run([PICOCTL, "--socket", sock] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=timeout, env=e)


class GoldenMixin:
    def assert_golden(self, name, text):
        path = os.path.join(GOLDEN, name)
        if os.environ.get("PICOD_GOLDEN_UPDATE"):
            with open(path, "w") as f:
                f.write(text)
        with open(path) as f:
            self.assertEqual(text, f.read(), f"{name} differs from the golden file")


def mask_times(text):
    """Ages, durations and round trips: the parts of the human output that move."""
    text = re.sub(r"\b\d+\.\d+s\b|\b\d+m\d\ds\b", "<dur>", text)
    text = re.sub(r"time=\d+\.\d+ ms", "time=<rtt> ms", text)
    text = re.sub(r"time \d+ms", "time <t>ms", text)
    text = re.sub(r"= [\d.]+/[\d.]+/[\d.]+/[\d.]+ ms", "= <min>/<avg>/<max>/<mdev> ms", text)
    return text


class TestPicoctl(GoldenMixin, PicodTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.bench = cls.start_sim("bench", BENCH)
        cls.other = cls.start_sim("other", OTHER)
        cls.conf = os.path.join(cls.tmp, "picod.conf")
        with open(cls.conf, "w") as f:
            f.write(f"[board bench]\nid = {BENCH}\npoll-ms = 400\nsensors = 0, 1\n")
        cls.picod = Picod(cls.tmp, [cls.bench.pty, cls.other.pty],
                          extra=["--config", cls.conf]).start()

    def setUp(self):
        self.wait_state(BENCH, "online")
        self.wait_state(OTHER, "online")

    def ctl(self, *args, **kw):
        return run(self.picod.socket, *args, **kw)

    def ok(self, *args, **kw):
        r = self.ctl(*args, **kw)
        self.assertEqual(r.returncode, 0, f"picoctl {args}: {r.stderr}")
        return r

    def mask(self, text):
        return mask_times(text).replace(self.tmp, "<tmp>")

    def readings(self, board):
        return {s["sensor"]: s for s in self.status(board)[0]["sensors"]}

    def set_values(self):
        self.bench.control("set temp 21.5")
        self.bench.control("set humidity 40.007")
        self.bench.control("set sht-temp 22.25")
        self.bench.control("set sht-humidity 55.5")
        wait_until(lambda: self.readings(BENCH).get(1, {}).get("humidity_pct") == 55.5
                   and self.readings(BENCH)[0].get("temp_c") == 21.5, 10, "values in status")

    # ---- options and exit codes ----------------------------------------------------------

    def test_global_options_anywhere_and_double_dash(self):
        for argv in (["--json", "status", "bench"], ["status", "--json", "bench"],
                     ["status", "bench", "--json"], ["status", "bench", "-j"]):
            b = json.loads(self.ok(*argv).stdout)["boards"]
            self.assertEqual([x["board"] for x in b], [BENCH], argv)
        r = self.ok("--timeout=3000", "list", "--no-color")
        self.assertIn(BENCH, r.stdout)
        # After "--" an option-looking word is an argument: here a board that does not exist.
        r = self.ctl("status", "--", "--json")
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("no board matches '--json'", r.stderr)

    def test_board_selection_by_id_prefix_name_and_path(self):
        for sel in (BENCH, BENCH[:6].upper(), "bench", self.bench.pty):
            r = self.ok("--json", "status", sel)
            self.assertEqual(json.loads(r.stdout)["boards"][0]["board"], BENCH, sel)
        r = self.ctl("led", "0123", "on")
        self.assertEqual(r.returncode, 4)
        self.assertIn("ambiguous", r.stderr)
        self.assertIn(f"{BENCH} (bench, {self.bench.pty})", r.stderr)
        self.assertIn(f"{OTHER} ({self.other.pty})", r.stderr)
        r = self.ctl("--json", "led", "ffff", "on")
        self.assertEqual(r.returncode, 4)
        err = json.loads(r.stdout)
        self.assertEqual(err["ok"], False)
        self.assertEqual(err["error"]["code"], "unknown_board")
        self.assertIn(BENCH, err["error"]["message"])
        self.assertIn(err["error"]["message"], r.stderr)

    def test_exit_codes_usage_unreachable_timeout_failed(self):
        r = self.ctl("--json", "led", "bench", "purple")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(json.loads(r.stdout)["error"]["code"], "usage")
        self.assertEqual(self.ctl("frobnicate").returncode, 2)
        self.assertEqual(self.ctl("status", "--wat").returncode, 2)
        r = run(os.path.join(self.tmp, "nope.sock"), "--json", "status")
        self.assertEqual(r.returncode, 3)
        self.assertEqual(json.loads(r.stdout)["error"]["code"], "unreachable")
        self.assertIn("nope.sock", r.stderr)
        # A picod that accepts but never answers: picoctl gives up after --timeout.
        path = os.path.join(self.tmp, "mute.sock")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(4)
        try:
            r = run(path, "--json", "-t", "300", "version")
        finally:
            srv.close()
        self.assertEqual(r.returncode, 6, r.stderr)
        self.assertEqual(json.loads(r.stdout)["error"]["code"], "timeout")
        # picod answers an error: exit 1, its code and message.
        r = self.ctl("--json", "i2c", "bench", "read", "0x10", "1")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(json.loads(r.stdout)["error"]["code"], "i2c_nack_addr")
        self.assertIn("i2c_nack_addr", r.stderr)

    def test_board_timeout_is_exit_6(self):
        self.other.control("silent on")
        try:
            r = self.ctl("--json", "ping", OTHER)
            human = self.ctl("ping", OTHER)
        finally:
            self.other.control("silent off")
        self.assertIn(f"no reply from {OTHER}: seq=1: ping: ", human.stdout)
        self.assertIn("1 requests, 0 replies, 100% loss", human.stdout)
        self.assertIn(human.returncode, (1, 6), "timeout, or board_offline once it went quiet")
        self.assertEqual(r.returncode, 6, r.stderr)
        j = json.loads(r.stdout)
        self.assertEqual((j["transmitted"], j["received"]), (1, 0))
        self.assertEqual(j["error"]["code"], "timeout")
        self.assertIn("timeout", r.stderr)

    def test_help_on_every_command_with_examples(self):
        r = self.ok("--help")
        for cmd in COMMANDS + ("help",):
            self.assertRegex(r.stdout, rf"\n  {cmd}( |\n)")
        self.assertIn("4 board not found or ambiguous, 5 denied, 6 timeout", r.stdout)
        for cmd in COMMANDS:
            for argv in ([cmd, "--help"], ["help", cmd], [cmd, "-h"]):
                r = self.ok(*argv)
                self.assertTrue(r.stdout.startswith(f"usage: picoctl {cmd}"), r.stdout)
                self.assertIn("Examples:\n  picoctl ", r.stdout)

    def test_colour_only_on_a_terminal_and_never_with_no_color(self):
        def on_pty(*args, env=None):
            master, slave = pty.openpty()
            e = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
            e.update(env or {})
            p = subprocess.Popen([PICOCTL, "--socket", self.picod.socket] + list(args),
                                 stdout=slave, stderr=subprocess.DEVNULL, env=e)
            os.close(slave)
            out = b""
            while True:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            p.wait(10)
            os.close(master)
            return out.decode()
        self.assertIn("\x1b[32monline\x1b[0m", on_pty("list"))
        self.assertNotIn("\x1b", on_pty("list", env={"NO_COLOR": "1"}))
        self.assertNotIn("\x1b", on_pty("list", "--no-color"))
        self.assertNotIn("\x1b", run(self.picod.socket, "list", env={"NO_COLOR": ""}).stdout)

    # ---- reading ---------------------------------------------------------------------------

    def test_json_reals_have_the_digits_they_have(self):
        self.set_values()
        c = Client(self.picod.socket)
        try:
            c.send_raw(b'{"cmd":"status","board":"bench","id":1}\n')
            raw = c.sock.recv(65536).decode()
        finally:
            c.close()
        self.assertIn('"humidity_pct":40.007', raw)
        self.assertIn('"humidity_pct":55.5', raw)
        self.assertNotRegex(raw, r"\d\.\d{10,}")
        # The answer (written from picod's per-board byte cache) is exactly a compact dump of
        # itself with the shortest reals: the cache and a fresh dump use the same flags.
        line = raw.split("\n")[0]
        self.assertEqual(line, json.dumps(json.loads(line), separators=(",", ":"),
                                          ensure_ascii=False))
        out = self.ok("--json", "status", "bench").stdout
        self.assertIn('"humidity_pct":40.007', out)
        self.assertNotRegex(out, r"\d\.\d{10,}")

    def test_status_shows_every_sensor_golden(self):
        self.set_values()
        self.ok("led", "bench", "off")
        wait_until(lambda: self.status(BENCH)[0]["led"] == {"on": False, "mode": "off"}, 10,
                   "led off in status")
        r = self.ok("status", "bench")
        text = re.sub(r"(  link       ).*", r"\1<link>", r.stdout)
        text = re.sub(r"\d+ press(es)? since boot", "<n> presses since boot", text)
        self.assert_golden("status_bench.txt", self.mask(text))
        link = next(line for line in r.stdout.splitlines() if line.startswith("  link"))
        self.assertRegex(link, r"last frame \S+ ago, \d+ frames in, 0 CRC / 0 COBS errors, "
                               r"\d+ timeouts, \d+ retries")
        r = self.ok("status")
        self.assertEqual(r.stdout.count("\n\n"), 1, "two boards, one block each")
        self.assertIn(f"{OTHER}  online for", r.stdout)
        b = json.loads(self.ok("--json", "status", "bench").stdout)["boards"][0]
        self.assertEqual(b["name"], "bench")
        self.assertEqual([(s["sensor"], s["kind"]) for s in b["sensors"]],
                         [(0, "bme280"), (1, "sht3x")])
        self.assertEqual(b["sensors"][1]["temp_c"], 22.25)

    def test_status_wide_has_a_trend_per_sensor(self):
        self.set_values()
        r = self.ok("status", "bench", "--wide")
        lines = r.stdout.splitlines()
        hdr = next(i for i, line in enumerate(lines) if line.lstrip().startswith("SENSOR"))
        self.assertTrue(lines[hdr].endswith("TREND"))
        for row in lines[hdr + 1:hdr + 3]:
            self.assertRegex(row, r"[▁▂▃▄▅▆▇█]+$")

    def test_list_golden(self):
        r = self.ok("list")
        self.assert_golden("list.txt", self.mask(r.stdout))
        b = json.loads(self.ok("--json", "list").stdout)["boards"]
        self.assertEqual({x["board"]: x["name"] for x in b}, {BENCH: "bench", OTHER: None})

    def test_sensor_current_and_history_chart(self):
        self.set_values()
        r = self.ok("sensor", "bench", "1")
        self.assertEqual(self.mask(r.stdout),
                         "SENSOR  KIND   ADDR  STATUS  TEMPERATURE  HUMIDITY  PRESSURE  AGE\n"
                         "     1  sht3x  0x44  ok      22.25 °C     55.5 %RH  -         <dur>\n")
        s = json.loads(self.ok("--json", "sensor", "bench", "1").stdout)
        self.assertEqual((s["board"], s["sensors"][0]["humidity_pct"]), (BENCH, 55.5))
        self.assertEqual(self.ctl("sensor", "bench", "5").returncode, 1)
        self.assertEqual(self.ctl("sensor", "bench", "0", "--history", "forever").returncode, 2)
        r = self.ok("sensor", "bench", "1", "--history", "10m")
        lines = r.stdout.splitlines()
        self.assertRegex(lines[0], r"^bench sensor 1 temperature, last 10m \(\d+ readings\)$")
        self.assertIn("bench sensor 1 humidity, last 10m", r.stdout)
        self.assertNotIn("pressure", r.stdout, "an SHT3x measures no pressure")
        chart = lines[1:13]
        self.assertRegex(chart[0], r"^\d+\.\d+ °C ┤")
        self.assertRegex(chart[10], r"^ +└─{60}$")
        self.assertRegex(chart[11], r"^ +\d\d:\d\d:\d\d +\d\d:\d\d:\d\d$")
        self.assertTrue(any(re.search("[\u2801-\u28ff]", row) for row in chart[:10]), r.stdout)
        h = json.loads(self.ok("--json", "sensor", "bench", "1", "--history", "10m").stdout)
        pts = h["history"][0]["points"]
        self.assertTrue(pts)
        self.assertTrue(all("humidity_pct" in p and "pressure_pa" not in p for p in pts), pts)

    def test_history_keeps_each_quantity_of_its_sensor(self):
        """A SHT3x reading (temperature, humidity) is held as that, not as a pressure."""
        self.set_values()
        wait_until(lambda: self.call("history", board=BENCH, sensor=1)["result"]["samples"] > 0,
                   10, "sht3x readings held")
        h = self.call("history", board=BENCH, sensor=1, max_points=5)["result"]
        for p in h["points"]:
            self.assertIn("humidity_pct", p)
            self.assertNotIn("pressure_pa", p)
        r = self.ok("history", "bench", "1", "--points", "3")
        self.assertRegex(r.stdout.splitlines()[0], r"^board 0123456789abcdef sensor 1: \d+ "
                                                   r"readings in range")
        self.assertIn("TEMP_MIN", r.stdout)

    def test_i2c_grid_golden_and_json_list(self):
        r = self.ok("i2c", "bench", "scan")
        self.assert_golden("i2c_scan.txt", r.stdout)
        j = json.loads(self.ok("--json", "i2c", "bench", "scan").stdout)
        self.assertEqual(sorted(j["addresses"]), [0x44, 0x76])
        self.assertEqual(self.ok("i2c", "bench", "xfer", "0x76", "d0", "1").stdout, "60\n")
        self.assertEqual(self.ctl("i2c", "bench", "write", "0x76", "zz").returncode, 2)

    def test_ping_summary_golden(self):
        r = self.ok("ping", "bench", "-c", "3", "-i", "50")
        self.assert_golden("ping_bench.txt", self.mask(r.stdout))
        j = json.loads(self.ok("ping", "-c", "2", "-i", "20", "--json").stdout)
        self.assertEqual((j["target"], j["transmitted"], j["received"], j["loss_pct"]),
                         ("picod", 2, 2, 0))
        self.assertLessEqual(j["rtt_ms"]["min"], j["rtt_ms"]["avg"])
        self.assertLessEqual(j["rtt_ms"]["avg"], j["rtt_ms"]["max"])

    def test_stats_tables(self):
        r = self.ok("stats", "bench")
        lines = r.stdout.splitlines()
        self.assertTrue(lines[0].startswith(f"{BENCH}  online  picosim"), r.stdout)
        self.assertRegex(r.stdout, r"\nboard says +uptime_ms +\d+\n")
        self.assertRegex(r.stdout, r"\npicod link +rx_bytes +\d+\n")
        self.assertRegex(r.stdout, r"\nclock: ")
        hdr = next(i for i, line in enumerate(lines) if line.startswith("TASK"))
        self.assertEqual(lines[hdr].split(), ["TASK", "NAME", "STATE", "RUNS", "TOTAL_US",
                                              "MAX_US", "MAX_LATE_US", "STACK_HWM"])
        self.assertEqual(lines[-1].split()[1:3], ["idle", "idle"])
        r = self.ok("stats")
        self.assertRegex(r.stdout, r"\npicod +version +\S+\n|^picod +version")
        row = next(line for line in r.stdout.splitlines() if line.startswith("bench "))
        self.assertEqual(row.split()[1], "online")

    def test_config_shows_what_picod_applies(self):
        r = self.ok("config")
        self.assertIn(f"config file: {self.conf}", r.stdout)
        self.assertIn("\n[picod]\n", r.stdout)
        self.assertIn("\nheartbeat-ms = 200\n", r.stdout)
        self.assertNotIn("allow-usb", r.stdout, "an empty list is left out, as in a config file")
        self.assertIn(f"\n[board bench]\nid = {BENCH}\npoll-ms = 400\nheartbeat-ms = 200\n"
                      "sensors = 0, 1\n", r.stdout)
        j = json.loads(self.ok("--json", "config").stdout)
        self.assertEqual(j["path"], self.conf)
        self.assertEqual(j["picod"]["poll-ms"], 300)
        self.assertEqual(j["picod"]["socket"], self.picod.socket)
        self.assertEqual(sorted(j["picod"]["device"]), sorted([self.bench.pty, self.other.pty]))
        self.assertEqual(j["boards"], [{"name": "bench", "id": BENCH, "poll-ms": 400,
                                        "heartbeat-ms": 200, "sensors": [0, 1]}])

    def test_metrics_and_version(self):
        self.assertTrue(self.ok("metrics").stdout.rstrip().endswith("# EOF"))
        v = json.loads(self.ok("version", "--json").stdout)
        self.assertEqual(v["name"], "picod")
        self.assertRegex(self.ok("version").stdout, r"^picoctl \S+\npicod \S+ \(protocol 1\.")

    # ---- events and actions ----------------------------------------------------------------

    def test_button_and_watch_with_filters(self):
        # A full id needs no board picod knows (picod filters by it as given).
        w = subprocess.Popen([PICOCTL, "--socket", self.picod.socket, "watch", "--board",
                              "bench", "--board", "FFFFFFFFFFFFFFFF", "--events", "button"],
                             stdout=subprocess.PIPE, text=True, env=dict(os.environ, TZ="UTC"))
        lines = []
        try:
            # Click both boards until the watch (registered some time after it started)
            # shows a press of bench; then its release follows. other's never show.
            for _ in range(50):
                self.other.control("click")
                self.bench.control("click")
                r, _, _ = select.select([w.stdout], [], [], 0.2)
                if r:
                    break
            while not any(" kind=release " in line for line in lines[1:]):
                r, _, _ = select.select([w.stdout], [], [], 10)
                self.assertTrue(r, f"no more events after {lines}")
                line = w.stdout.readline()
                self.assertTrue(line, f"picoctl watch ended (exit {w.poll()}) after {lines}")
                lines.append(line.rstrip("\n"))
        finally:
            w.terminate()
            w.wait(5)
            w.stdout.close()
        for line in lines:
            self.assertRegex(line, r"^\d\d:\d\d:\d\d\.\d{3} bench button kind=(press|release) "
                                   r".* seq=\d+$")
        self.assertTrue(any(" kind=press " in line for line in lines), lines)
        r = self.ok("button", "bench")
        self.assertRegex(r.stdout, r"^0123456789abcdef: button up, \d+ press(es)? since boot\n")
        self.assertRegex(r.stdout, r"\n\d\d:\d\d:\d\d\.\d{3} bench button kind=press ")
        j = json.loads(self.ok("--json", "button", "bench").stdout)
        self.assertFalse(j["button"]["down"])
        self.assertTrue(j["recent"] and all(e["event"] == "button" and e["board"] == BENCH
                                            for e in j["recent"]), j)
        # --since replays what picod holds, as JSON lines.
        r = self.ok("--json", "watch", "--since", "0", "--count", "3")
        seqs = [json.loads(line)["seq"] for line in r.stdout.splitlines()]
        self.assertEqual(seqs, [1, 2, 3])
        r = self.ctl("--json", "watch", "--events", "nonsense", "--count", "1")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(json.loads(r.stdout)["error"]["code"], "invalid_argument")

    def test_led_poll_reboot_bootsel(self):
        self.assertEqual(self.ok("led", "bench", "on").stdout, f"{BENCH}: led on (mode on)\n")
        self.assertEqual(self.bench.control("led"), "on")
        self.ok("led", "bench", "auto")
        self.assertEqual(self.ok("poll", "bench", "all", "0").stdout,
                         f"{BENCH}: board polling of all sensors stopped\n")
        r = self.ctl("bootsel", "other")
        self.assertEqual(r.returncode, 4, "'other' is no board name")
        r = self.ctl("--json", "bootsel", OTHER)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(json.loads(r.stdout)["error"]["code"], "unsupported")
        self.assertEqual(self.ok("reboot", OTHER[:5] + "0").stdout,
                         f"{OTHER}: rebooting (normal)\n")
        self.wait_state(OTHER, "online")
