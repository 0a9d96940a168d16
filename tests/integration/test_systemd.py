"""systemd integration: the unit files verify and are hardened; picod works when socket-
activated (systemd-socket-activate passes the listening socket, picod sends READY=1)."""
import os
import re
import shutil
import subprocess
import unittest

from harness import PICOD, Client, Picod, PicodTestCase, wait_until

SYSTEMD_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "systemd")


class TestSystemdFiles(PicodTestCase):
    def setUp(self):
        if not shutil.which("systemd-analyze"):
            self.skipTest("systemd-analyze not installed")
        # verify insists ExecStart exists: point it at the binary under test.
        for name in ("picod.service", "picod.socket"):
            with open(os.path.join(SYSTEMD_DIR, name)) as f:
                text = f.read().replace("/usr/sbin/picod", PICOD)
            with open(os.path.join(self.tmp, name), "w") as f:
                f.write(text)

    def test_verify_is_clean(self):
        r = subprocess.run(["systemd-analyze", "verify", "--man=no",
                            os.path.join(self.tmp, "picod.socket"),
                            os.path.join(self.tmp, "picod.service")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("picod", r.stderr, r.stderr)

    def test_security_exposure_is_low(self):
        r = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager",
                            os.path.join(self.tmp, "picod.service")],
                           capture_output=True, text=True, timeout=60)
        m = re.search(r"Overall exposure level for picod.service: ([0-9.]+)", r.stdout)
        self.assertIsNotNone(m, r.stdout + r.stderr)
        self.assertLessEqual(float(m.group(1)), 2.0, r.stdout)


class TestSocketActivation(PicodTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not shutil.which("systemd-socket-activate"):
            raise unittest.SkipTest("systemd-socket-activate not installed")
        cls.picod = Picod(cls.tmp, [os.path.join(cls.tmp, "none")])
        # The activator passes on only the variables it is told to (-E).
        cls.picod.start(wrapper=["systemd-socket-activate", "-E", "NOTIFY_SOCKET", "-l",
                                 os.path.join(cls.tmp, "picod.sock")], expect_ready=False)

    def test_serves_the_passed_socket(self):
        sock = self.picod.socket
        wait_until(lambda: os.path.exists(sock), 10, "listening socket")
        c = Client(sock, timeout=10)  # this connection is what starts picod
        try:
            r = c.call("version")
            self.assertTrue(r["ok"])
            self.assertEqual(r["result"]["name"], "picod")
            self.picod.wait_notify("READY=1")
        finally:
            c.close()
        wait_until(lambda: "socket passed by systemd" in self.picod.tail(), 5, "log line")


if __name__ == "__main__":
    unittest.main()
