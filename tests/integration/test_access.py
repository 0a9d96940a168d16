"""Access control: every connection's peer credentials (SO_PEERCRED, SO_PEERGROUPS) decide.
Reading for anyone who can connect; acting on a board (led, poll, i2c except scan, reboot)
for root, picod's own user and members of --actuate-group; `denied` says who and what would
allow it. Per-connection quota of outstanding board requests: `busy`.

Clients run as another uid for real (setpriv), the way a user's shell would: raw JSON lines
and picoctl."""
import grp
import json
import os
import shutil
import subprocess
import sys
import unittest

from harness import (PICOCTL, Client, Picod, PicodTestCase, cleanup_after_failed_setup,
                     wait_until)

BOARD = "00000000000000ac"
NOBODY = 65534

# Runs as the other uid: send each request line, print each answer line.
PEER = r"""
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
f = s.makefile("rwb")
for req in json.loads(sys.argv[2]):
    f.write(json.dumps(req).encode() + b"\n"); f.flush()
    while True:
        msg = json.loads(f.readline())
        if "event" not in msg:
            break
    print(json.dumps(msg))
"""


def other_group():
    """A group that exists here and is neither root's nor nobody's: the test's actuate group
    (no groupadd needed, nothing on the machine changes)."""
    for name in ("users", "staff", "plugdev", "dialout"):
        try:
            g = grp.getgrnam(name)
        except KeyError:
            continue
        if g.gr_gid not in (0, NOBODY):
            return g
    raise unittest.SkipTest("no suitable group in /etc/group")


