"""Bad input from clients (each gets one error with the documented code, the connection and
other clients stay usable), slow watchers, no daemon, and clean shutdown."""
import os
import signal
import socket
import subprocess
import unittest

from harness import PICOCTL, Client, Picod, PicodTestCase, wait_until


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

    def test_reader_that_never_reads_is_dropped_alone(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(self.picod.socket)
        s.setblocking(False)
        req = b'{"cmd":"status"}\n' * 2000
        sent = 0
        try:
            while sent < 200 * len(req):
                try:
                    sent += s.send(req)
                except BlockingIOError:
                    break
                except (BrokenPipeError, ConnectionResetError):
                    break  # already dropped: what stats says below
            st = wait_until(lambda: self.other.call("stats")["result"]["daemon"]["dropped_slow"],
                            10, "slow client dropped")
            self.assertGreaterEqual(st, 1)
        finally:
            s.close()
        self.assertTrue(self.other.call("version")["ok"])


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
