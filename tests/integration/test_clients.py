"""Bad input from clients (each gets one error with the documented code, the connection and
other clients stay usable), slow watchers, no daemon, and clean shutdown."""
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest

from harness import (PICOCTL, Client, Picod, PicodTestCase, cleanup_after_failed_setup,
                     wait_until)


class TestClientInput(PicodTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # No board needed: the socket API itself is under test.
        cls.picod = Picod(cls.tmp, [os.path.join(cls.tmp, "no-such-tty")],
                          extra=["--client-out-max", "65536"]).start()

    def setUp(self):
        self.c = Client(self.picod.socket)
        self.other = Client(self.picod.socket)

    def tearDown(self):
        self.c.close()
        self.other.close()

    def expect_error(self, raw, code):
        self.c.send_raw(raw)
        r = self.c.recv()
        self.assertIsNotNone(r, "connection closed")
        self.assertIs(r["ok"], False, r)
        self.assertEqual(r["error"]["code"], code, r)
        self.assertTrue(r["error"]["message"])
        # Exactly one answer, and the connection still serves requests.
        self.assertTrue(self.c.call("version")["ok"])
        self.assertTrue(self.other.call("list")["ok"])
        return r

    def test_malformed_json(self):
        self.expect_error(b'{"cmd": "status",\n', "parse_error")
        self.expect_error(b"\xff\xfe garbage \x00 bytes\n", "parse_error")

    def test_not_an_object(self):
        self.expect_error(b"[1, 2, 3]\n", "invalid_request")
        self.expect_error(b'"status"\n', "invalid_request")

    def test_unknown_command(self):
        r = self.expect_error(b'{"cmd": "reboot_the_moon", "id": 7}\n', "unknown_command")
        self.assertEqual(r["id"], 7)

    def test_missing_and_ill_typed_fields(self):
        self.expect_error(b'{"id": 1}\n', "missing_argument")
        self.expect_error(b'{"cmd": 42}\n', "invalid_argument")
        self.expect_error(b'{"cmd": "led", "mode": "on"}\n', "missing_argument")
        self.expect_error(b'{"cmd": "led", "board": 5, "mode": "on"}\n', "invalid_argument")
        self.expect_error(b'{"cmd": "led", "board": "zz", "mode": "on"}\n', "unknown_board")
        self.expect_error(b'{"cmd": "watch", "enable": "yes"}\n', "invalid_argument")

    def test_one_mib_line(self):
        big = b'{"cmd":"' + b"x" * (1024 * 1024) + b'"}\n'
        self.c.send_raw(big[: len(big) // 2])
        self.assertTrue(self.other.call("version")["ok"])  # others unaffected meanwhile
        self.c.send_raw(big[len(big) // 2:])
        r = self.c.recv()
        self.assertEqual(r["error"]["code"], "line_too_long")
        self.assertTrue(self.c.call("version")["ok"])  # exactly one error, then usable

    def test_id_is_echoed_any_type(self):
        for rid in ("abc", 12, [1, 2], {"k": None}, None):
            self.c.send_raw(b'{"cmd":"version","id":' +
                            __import__("json").dumps(rid).encode() + b"}\n")
            r = self.c.recv()
            self.assertEqual(r["id"], rid)

    def test_client_that_never_reads_is_paused_and_loses_nothing(self):
        """Requests pipelined without reading the answers: picod stops reading from that
        client while its output is backed up (flow control) instead of queueing without
        bound or dropping it; every request is answered once the client reads."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.picod.socket)
        n = 20000
        line = b'{"cmd":"status"}\n'
        sender = threading.Thread(target=s.sendall, args=(line * n,))
        sender.start()
        try:
            # picod pauses it (stats), and everyone else is served meanwhile.
            wait_until(lambda: self.other.call("stats")["result"]["daemon"]["paused"], 10,
                       "the non-reading client paused")
            d = self.other.call("stats")["result"]["daemon"]
            self.assertEqual(d["dropped_slow"], 0, d)
            self.assertLessEqual(d["out_bytes"], 65536 + 4096, d)
            self.assertTrue(sender.is_alive(), "picod read everything: nothing was paused")
            # Now read: exactly n answers, in order, nothing lost.
            f = s.makefile("rb")
            s.settimeout(30)
            for i in range(n):
                r = json.loads(f.readline())
                self.assertTrue(r["ok"], (i, r))
            sender.join(30)
            self.assertFalse(sender.is_alive())
        finally:
            s.close()
        self.assertTrue(self.other.call("version")["ok"])


class TestHalfClose(PicodTestCase):
    """A client that sends its requests and shuts down its write side (printf | socat,
    nc -N) gets every answer, board requests included, and then EOF."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.sim = cls.start_sim("hc", "00000000000000c5")
            cls.picod = Picod(cls.tmp, [cls.sim.pty]).start()
            wait_until(lambda: cls.board_is_online(), 15, "board online")
        except BaseException:
            cleanup_after_failed_setup(cls)
            raise

    @classmethod
    def board_is_online(cls):
        c = Client(cls.picod.socket)
        try:
            b = c.call("list")["result"]["boards"]
        finally:
            c.close()
        return b and b[0]["state"] == "online"

    def half_closed_exchange(self, payload):
        """Send payload, shut down our side, read until picod closes. Returns the answers."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(self.picod.socket)
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = s.recv(65536)  # a timeout here fails the test: picod never closed
            if not chunk:
                break
            data += chunk
        s.close()
        return [json.loads(l) for l in data.splitlines()]

    def test_board_request_answered_after_shutdown(self):
        answers = self.half_closed_exchange(
            b'{"cmd":"led","board":"00000000000000c5","mode":"on","id":1}\n')
        self.assertEqual(len(answers), 1, answers)
        self.assertTrue(answers[0]["ok"], answers)
        self.assertEqual(answers[0]["result"]["led"]["on"], True)

    def test_every_request_before_eof_answered(self):
        reqs = b"".join(json.dumps(r).encode() + b"\n" for r in [
            {"cmd": "version", "id": 1},
            {"cmd": "led", "board": "00000000000000c5", "mode": "toggle", "id": 2},
            {"cmd": "ping", "board": "00000000000000c5", "id": 3},
            {"cmd": "nonsense", "id": 4},
        ])
        # The last request has no newline: at EOF it is a request all the same.
        reqs += b'{"cmd":"stats","board":"00000000000000c5","id":5}'
        answers = self.half_closed_exchange(reqs)
        self.assertEqual(sorted(a["id"] for a in answers), [1, 2, 3, 4, 5], answers)
        by_id = {a["id"]: a for a in answers}
        self.assertTrue(all(by_id[i]["ok"] for i in (1, 2, 3, 5)), answers)
        self.assertEqual(by_id[4]["error"]["code"], "unknown_command")

    def test_socat_pipe(self):
        if not shutil.which("socat"):
            self.skipTest("socat not installed")
        r = subprocess.run(["socat", "-t", "10", "-", "UNIX-CONNECT:" + self.picod.socket],
                           input=b'{"cmd":"led","board":"00000000000000c5","mode":"off"}\n',
                           capture_output=True, timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)
        answers = [json.loads(l) for l in r.stdout.splitlines()]
        self.assertEqual(len(answers), 1, r.stdout)
        self.assertTrue(answers[0]["ok"], answers)
        self.assertEqual(answers[0]["result"]["led"]["on"], False)

    def test_half_closed_watcher_keeps_getting_events(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(self.picod.socket)
        s.sendall(b'{"cmd":"watch","id":1}\n')
        s.shutdown(socket.SHUT_WR)
        f = s.makefile("rb")
        self.assertTrue(json.loads(f.readline())["ok"])
        self.sim.control("press")
        deadline = time.monotonic() + 10
        try:
            while time.monotonic() < deadline:
                line = f.readline()
                self.assertTrue(line, "picod closed a half-closed watcher")
                if json.loads(line).get("event") == "button":
                    break
            else:
                self.fail("no button event")
        finally:
            self.sim.control("release")
            s.close()


class TestSocketOwnership(PicodTestCase):
    """A second picod on the same socket path refuses and leaves the first one serving; a
    stale socket file (its picod was killed) is replaced."""

    def test_second_picod_refuses_first_keeps_serving(self):
        first = Picod(self.tmp, [os.path.join(self.tmp, "none")], log=self.tmp + "/1.log").start()
        try:
            second = Picod(self.tmp, [os.path.join(self.tmp, "none")],
                           log=self.tmp + "/2.log").start(expect_ready=False)
            rc = second.proc.wait(10)
            second.stop()
            self.assertEqual(rc, 1, second.tail())
            self.assertIn("another process", second.tail())
            self.assertIn(first.socket, second.tail())
            c = Client(first.socket)
            self.assertTrue(c.call("version")["ok"])  # the first still answers
            c.close()
            self.assertTrue(os.path.exists(first.socket))
        finally:
            first.proc.kill()  # SIGKILL: the socket file is left behind, stale
            first.proc.wait()
            first.stop()
        self.assertTrue(os.path.exists(first.socket))
        third = Picod(self.tmp, [os.path.join(self.tmp, "none")], log=self.tmp + "/3.log").start()
        c = Client(third.socket)
        self.assertTrue(c.call("version")["ok"])
        c.close()
        self.assertEqual(third.stop(), 0)
        self.assertFalse(os.path.exists(third.socket))

    def test_not_a_socket_is_left_alone(self):
        path = os.path.join(self.tmp, "file.sock")
        with open(path, "w") as f:
            f.write("keep me")
        p = Picod(self.tmp, [os.path.join(self.tmp, "none")], log=self.tmp + "/4.log")
        p.socket = path
        p.start(expect_ready=False)
        self.assertEqual(p.proc.wait(10), 1)
        p.stop()
        with open(path) as f:
            self.assertEqual(f.read(), "keep me")


class TestSighup(PicodTestCase):
    """SIGHUP re-reads the --config file: picod keeps serving on the same socket, applies
    what can change at runtime, keeps the old settings when the file is invalid (and says
    which line), and still exits 0 on SIGTERM."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.conf = os.path.join(cls.tmp, "picod.conf")
        cls.write_conf("[picod]\nclient-requests-max = 8\n")
        cls.picod = Picod(cls.tmp, [os.path.join(cls.tmp, "none")],
                          extra=["--config", cls.conf]).start()

    @classmethod
    def write_conf(cls, text):
        with open(cls.conf, "w") as f:
            f.write(text)

    def limits(self):
        c = Client(self.picod.socket)
        try:
            return c.call("stats")["result"]["daemon"]["limits"]
        finally:
            c.close()

    def hup_and_wait_log(self, marker):
        self.picod.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: marker in self.picod.tail(), 10, f"'{marker}' in the log")
        self.assertIsNone(self.picod.proc.poll(), "picod died on SIGHUP")

    def test_reload_applies_and_invalid_file_keeps_old(self):
        ino = os.stat(self.picod.socket).st_ino
        watcher = Client(self.picod.socket)
        self.assertTrue(watcher.call("watch")["ok"])
        self.write_conf("[picod]\nclient_requests_max = 3\nmax-clients = 50\n"
                        "heartbeat-ms = 700\n")
        self.hup_and_wait_log("SIGHUP: re-read")
        lim = self.limits()
        self.assertEqual(lim["client_requests_max"], 3)
        self.assertEqual(lim["max_clients"], 50)
        # Timings apply at once now (issue 10): no "after a restart" for them.
        self.assertNotIn("heartbeat-ms changed", self.picod.tail())
        # An invalid file: the parser names the line, the settings stay.
        self.write_conf("[picod]\nclient-requests-max = 5\nmax-clients = lots\n")
        self.hup_and_wait_log("keeping the current settings")
        self.assertIn(f"{self.conf}:3: max-clients", self.picod.tail())
        self.assertEqual(self.limits()["client_requests_max"], 3)
        # Same socket, same connections.
        self.assertEqual(os.stat(self.picod.socket).st_ino, ino)
        self.assertTrue(watcher.call("version")["ok"])
        watcher.close()

    def test_reload_error_quoting_another_encoding(self):
        """A file in Latin-1 (a key with 'ä'): refused, and stats' config.last_error, which
        quotes the key, is valid JSON text (before, stats failed altogether: jansson makes no
        string of invalid UTF-8)."""
        with open(self.conf, "wb") as f:
            f.write(b"[picod]\nfarb\xe4 = rot\n")
        self.hup_and_wait_log("farb")
        r = Client(self.picod.socket).call("stats")
        self.assertTrue(r["ok"], r)
        self.assertIn("farb\ufffd", r["result"]["daemon"]["config"]["last_error"])
        self.write_conf("[picod]\nclient-requests-max = 3\n")


class TestSighupWithoutConfig(PicodTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.picod = Picod(cls.tmp, [os.path.join(cls.tmp, "none")]).start()

    def test_sighup_does_not_end_picod(self):
        c = Client(self.picod.socket)
        self.picod.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "SIGHUP" in self.picod.tail(), 10, "SIGHUP logged")
        self.assertIsNone(self.picod.proc.poll(), f"picod died: {self.picod.tail()}")
        self.assertTrue(c.call("version")["ok"])
        c.close()
        c = Client(self.picod.socket)  # and still accepts
        self.assertTrue(c.call("list")["ok"])
        c.close()
        self.assertEqual(self.picod.stop(), 0)  # SIGTERM after SIGHUP: exit 0
        self.__class__.picod = None


class TestPicoctlSocketPath(PicodTestCase):
    """picoctl: --socket, else $PICOD_SOCKET, else /run/picod/picod.sock; never its own
    $RUNTIME_DIRECTORY (that belongs to the service picoctl runs in)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.picod = Picod(cls.tmp, [os.path.join(cls.tmp, "none")]).start()

    def run_picoctl(self, args, **env):
        e = {k: v for k, v in os.environ.items()
             if k not in ("PICOD_SOCKET", "RUNTIME_DIRECTORY")}
        e.update(env)
        return subprocess.run([PICOCTL] + args, capture_output=True, text=True, timeout=10,
                              env=e)

    def test_runtime_directory_is_not_picods(self):
        # A picod is listening at $RUNTIME_DIRECTORY/picod.sock: picoctl must not use it.
        r = self.run_picoctl(["version"], RUNTIME_DIRECTORY=self.tmp)
        if os.path.exists("/run/picod/picod.sock"):
            self.assertNotIn(self.tmp, r.stdout + r.stderr)
        else:
            self.assertEqual(r.returncode, 3, r.stdout)
            self.assertIn("/run/picod/picod.sock", r.stderr)

    def test_env_then_option(self):
        r = self.run_picoctl(["version"], PICOD_SOCKET=self.picod.socket,
                             RUNTIME_DIRECTORY="/nonexistent")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_picoctl(["--socket", self.picod.socket, "version"],
                             PICOD_SOCKET="/nonexistent/x.sock")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_picoctl(["--socket", "/nonexistent/y.sock", "version"],
                             PICOD_SOCKET=self.picod.socket)
        self.assertEqual(r.returncode, 3)
        self.assertIn("/nonexistent/y.sock", r.stderr)


class TestSlowWatchers(PicodTestCase):
    """Watchers that never read, while boards stream readings: each is dropped when its own
    backlog passes --client-out-max, or (largest first) when all backlogs together pass
    --out-budget; a watcher that reads keeps getting every event."""

    BOARDS = 4

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.sims = [cls.start_sim(f"w{i}", "%016x" % (0xD0 + i)) for i in range(cls.BOARDS)]
            cls.picod = Picod(cls.tmp, [s.pty for s in cls.sims],
                              extra=["--client-out-max", "16384", "--out-budget", "65536",
                                     "--poll-ms", "50"]).start()
            c = Client(cls.picod.socket)
            wait_until(lambda: all(b["state"] == "online"
                                   for b in c.call("list")["result"]["boards"]), 20, "online")
            for sim in cls.sims:
                assert c.call("poll", board=sim.board_id, sensor="all", interval_ms=50)["ok"]
            c.close()
        except BaseException:
            cleanup_after_failed_setup(cls)
            raise

    def stuck_watcher(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(self.picod.socket)
        s.sendall(b'{"cmd":"watch"}\n')
        return s

    def daemon_stats(self, c):
        return c.call("stats")["result"]["daemon"]

    def test_stuck_watchers_dropped_reader_unaffected(self):
        reader = Client(self.picod.socket)
        self.assertTrue(reader.call("watch")["ok"])
        stats = Client(self.picod.socket)
        before = self.daemon_stats(stats)
        stuck = [self.stuck_watcher() for _ in range(8)]
        revs = {}
        deadline = time.monotonic() + 60

        def dropped():
            d = self.daemon_stats(stats)
            return (d["dropped_slow"] > before["dropped_slow"] and
                    d["dropped_budget"] > before["dropped_budget"] and
                    d["clients"] <= 2 + 1) and d

        # The reader reads all the while, on its own thread: never behind, whatever the time
        # the stats round trips below take (reading one event per stats call fell behind on a
        # loaded machine, and picod rightly let the backlog go).
        reading = threading.Event()
        reading.set()
        failures = []

        def read_all():
            try:
                while reading.is_set():
                    ev = reader.next_event("sensor")
                    # Per board, rev only goes up by the events and changes we saw: none lost.
                    revs[ev["board"]] = ev["rev"]
            except Exception as e:  # noqa: BLE001 - reported by the test below
                failures.append(e)

        t = threading.Thread(target=read_all)
        t.start()
        try:
            d = None
            while not d and time.monotonic() < deadline and not failures:
                d = dropped()
        finally:
            reading.clear()
            t.join(30)
        self.assertEqual(failures, [])
        self.assertTrue(d, f"stuck watchers not dropped in time: {self.daemon_stats(stats)}")
        # The budget held: never more than 64 KiB (+ one message) queued altogether.
        self.assertLessEqual(d["out_bytes_max"], 65536 + 4096, d)
        for s in stuck:
            s.close()
        self.assertTrue(reader.call("version")["ok"])
        self.assertEqual(len(revs), self.BOARDS)
        reader.close()
        stats.close()


class TestNotifySocketNotRead(PicodTestCase):
    """STATUS= updates never block picod: a notification socket nobody reads (here: after
    READY=1) fills after net.unix.max_dgram_qlen datagrams (10 by default), and a blocking
    sd_notify() would then stop the whole loop."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.picod = Picod(cls.tmp, [os.path.join(cls.tmp, "none")]).start()

    def test_many_status_changes_unread(self):
        held = []
        # The status line counts clients and is sent once a second when it changed: change
        # it every tick for longer than the queue holds, never reading the socket.
        for i in range(14):
            if i % 2 == 0:
                held.append(Client(self.picod.socket))
            else:
                held.pop().close()
            t = time.monotonic()
            while time.monotonic() - t < 1.05:
                c = Client(self.picod.socket, timeout=3)
                self.assertTrue(c.call("version")["ok"], "picod stopped answering")
                c.close()
                time.sleep(0.2)
        for c in held:
            c.close()


class TestClientLimit(PicodTestCase):
    """One client over --max-clients is told why before the close (code too_many_clients), the
    others are served on, and a freed place is taken again. --max-clients larger than the
    open-file limit allows is lowered with a warning, never left to fail in accept()."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.picod = Picod(cls.tmp, extra=["--max-clients", "3"]).start()

    def clients_now(self, c):
        return c.call("stats")["result"]["daemon"]["clients"]

    def test_refused_client_gets_a_reason(self):
        held = [Client(self.picod.socket) for _ in range(3)]
        try:
            wait_until(lambda: self.clients_now(held[0]) == 3, 5, "3 clients")
            extra = Client(self.picod.socket)
            r = extra.recv()
            self.assertEqual(r["error"]["code"], "too_many_clients", r)
            self.assertIn("3 clients at most", r["error"]["message"])
            self.assertIsNone(extra.recv())  # then EOF
            extra.close()
            self.assertTrue(held[1].call("version")["ok"])
            held.pop().close()
            wait_until(lambda: self.clients_now(held[0]) == 2, 5, "a place free")
            again = Client(self.picod.socket)
            self.assertTrue(again.call("version")["ok"])
            again.close()
        finally:
            for c in held:
                c.close()

    def test_watchers_gone_after_a_half_close_free_their_places(self):
        """A watcher that shut down its writing side (picod keeps it: it may still read
        events) and then closed altogether must not hold its place until the next event:
        on a quiet system such peers filled --max-clients for good (fuzzing found)."""
        probe = Client(self.picod.socket)
        watchers = []
        try:
            for _ in range(2):
                w = Client(self.picod.socket)
                watchers.append(w)
                self.assertTrue(w.call("watch")["ok"])
                w.sock.shutdown(socket.SHUT_WR)
            wait_until(lambda: probe.call("stats")["result"]["daemon"]["half_closed"] == 2, 5,
                       "both watchers half-closed in stats")
            for w in watchers:
                w.close()
            c = Client(self.picod.socket)  # the 4th peer: picod is full unless it noticed
            r = c.call("version")
            self.assertTrue(r["ok"], r)
            self.assertEqual(probe.call("stats")["result"]["daemon"]["half_closed"], 0)
            c.close()
        finally:
            for w in watchers:
                w.close()
            probe.close()

    def test_max_clients_fits_the_open_file_limit(self):
        other = Picod(os.path.join(self.tmp, "nofile"), extra=["--max-clients", "100000"])
        os.makedirs(other.workdir)
        # prlimit: a hard limit of 2048 descriptors, as a service might have.
        other.start(wrapper=["prlimit", "--nofile=1024:2048"])
        try:
            c = Client(other.socket)
            lim = c.call("stats")["result"]["daemon"]["limits"]
            c.close()
            self.assertEqual(lim["max_clients"], 2048 - (256 + 64))
            self.assertIn("does not fit the open-file limit 2048", other.tail())
        finally:
            self.assertEqual(other.stop(), 0)


class TestTenThousandClients(PicodTestCase):
    """10,000 watchers at once, under a service's default soft open-file limit of 1024 (picod
    raises it to the hard limit itself): every one is accepted and answered, one button press
    reaches all of them, the next connection over --max-clients is told why, and picod serves
    on after they all leave. (Memory and latency with 10,000 watchers are benchmarks:
    bench/watchers_bench.py.)"""

    N = 10000

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        need = cls.N + 200
        if hard != resource.RLIM_INFINITY and hard < need:
            raise AssertionError(f"this test needs {need} open files, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
        try:
            cls.sim = cls.start_sim("many", "10c0000000000001")
            cls.picod = Picod(cls.tmp, [cls.sim.pty],
                              ["--max-clients", str(cls.N + 1), "--poll-ms", "3600000"])
            cls.picod.start(wrapper=["prlimit", f"--nofile=1024:{cls.N + 1000}"])
        except BaseException:
            cleanup_after_failed_setup(cls)
            raise

    def test_ten_thousand_watchers(self):
        import selectors
        self.wait_state("10c0000000000001", "online")
        sel = selectors.DefaultSelector()
        socks, bufs = [], {}
        try:
            for _ in range(self.N):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.picod.socket)
                s.sendall(b'{"cmd":"watch","id":"w"}\n')
                s.setblocking(False)
                socks.append(s)
                bufs[s] = b""
                sel.register(s, selectors.EVENT_READ)

            def read_until(marker, what):
                waiting = set(socks)
                deadline = time.monotonic() + 60
                while waiting and time.monotonic() < deadline:
                    for key, _ in sel.select(1):
                        s = key.fileobj
                        data = s.recv(65536)
                        self.assertTrue(data, "picod closed a watcher")
                        bufs[s] += data
                        if marker in bufs[s]:
                            waiting.discard(s)
                self.assertEqual(len(waiting), 0, f"{len(waiting)} watchers without {what}")

            read_until(b'"watching":true', "the watch answer")
            over = Client(self.picod.socket)  # the 10,001st: still within --max-clients
            self.assertEqual(over.call("stats")["result"]["daemon"]["clients"], self.N + 1)
            refused = Client(self.picod.socket)
            self.assertEqual(refused.recv()["error"]["code"], "too_many_clients")
            refused.close()
            self.sim.control("click")
            read_until(b'"event":"button"', "the button event")
        finally:
            for s in socks:
                sel.unregister(s)
                s.close()
        wait_until(lambda: over.call("stats")["result"]["daemon"]["clients"] == 1, 30,
                   "the watchers gone")
        self.assertTrue(over.call("ping", board="10c0000000000001")["ok"])
        over.close()


class TestNoDaemon(unittest.TestCase):
    def test_picoctl_without_picod(self):
        if not PICOCTL:
            raise unittest.SkipTest("PICOCTL not set")
        path = "/nonexistent/picod-test.sock"
        r = subprocess.run([PICOCTL, "--socket", path, "status"], capture_output=True,
                           text=True, timeout=10)
        self.assertEqual(r.returncode, 3)
        self.assertIn(path, r.stderr)
        self.assertIn("picod", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1)
        env = dict(os.environ, PICOD_SOCKET=path)
        r = subprocess.run([PICOCTL, "list"], capture_output=True, text=True, timeout=10,
                           env=env)
        self.assertEqual(r.returncode, 3)
        self.assertIn(path, r.stderr)


class TestShutdown(PicodTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.picod = Picod(cls.tmp, [os.path.join(cls.tmp, "none")]).start()

    def test_sigterm_with_clients_connected_exits_zero(self):
        watcher = Client(self.picod.socket)
        self.assertTrue(watcher.call("watch")["ok"])
        idle = Client(self.picod.socket)
        idle.send_raw(b'{"cmd": "sta')  # half a request
        # systemd hears the state: a STATUS= line while serving, STOPPING=1 on SIGTERM.
        status = self.picod.wait_notify_prefix("STATUS=")
        self.assertIn("board(s)", status)
        self.picod.proc.send_signal(signal.SIGTERM)
        self.picod.wait_notify("STOPPING=1")
        self.assertEqual(self.picod.stop(), 0)
        self.assertIsNone(watcher.recv())  # connection closed, not hung
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "picod.sock")))
        self.__class__.picod = None
        watcher.close()
        idle.close()


if __name__ == "__main__":
    unittest.main()