class TestAccess(PicodTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            if os.geteuid() != 0 or not shutil.which("setpriv"):
                raise unittest.SkipTest("needs root and setpriv to run clients as another uid")
            cls.group = other_group()
            cls.sim = cls.start_sim("acc", BOARD)
            cls.picod = Picod(cls.tmp, [cls.sim.pty],
                              extra=["--actuate-group", cls.group.gr_name,
                                     "--client-requests-max", "2"]).start()
            # The other uid must be able to reach the socket: that is what decides who reads.
            os.chmod(cls.tmp, 0o755)
            os.chmod(cls.picod.socket, 0o666)
            c = Client(cls.picod.socket)
            wait_until(lambda: c.call("list")["result"]["boards"][0]["state"] == "online", 15,
                       "board online")
            c.close()
        except BaseException:
            cleanup_after_failed_setup(cls)
            raise

    def as_user(self, argv, groups=None, gid=NOBODY):
        g = ["--groups", ",".join(map(str, groups))] if groups else ["--clear-groups"]
        return subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={gid}"] + g + argv,
                              capture_output=True, text=True, timeout=30)

    def raw_as_user(self, requests, **kw):
        r = self.as_user([sys.executable, "-c", PEER, self.picod.socket, json.dumps(requests)],
                         **kw)
        self.assertEqual(r.returncode, 0, r.stderr)
        return [json.loads(l) for l in r.stdout.splitlines()]

    ACTS = [
        {"cmd": "led", "board": BOARD, "mode": "toggle"},
        {"cmd": "poll", "board": BOARD, "interval_ms": 0},
        {"cmd": "i2c", "board": BOARD, "op": "read", "addr": 0x76, "len": 1},
        {"cmd": "i2c", "board": BOARD, "op": "write", "addr": 0x76, "data": "d0"},
        {"cmd": "reboot", "board": BOARD, "mode": "bootsel"},
        # Every other form of each actuating command (docs/API.md): each mode, each i2c op.
        {"cmd": "led", "board": BOARD, "mode": "on"},
        {"cmd": "led", "board": BOARD, "mode": "blink", "period_ms": 200},
        {"cmd": "poll", "board": BOARD, "interval_ms": 1000},
        {"cmd": "i2c", "board": BOARD, "op": "write_read", "addr": 0x76, "data": "d0", "len": 1},
        {"cmd": "i2c", "board": BOARD, "addr": 0x76, "len": 1},  # no op: not a scan, so it acts
        {"cmd": "reboot", "board": BOARD},
    ]
    # The same through picoctl (its argument syntax, `picoctl CMD --help`).
    PICOCTL_ACTS = [
        ["led", BOARD, "on"], ["led", BOARD, "toggle"], ["poll", BOARD, "1000"],
        ["i2c", BOARD, "read", "0x76", "1"], ["i2c", BOARD, "write", "0x76", "e0", "00"],
        ["i2c", BOARD, "xfer", "0x76", "d0", "1"], ["reboot", BOARD], ["reboot", BOARD, "--bootsel"],
        ["bootsel", BOARD],
    ]
    READS = [
        {"cmd": "version"}, {"cmd": "list"}, {"cmd": "status"}, {"cmd": "stats"},
        {"cmd": "ping"}, {"cmd": "ping", "board": BOARD}, {"cmd": "stats", "board": BOARD},
        {"cmd": "i2c", "board": BOARD, "op": "scan"}, {"cmd": "watch"},
    ]

    def test_other_uid_reads_but_may_not_act(self):
        led_before = self.status(BOARD)[0]["led"]
        answers = self.raw_as_user(self.READS + self.ACTS)
        reads, acts = answers[:len(self.READS)], answers[len(self.READS):]
        for req, a in zip(self.READS, reads):
            self.assertTrue(a["ok"], (req, a))
        for req, a in zip(self.ACTS, acts):
            self.assertFalse(a["ok"], (req, a))
            self.assertEqual(a["error"]["code"], "denied", a)
            msg = a["error"]["message"]
            self.assertIn(f"uid {NOBODY}", msg)  # who was refused
            self.assertIn(req["cmd"], msg)
            self.assertIn(f"group '{self.group.gr_name}'", msg)  # what would allow it
        # Nothing acted: the LED is as it was, the board did not reboot.
        b = self.status(BOARD)[0]
        self.assertEqual(b["led"], led_before)
        self.assertEqual(b["state"], "online")

    def test_picoctl_as_other_uid(self):
        r = self.as_user([PICOCTL, "--socket", self.picod.socket, "status"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(BOARD, r.stdout)
        led_before = self.status(BOARD)[0]["led"]
        for argv in self.PICOCTL_ACTS:
            r = self.as_user([PICOCTL, "--socket", self.picod.socket] + argv)
            self.assertEqual(r.returncode, 5, (argv, r.stderr))  # picoctl's exit status for denied
            self.assertIn("denied", r.stderr, argv)
            self.assertIn(f"uid {NOBODY}", r.stderr, argv)
        b = self.status(BOARD)[0]
        self.assertEqual((b["led"], b["state"]), (led_before, "online"))

    def test_member_of_the_group_may_act(self):
        gid = self.group.gr_gid
        # A supplementary group (what `usermod -aG` gives after a new login) ...
        a = self.raw_as_user([self.ACTS[0]], groups=[gid])
        self.assertTrue(a[0]["ok"], a)
        # ... or the primary group.
        a = self.raw_as_user([{"cmd": "led", "board": BOARD, "mode": "off"}], gid=gid)
        self.assertTrue(a[0]["ok"], a)
        self.assertFalse(self.status(BOARD)[0]["led"]["on"])
        r = self.as_user([PICOCTL, "--socket", self.picod.socket, "led", BOARD, "on"],
                         groups=[gid])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(self.status(BOARD)[0]["led"]["on"])

    def test_root_may_act(self):
        c = Client(self.picod.socket)
        self.assertTrue(c.call("led", board=BOARD, mode="off")["ok"])
        c.close()

    def test_denied_is_counted_and_connection_stays_usable(self):
        answers = self.raw_as_user([self.ACTS[0], {"cmd": "version"}])
        self.assertEqual(answers[0]["error"]["code"], "denied")
        self.assertTrue(answers[1]["ok"])
        c = Client(self.picod.socket)
        self.assertGreaterEqual(c.call("stats")["result"]["daemon"]["denied"], 1)
        c.close()

    def test_quota_of_outstanding_board_requests(self):
        # Five pings in one write: picod reads them in one go, before any board answer, so
        # the first two (--client-requests-max 2) go to the board and the rest are busy.
        c = Client(self.picod.socket)
        c.send_raw(b"".join(json.dumps({"cmd": "ping", "board": BOARD, "id": i}).encode() +
                            b"\n" for i in range(5)))
        answers = {}
        while len(answers) < 5:
            m = c.recv()
            answers[m["id"]] = m
        ok = [i for i, m in answers.items() if m["ok"]]
        busy = [m for m in answers.values() if not m["ok"]]
        self.assertEqual(sorted(ok), [0, 1], answers)
        for m in busy:
            self.assertEqual(m["error"]["code"], "busy", m)
            self.assertIn("--client-requests-max", m["error"]["message"])
        # Another connection has its own quota; and once answered, this one may ask again.
        other = Client(self.picod.socket)
        self.assertTrue(other.call("ping", board=BOARD)["ok"])
        self.assertTrue(c.call("ping", board=BOARD)["ok"])
        other.close()
        c.close()


if __name__ == "__main__":
    unittest.main()
