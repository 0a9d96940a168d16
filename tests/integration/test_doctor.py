"""picoctl doctor: each diagnosis staged for real, the report checked as a user reads it
(golden text with NO_COLOR) and as a script does (--json, field by field), with its exit code.

Every class runs under umockdev-wrapper, so the USB view doctor takes from libudev is the
testbed's and nothing plugged into the machine running the tests changes the report.
- TestDoctorDaemon: no picod (no socket), a dead socket, a stopped (SIGSTOP) picod, a socket
  whose group the user is not in, and one whose group the user is in but not in this session
  (the users run for real with setpriv).
- TestDoctorUsb: a Pico in BOOTSEL, one running MicroPython, a Debug Probe and ours whose tty
  the udev rule did not mark, with a ModemManager process running; the rule installed, masked;
  ours with no tty; colour only on a terminal.
- TestDoctorBoards: a board held open by another process, a silent (offline) board, one of
  another protocol version, a tty of ours that picod (without --udev) does not serve, an
  unknown BOARD.
"""
import grp
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import unittest

from harness import PICOCTL, Picod, wait_until
from test_hotplug import DEBUG_PROBE, MICROPYTHON, OURS, UdevTestCase
from test_versions import OtherVersionBoard

NOBODY = 65534
BOOTSEL = ("2e8a", "0003", "Raspberry Pi", "RP2 Boot")


class DoctorCase(UdevTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.rules = os.path.join(cls.tmp, "rules.d")
        os.makedirs(cls.rules)
        cls.children = []

    @classmethod
    def tearDownClass(cls):
        for p in cls.children:
            p.kill()
            p.wait()
        super().tearDownClass()

    def doctor(self, *args, sock=None, wrapper=(), color=False):
        """Run picoctl doctor in the testbed; returns (exit status, stdout, stderr)."""
        env = dict(os.environ, UMOCKDEV_DIR=self.root, PICOD_DOCTOR_RULES_DIRS=self.rules)
        if not color:
            env["NO_COLOR"] = "1"
        sock = sock or (self.picod.socket if self.picod else os.path.join(self.tmp, "none"))
        r = subprocess.run(list(wrapper) + [PICOCTL, "--socket", sock, "--timeout", "1000",
                                            "doctor"] + list(args),
                           capture_output=True, text=True, timeout=30, env=env)
        return r.returncode, r.stdout, r.stderr

    def report(self, *args, **kw):
        """The text report with the parts that differ per run written as placeholders."""
        rc, out, err = self.doctor(*args, **kw)
        out = out.replace(self.tmp, "<TMP>")
        out = re.sub(r"\(pid \d+\)", "(pid N)", out)
        out = re.sub(r"kill \d+", "kill N", out)
        out = re.sub(r"last heard \d+\.\d s ago", "last heard N s ago", out)
        out = re.sub(r"/dev/pts/\d+", "/dev/pts/N", out)
        return rc, out

    def checks(self, *args):
        """--json: the checks, each a dict; and the exit status."""
        env = dict(os.environ, UMOCKDEV_DIR=self.root, PICOD_DOCTOR_RULES_DIRS=self.rules)
        sock = self.picod.socket if self.picod else os.path.join(self.tmp, "none")
        r = subprocess.run([PICOCTL, "--json", "--socket", sock, "doctor"] + list(args),
                           capture_output=True, text=True, timeout=30, env=env)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["problems"], sum(c["status"] == "fail" for c in doc["checks"]))
        self.assertEqual(doc["ok"], doc["problems"] == 0)
        return r.returncode, doc["checks"]

    @classmethod
    def spawn_named(cls, name, **kw):
        """A process whose comm is name (a copy of sleep(1)): what doctor looks for."""
        exe = os.path.join(cls.tmp, name)
        shutil.copy("/bin/sleep", exe)
        p = subprocess.Popen([exe, "1000"], **kw)
        cls.children.append(p)
        wait_until(lambda: cls.comm(p.pid) == name, 5, name)
        return p

    @staticmethod
    def comm(pid):
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()

    def stop(self, proc):
        proc.kill()
        proc.wait()


