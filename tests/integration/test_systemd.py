"""systemd integration: the unit files verify and are hardened; picod works when socket-
activated (systemd-socket-activate passes the listening socket, picod sends READY=1)."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import harness
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

    def exposure(self, text=None):
        """systemd-analyze security's overall exposure of picod.service (as installed, or of
        text instead)."""
        path = os.path.join(self.tmp, "picod.service")
        if text is not None:
            path = os.path.join(self.tmp, "mutated", "picod.service")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
        r = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", path],
                           capture_output=True, text=True, timeout=60)
        m = re.search(r"Overall exposure level for picod.service: ([0-9.]+)", r.stdout)
        self.assertIsNotNone(m, r.stdout + r.stderr)
        return float(m.group(1)), r.stdout

    def test_security_exposure_is_low(self):
        score, out = self.exposure()
        self.assertLessEqual(score, 1.0, out)  # issue 12: 1.0 ("OK"), kept there by CI

    # Lines of the unit whose removal systemd-analyze does not score: the default anyway for a
    # system service (AmbientCapabilities= empty, KeyringMode=private), settings that say
    # "no" (PrivateNetwork, PrivateUsers: picod needs the netlink socket and real uids), and
    # SystemCallErrorNumber= (how a filtered call fails, not whether).
    UNSCORED = {"AmbientCapabilities=", "KeyringMode=private", "PrivateNetwork=no",
                "PrivateUsers=no", "SystemCallErrorNumber=EPERM"}

    def test_each_hardening_line_counts(self):
        """The check bites: without any one hardening line of the unit (its "# Hardening"
        block, DevicePolicy=, User=, UMask=) the exposure rises above 1.0."""
        with open(os.path.join(self.tmp, "picod.service")) as f:
            lines = f.read().splitlines()
        start = lines.index("# Hardening")
        block = [l for l in lines[start + 1:] if l and not l.startswith("#")]
        block = block[:next(i for i, l in enumerate(block) if l.startswith("MemoryMax="))]
        checked = [l for l in block if l not in self.UNSCORED]
        checked += [l for l in lines if l.split("=")[0] in ("DevicePolicy", "User", "UMask")]
        self.assertGreaterEqual(len(checked), 25, checked)
        for line in checked:
            score, out = self.exposure("\n".join(l for l in lines if l != line) + "\n")
            self.assertGreater(score, 1.0, f"without '{line}' the exposure is still {score}")


def unit_settings(name):
    """{key: [values]} of a unit file (comments and section headers skipped)."""
    out = {}
    with open(os.path.join(SYSTEMD_DIR, name)) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;[" or "=" not in line:
                continue
            k, v = line.split("=", 1)
            out.setdefault(k.strip(), []).append(v.strip())
    return out


class TestUnitContent(unittest.TestCase):
    """What can be checked here without booting systemd: the rules the units must keep."""

    def setUp(self):
        self.service = unit_settings("picod.service")
        self.socket = unit_settings("picod.socket")

    def test_runtime_directory_not_owned_by_the_service(self):
        # RuntimeDirectory= (without RuntimeDirectoryPreserve=yes) removes /run/picod, and
        # the socket unit's socket in it, on every stop and automatic restart.
        if "RuntimeDirectory" in self.service:
            self.assertEqual(self.service.get("RuntimeDirectoryPreserve"), ["yes"])
        sock_dir = os.path.dirname(self.socket["ListenStream"][0])
        with open(os.path.join(SYSTEMD_DIR, "picod.tmpfiles")) as f:
            entries = [l.split() for l in f if l.strip() and not l.startswith("#")]
        self.assertIn(["d", sock_dir, "0755", "picod", "picod", "-"], entries)

    def test_tmpfiles_and_sysusers_create_them(self):
        for tool in ("systemd-sysusers", "systemd-tmpfiles"):
            if not shutil.which(tool):
                self.skipTest(f"{tool} not installed")
        with tempfile.TemporaryDirectory() as root:
            os.makedirs(os.path.join(root, "etc"))
            for tool, name in (("systemd-sysusers", "picod.sysusers"),
                               ("systemd-tmpfiles", "picod.tmpfiles")):
                args = [tool, f"--root={root}"] + (["--create"] if "tmpfiles" in tool else [])
                r = subprocess.run(args + [os.path.join(SYSTEMD_DIR, name)],
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(r.returncode, 0, r.stderr)
            with open(os.path.join(root, "etc", "passwd")) as f:
                uid = [l.split(":")[2] for l in f if l.startswith("picod:")]
            with open(os.path.join(root, "etc", "group")) as f:
                gid = [l.split(":")[2] for l in f if l.startswith("picod:")]
            self.assertTrue(uid and gid, "sysusers made no picod user and group")
            st = os.stat(os.path.join(root, "run", "picod"))
            self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o777),
                             (int(uid[0]), int(gid[0]), 0o755))

    def test_devices_limited_to_cdc_acm_ttys(self):
        # The service's device cgroup: USB CDC-ACM ttys (char-ttyACM, major 166) and ptys for
        # tests, nothing else (not ttyUSB, ttyS or any block device); picod itself takes only
        # the ttys udev marks as ours (--udev; test_udev_rules, test_hotplug).
        self.assertEqual(self.service["DevicePolicy"], ["closed"])
        self.assertEqual(sorted(self.service["DeviceAllow"]),
                         ["/dev/ptmx rw", "char-pts rw", "char-ttyACM rw"])
        self.assertIn("--udev", self.service["ExecStart"][0].split())
        self.assertNotIn("--device", self.service["ExecStart"][0])

    def test_access_group_and_socket_mode(self):
        self.assertIn("--actuate-group picod", self.service["ExecStart"][0])
        self.assertEqual(self.socket["SocketMode"], ["0666"])  # everyone reads
        self.assertIn("ExecReload", self.service)  # systemctl reload: SIGHUP, not a kill

    def test_install_enables_the_service(self):
        self.assertEqual(self.service["WantedBy"], ["multi-user.target"])
        self.assertEqual(self.service["Also"], ["picod.socket"])
        with open(os.path.join(SYSTEMD_DIR, "..", "README.md")) as f:
            readme = f.read()
        self.assertRegex(readme, r"systemctl enable --now picod\.service")

    def test_limits_fit_memory_max(self):
        """picod's worst case under its default limits fits the unit's MemoryMax=."""
        if not PICOD:
            self.skipTest("PICOD not set")
        mem = self.service["MemoryMax"][0]
        self.assertTrue(mem.endswith("M"), mem)
        memory_max = int(mem[:-1]) * 1024 * 1024
        with tempfile.TemporaryDirectory() as tmp:
            p = Picod(tmp, [os.path.join(tmp, "none")])
            harness_fast = list(harness.FAST)
            harness.FAST[:] = []
            try:
                p.start()
                c = Client(p.socket)
                d = c.call("stats")["result"]["daemon"]
                lim, hist = d["limits"], d["history"]
                c.close()
            finally:
                harness.FAST[:] = harness_fast
                self.assertEqual(p.stop(), 0)
        per_client_in = 64 * 1024 + 16 * 1024  # a line being read + input held while paused
        base, boards = 8 << 20, 256 * 15 * 1024  # generous: 3.5 MB measured, 15 KB a board
        worst = base + boards + lim["max_clients"] * per_client_in + lim["out_budget"]
        # The history: ~400 bytes an event (slot and line), and the readings' budget.
        worst += hist["events_max"] * 400 + hist["readings"]["budget_bytes"]
        self.assertLessEqual(worst, memory_max, lim)
        self.assertGreaterEqual(lim["out_budget"], lim["client_out_max"])


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

        # The activator binds (the file appears) a moment before it listens: wait for a
        # connection to succeed, not for the file. That connection is what starts picod.
        def connect():
            try:
                return Client(sock, timeout=10)
            except (ConnectionRefusedError, FileNotFoundError):
                return None
        c = wait_until(connect, 10, "listening socket")
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