class TestDoctorDaemon(DoctorCase):
    def test_no_picod(self):
        rc, out = self.report()
        self.assertEqual(rc, 3)
        self.assertEqual(out, """\
FAIL  picod <TMP>/none: no socket there: picod is not running
      fix: start it: sudo systemctl start picod.socket picod.service (installed), or picod --socket <TMP>/none; a picod on another socket: picoctl --socket PATH or PICOD_SOCKET=PATH
info  usb udev: no Raspberry Pi USB device (vendor 2e8a) is plugged in
      fix: plug the board in (a data cable, not a charge-only one); lsusb lists it
warn  udev 60-picod.rules: udev rule 60-picod.rules is not installed (searched <TMP>/rules.d): boards get no /dev/pico/<id> link and ModemManager is not told to keep off
      fix: cmake --install puts it in PREFIX/lib/udev/rules.d, or: sudo install -m 644 systemd/60-picod.rules /etc/udev/rules.d/; then sudo udevadm control --reload and replug the board
1 problem, 1 warning
""")

    def test_dead_socket(self):
        # What a picod killed with SIGKILL leaves: the socket file, nobody listening.
        path = os.path.join(self.tmp, "dead.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        s.close()
        rc, out = self.report(sock=path)
        self.assertEqual(rc, 3)
        self.assertIn("FAIL  picod <TMP>/dead.sock: the socket exists but nothing accepts "
                      "connections on it: picod stopped or died\n      fix: sudo systemctl "
                      "restart picod.socket picod.service", out)

    def test_stopped_picod(self):
        picod = Picod(self.tmp).start()
        try:
            os.kill(picod.proc.pid, signal.SIGSTOP)
            try:
                rc, out = self.report(sock=picod.socket)
            finally:
                os.kill(picod.proc.pid, signal.SIGCONT)
            self.assertEqual(rc, 3)
            self.assertIn("FAIL  picod <TMP>/picod.sock: picod accepts connections but did not "
                          "answer within 1000 ms: it is stopped or hung\n", out)
            self.assertIn("kill -CONT", out)
            # Once it runs again, doctor says so and finds nothing wrong with picod.
            rc, out = self.report(sock=picod.socket)
            self.assertRegex(out, r"^ok    picod <TMP>/picod.sock: picod \d+\.\d+\.\d+ "
                                  r"\(protocol \d+\.\d+\) answers\n")
            self.assertEqual(rc, 0, out)
        finally:
            self.assertEqual(picod.stop(), 0)

    def group_socket(self, gid):
        """A picod whose socket is mode 0660, group gid, in a directory others may enter."""
        if os.geteuid() != 0 or not shutil.which("setpriv"):
            self.skipTest("needs root and setpriv to run picoctl as another user")
        picod = Picod(self.tmp).start()
        self.addCleanup(lambda: self.assertEqual(picod.stop(), 0))
        os.chmod(self.tmp, 0o755)
        os.chown(picod.socket, 0, gid)
        os.chmod(picod.socket, 0o660)
        return picod.socket

    @staticmethod
    def as_user(uid, groups=()):
        """setpriv prefix: uid, primary group nobody, exactly these supplementary groups."""
        g = [f"--groups={','.join(map(str, groups))}"] if groups else ["--clear-groups"]
        return ["setpriv", f"--reuid={uid}", f"--regid={NOBODY}"] + g

    def test_socket_group_user_is_not_in(self):
        group = next((g for g in map(grp.getgrnam, ("users", "staff", "dialout"))
                      if g.gr_gid not in (0, NOBODY)), None)
        sock, name = self.group_socket(group.gr_gid), group.gr_name
        rc, out = self.report(sock=sock, wrapper=self.as_user(NOBODY))
        self.assertEqual(rc, 5, out)
        self.assertIn(
            f"FAIL  picod <TMP>/picod.sock: permission denied: mode 0660, group {name}: user "
            f"nobody (uid {NOBODY}) is not in group {name}\n      fix: sudo usermod -aG {name} "
            f"nobody, then log out and in (or: newgrp {name})\n", out)
        # In the group, the same user gets through.
        rc, out = self.report(sock=sock, wrapper=self.as_user(NOBODY, [group.gr_gid]))
        self.assertIn("ok    picod <TMP>/picod.sock: picod ", out)
        self.assertEqual(rc, 0, out)

    def test_in_the_group_but_not_this_session(self):
        # A user whose group (here: its primary group, from /etc/passwd) owns the socket, run
        # without it: as a session started before `usermod -aG` would be.
        user = next((p for p in pwd.getpwall()
                     if p.pw_uid not in (0, NOBODY) and p.pw_gid not in (0, NOBODY)), None)
        gname = grp.getgrgid(user.pw_gid).gr_name
        sock = self.group_socket(user.pw_gid)
        rc, out = self.report(sock=sock, wrapper=self.as_user(user.pw_uid))
        self.assertEqual(rc, 5, out)
        self.assertIn(
            f"FAIL  picod <TMP>/picod.sock: permission denied: mode 0660, group {gname}: user "
            f"{user.pw_name} is in group {gname}, but not this login session (it started "
            f"before the group was added)\n      fix: log out and in again (groups take effect "
            f"at login), or run: newgrp {gname}\n", out)


class TestDoctorUsb(DoctorCase):
    BOARD = "42e0000000000001"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sim = cls.start_sim("pico", cls.BOARD, env=cls.plain)
        cls.tb.add_device("usb", "1-1", None,
                          ["idVendor", BOOTSEL[0], "idProduct", BOOTSEL[1], "serial",
                           "E0C9125B0D9B", "manufacturer", BOOTSEL[2], "product", BOOTSEL[3]],
                          ["DEVTYPE", "usb_device"])
        cls.plug("1-2", "ttyACM1", MICROPYTHON, "e6614c311b7e6f35", minor=1)
        cls.plug("1-3", "ttyACM2", DEBUG_PROBE, "E6633861A3461C38", minor=2)
        # Ours, but its tty without what 60-picod.rules sets: the rule did not run.
        cls.plug("1-4", "ttyACM0", OURS, cls.BOARD, pty=cls.sim.pty)
        cls.start_picod()

    def test_usb_view_modemmanager_and_rule(self):
        self.wait_state(self.BOARD, "online")
        mm = self.spawn_named("ModemManager")
        rc, out = self.report()
        self.stop(mm)
        self.assertEqual(rc, 1)
        self.assertEqual(out, f"""\
ok    picod <TMP>/picod.sock: picod 0.1.0 (protocol 1.4) answers
FAIL  usb 1-1: 2e8a:0003 "RP2 Boot": a Pico in BOOTSEL mode (the RP2040 boot ROM: a USB drive RPI-RP2, no tty)
      fix: copy {FIRMWARE_DIR}/firmware.uf2 to its RPI-RP2 drive (it then restarts into picod's firmware); if it has picod's firmware already, replug it without holding BOOTSEL
warn  usb 1-2: 2e8a:0005 "Board in FS mode", tty /dev/ttyACM1: runs MicroPython, not picod's firmware: picod leaves it alone
      fix: hold BOOTSEL while plugging it in, then copy {FIRMWARE_DIR}/firmware.uf2 to the RPI-RP2 drive it shows
info  usb 1-3: 2e8a:000c "Debugprobe on Pico (CMSIS-DAP)", tty /dev/ttyACM2: a Debug Probe (CMSIS-DAP and a UART bridge), not a board: picod leaves it alone
FAIL  tty /dev/ttyACM0: ModemManager (pid N) runs and the tty has no ID_MM_DEVICE_IGNORE: it probes new ttys with AT commands and holds them meanwhile
      fix: install the udev rule (it sets ID_MM_DEVICE_IGNORE=1) and replug the board; or, with no modem here: sudo systemctl disable --now ModemManager
warn  tty /dev/ttyACM0: udev did not mark the tty as picod's (no PICOD_BOARD=1): no /dev/pico/{self.BOARD} link, no ID_MM_DEVICE_IGNORE
      fix: install the udev rule (see the udev check), then replug the board
warn  udev 60-picod.rules: udev rule 60-picod.rules is not installed (searched <TMP>/rules.d): boards get no /dev/pico/<id> link and ModemManager is not told to keep off
      fix: cmake --install puts it in PREFIX/lib/udev/rules.d, or: sudo install -m 644 systemd/60-picod.rules /etc/udev/rules.d/; then sudo udevadm control --reload and replug the board
ok    board {self.BOARD}: online on /dev/ttyACM0, firmware 0.1.0, last heard N s ago
2 problems, 3 warnings
""")

    def test_rule_installed_then_masked(self):
        self.wait_state(self.BOARD, "online")
        etc, lib = os.path.join(self.tmp, "etc"), os.path.join(self.tmp, "lib")
        os.makedirs(etc, exist_ok=True)
        os.makedirs(lib, exist_ok=True)
        shutil.copy(os.path.join(SRC, "systemd", "60-picod.rules"), lib)
        self.rules = f"{etc}:{lib}"
        rc, checks = self.checks()
        rule = [c for c in checks if c["check"] == "udev"]
        self.assertEqual(rule, [{"check": "udev", "subject": "60-picod.rules", "status": "ok",
                                 "message": f"udev rule installed: {lib}/60-picod.rules",
                                 "fix": None}])
        # The tty finding now says how to apply the installed rule.
        unmarked = [c for c in checks if c["subject"] == "/dev/ttyACM0"]
        self.assertEqual([c["status"] for c in unmarked], ["warn"])
        self.assertIn("udevadm trigger", unmarked[0]["fix"])
        self.assertEqual(rc, 1)  # the BOOTSEL Pico
        # A link to /dev/null in an earlier directory masks it.
        os.symlink("/dev/null", os.path.join(etc, "60-picod.rules"))
        _, checks = self.checks()
        rule = [c for c in checks if c["check"] == "udev"][0]
        self.assertEqual(rule["status"], "fail")
        self.assertEqual(rule["message"],
                         f"60-picod.rules is masked: {etc}/60-picod.rules links to /dev/null")

    def test_marked_tty_of_ours_is_ok(self):
        sim = self.start_sim("marked", "42e0000000000002", env=self.plain)
        self.plug("1-5", "ttyACM5", OURS, sim.board_id, pty=sim.pty, minor=5,
                  props=["PICOD_BOARD=1", "ID_MM_DEVICE_IGNORE=1",
                         f"PICOD_SERIAL={sim.board_id}"])
        self.wait_state(sim.board_id, "online")
        mm = self.spawn_named("ModemManager")
        self.addCleanup(self.unplug, "1-5", "ttyACM5")
        _, checks = self.checks(sim.board_id)
        self.stop(mm)
        self.assertIn({"check": "usb", "subject": "1-5", "status": "ok", "fix": None,
                       "message": f"2e8a:5043 picod firmware, serial {sim.board_id}, tty "
                                  "/dev/ttyACM5"}, checks)
        self.assertEqual([c for c in checks if c["subject"] == "/dev/ttyACM5"], [])
        boards = [c for c in checks if c["check"] == "board"]
        self.assertEqual([(c["subject"], c["status"]) for c in boards], [(sim.board_id, "ok")])

    def test_ours_without_a_tty(self):
        # Enumerated as our firmware, but no CDC tty: cdc_acm did not bind.
        self.tb.add_device("usb", "1-6", None,
                           ["idVendor", "2e8a", "idProduct", "5043", "serial", "42e0000000000006",
                            "manufacturer", "picod", "product", OURS[3]],
                           ["DEVTYPE", "usb_device"])
        self.addCleanup(self.tb.remove_device, "/sys/devices/1-6")
        _, checks = self.checks()
        self.assertIn({"check": "usb", "subject": "1-6", "status": "fail",
                       "message": "2e8a:5043 (picod firmware, serial 42e0000000000006) has no "
                                  "tty: the kernel's cdc_acm driver did not bind to it",
                       "fix": "sudo modprobe cdc_acm, then replug it; dmesg shows USB errors "
                              "if it fails"}, checks)

    def test_colour_only_on_a_terminal(self):
        rc, out, _ = self.doctor(color=True)  # a pipe: no colour even without NO_COLOR
        self.assertNotIn("\033[", out)
        master, slave = os.openpty()
        env = dict(os.environ, UMOCKDEV_DIR=self.root, PICOD_DOCTOR_RULES_DIRS=self.rules)
        env.pop("NO_COLOR", None)
        p = subprocess.Popen([PICOCTL, "--socket", self.picod.socket, "doctor"], stdout=slave,
                             env=env)
        os.close(slave)
        data = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        p.wait(30)
        os.close(master)
        self.assertIn(b"\033[1;31mFAIL\033[0m  usb 1-1:", data)


class TestDoctorBoards(DoctorCase):
    A = "43e0000000000001"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sim = cls.start_sim("a", cls.A, env=cls.plain)
        cls.v2 = OtherVersionBoard(os.path.join(cls.tmp, "v2board"))
        # A tty nobody answers on, held open by another program (as minicom would).
        cls.mute_master, slave = os.openpty()
        cls.mute = os.path.join(cls.tmp, "mute.tty")
        os.symlink(os.ttyname(slave), cls.mute)
        cls.holder = cls.spawn_named("minicom", stdin=slave)
        os.close(slave)
        cls.picod = Picod(cls.tmp, [cls.sim.pty, cls.v2.path, cls.mute])
        cls.picod.start(env=dict(os.environ, UMOCKDEV_DIR=cls.root))

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.v2.close()
        os.close(cls.mute_master)

    def test_held_tty(self):
        rc, out = self.report(self.mute)
        self.assertEqual(rc, 1)
        self.assertRegex(out, r"FAIL  board <TMP>/mute.tty: has not answered picod's HELLO on "
                              r"<TMP>/mute.tty \(state (hello|connecting)\)")
        self.assertIn("FAIL  tty <TMP>/mute.tty: held open by minicom (pid N): it takes the "
                      "bytes meant for picod, or keeps picod from opening it (busy)\n"
                      "      fix: close minicom (kill N): picod must be the only program on "
                      "it\n", out)
        self.assertIn(f"(pid {self.holder.pid})", self.doctor(self.mute)[1])

    def test_incompatible(self):
        wait_until(lambda: self.board_state(self.v2.path) == "incompatible", 10, "incompatible")
        rc, checks = self.checks(self.v2.path)
        self.assertEqual(rc, 1)
        board = [c for c in checks if c["check"] == "board"][0]
        self.assertEqual(board["status"], "fail")
        self.assertEqual(board["message"],
                         f"incompatible on {self.v2.path}: board speaks protocol 2.0, picod "
                         "speaks 1.4")
        self.assertIn("firmware.uf2", board["fix"])

    def test_online_then_offline(self):
        self.wait_state(self.A, "online")
        rc, checks = self.checks(self.A)
        self.assertEqual([(c["status"], c["message"].split(",")[0]) for c in checks
                          if c["check"] == "board"], [("ok", f"online on {self.sim.pty}")])
        self.sim.control("silent on")
        try:
            self.wait_state(self.A, "offline", 15)
            rc, out = self.report(self.A)
        finally:
            self.sim.control("silent off")
        self.assertEqual(rc, 1)
        self.assertRegex(out, rf"FAIL  board {self.A}: offline on <TMP>/a.tty: last heard N s "
                              r"ago; errors: [^\n]*request timeouts\n      fix: check its USB cable")

    def test_tty_of_ours_picod_does_not_serve(self):
        # This picod runs without --udev: a board of ours that udev reports is not served.
        self.plug("1-1", "ttyACM0", OURS, "43e0000000000009",
                  props=["PICOD_BOARD=1", "ID_MM_DEVICE_IGNORE=1"])
        self.addCleanup(self.unplug, "1-1", "ttyACM0")
        rc, out = self.report()
        self.assertEqual(rc, 1)
        self.assertIn("FAIL  tty /dev/ttyACM0: picod does not serve this tty (2e8a:5043, serial "
                      "43e0000000000009): not in picod's list\n      fix: run picod with --udev "
                      "(picod.service does), or add --device /dev/pico/43e0000000000009\n", out)

    def test_unknown_board(self):
        rc, out = self.report("nosuchboard")
        self.assertEqual(rc, 4)
        self.assertIn("FAIL  board nosuchboard: no board matches 'nosuchboard'", out)


SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FIRMWARE_DIR = os.environ.get("PICOD_FIRMWARE_DIR", "/usr/local/share/picod/firmware")

if __name__ == "__main__":
    unittest.main()
