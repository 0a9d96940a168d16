"""udev hotplug, run under umockdev-wrapper: a mocked USB tree whose ttys are picosim ptys
(our boards) or umockdev ptys (other people's devices).

- TestHotplug: a Pico present at start is found (enumeration), dropped when udev says
  "remove" (a removed pty does not hang up, so this is the only signal), taken back on "add";
  another vendor's tty is ignored.
- TestForeignDevices: a MicroPython board (2e8a:0005), a Debug Probe (2e8a:000c) and pico-sdk
  stdio (2e8a:000a) beside ours: never opened, not one byte written, logged once each.
- TestAllowedDevices: --allow-usb and allow-serial (config file) take such devices after all.
- TestMonitorFailure: the monitor socket overflows (events lost, EPOLLERR) while a board is
  unplugged and another plugged in: picod re-creates the monitor and reconciles.
- TestExplicitDevices: --device boards survive udev "remove" and come back; a --device path
  that is a udev link of a tty udev reports is not served twice.
"""
import ctypes
import os
import signal
import struct
import unittest

from harness import Client, Picod, PicodTestCase, picoctl, wait_until

try:
    import gi

    gi.require_version("UMockdev", "1.0")
    from gi.repository import UMockdev
except (ImportError, ValueError):
    UMockdev = None

OURS = ("2e8a", "5043", "picod", "Raspberry Pi Pico running picod")
MICROPYTHON = ("2e8a", "0005", "MicroPython", "Board in FS mode")
DEBUG_PROBE = ("2e8a", "000c", "Raspberry Pi", "Debugprobe on Pico (CMSIS-DAP)")
SDK_STDIO = ("2e8a", "000a", "Raspberry Pi", "Pico")
FTDI = ("0403", "6001", "FTDI", "FT232R USB UART")

IN_OPEN = 0x20


class Inotify:
    """IN_OPEN watches on pty slaves: proof that nobody opened them (an event, not a guess)."""

    def __init__(self):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        assert self.fd >= 0, os.strerror(ctypes.get_errno())
        self.paths = {}

    def watch(self, path):
        wd = self.libc.inotify_add_watch(self.fd, path.encode(), IN_OPEN)
        assert wd >= 0, f"inotify {path}: {os.strerror(ctypes.get_errno())}"
        self.paths[wd] = path

    def opened(self):
        """Paths opened since the watch started."""
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return []
        out = []
        while data:
            wd, mask, _, n = struct.unpack_from("iIII", data)
            if mask & IN_OPEN:
                out.append(self.paths.get(wd))
            data = data[16 + n:]
        return out


def read_master(fd):
    """Bytes waiting on a pty master (b"" when none; EIO means the slave was never opened)."""
    try:
        return os.read(fd, 65536)
    except (BlockingIOError, OSError):
        return b""


class UdevTestCase(PicodTestCase):
    """A umockdev testbed with helpers to plug USB CDC ttys in and out."""

    @classmethod
    def setUpClass(cls):
        if UMockdev is None or "umockdev" not in os.environ.get("LD_PRELOAD", ""):
            raise unittest.SkipTest("needs umockdev-wrapper and python3-gi UMockdev")
        super().setUpClass()
        # The preload makes ASan's "runtime first" check fail in sanitized builds.
        os.environ["ASAN_OPTIONS"] = "verify_asan_link_order=0:" + os.environ.get(
            "ASAN_OPTIONS", "")
        cls.tb = UMockdev.Testbed.new()
        cls.root = cls.tb.get_root_dir()
        # picosim itself must see the real /dev (its pty), not the testbed.
        cls.plain = {k: v for k, v in os.environ.items()
                     if k not in ("LD_PRELOAD", "UMOCKDEV_DIR")}
        cls.masters = []

    @classmethod
    def tearDownClass(cls):
        for fd in cls.masters:
            os.close(fd)
        super().tearDownClass()

    @classmethod
    def start_picod(cls, extra=(), devices=(), preload=()):
        env = dict(os.environ, UMOCKDEV_DIR=cls.root)
        if preload:
            env["LD_PRELOAD"] = " ".join([env["LD_PRELOAD"]] + list(preload))
        cls.picod = Picod(cls.tmp, devices, extra=["--udev"] + list(extra))
        cls.picod.start(env=env)

    @classmethod
    def plug(cls, port, tty, ident, serial, pty=None, minor=0, links=(), props=()):
        """Add USB device <port> (vid, pid, manufacturer, product) with its CDC interface 00
        and tty. pty: a path whose target becomes the tty node (a picosim pty); without it a
        new pty is the node and its master fd is returned (nobody has the slave open).
        props: more udev properties of the tty ("KEY=value"), e.g. what a rule would set."""
        vid, pid, manufacturer, product = ident
        node = os.path.join(cls.root, "dev", tty)
        master = None
        if not pty:
            # Our own pty rather than umockdev's ("N:"): umockdev routes the ioctls of its
            # emulated nodes to its ioctl recorder, so a real program could not use them.
            master, slave = os.openpty()
            pty = os.ttyname(slave)
            os.close(slave)
            os.set_blocking(master, False)
            cls.masters.append(master)
        os.makedirs(os.path.dirname(node), exist_ok=True)
        if os.path.lexists(node):
            os.unlink(node)
        os.symlink(os.path.realpath(pty), node)
        usb = cls.tb.add_device("usb", port, None,
                                ["idVendor", vid, "idProduct", pid, "serial", serial,
                                 "manufacturer", manufacturer, "product", product],
                                ["DEVTYPE", "usb_device"])
        cls.tb.add_device("usb", port + ":1.0", usb,
                          ["bInterfaceNumber", "00", "bInterfaceClass", "02"],
                          ["DEVTYPE", "usb_interface", "DRIVER", "cdc_acm"])
        major = 188 if tty.startswith("ttyUSB") else 166
        text = (f"P: /devices/{port}/{port}:1.0/{tty}\n" +
                "".join(f"S: {link}\n" for link in links) +
                f"A: dev={major}:{minor}\nE: DEVNAME=/dev/{tty}\nE: SUBSYSTEM=tty\n"
                f"E: ID_VENDOR_ID={vid}\nE: ID_MODEL_ID={pid}\nE: ID_SERIAL_SHORT={serial}\n"
                "E: ID_USB_INTERFACE_NUM=00\n" + "".join(f"E: {p}\n" for p in props))
        if links:
            text += "E: DEVLINKS=" + " ".join("/dev/" + link for link in links) + "\n"
        cls.tb.add_from_string(text)
        for link in links:
            path = os.path.join(cls.root, "dev", link)
            if not os.path.lexists(path):
                os.makedirs(os.path.dirname(path), exist_ok=True)
                os.symlink(node, path)
        return master

    @classmethod
    def unplug(cls, port, tty):
        sys_tty = f"/sys/devices/{port}/{port}:1.0/{tty}"
        cls.tb.uevent(sys_tty, "remove")
        cls.tb.remove_device(sys_tty)
        cls.tb.remove_device(f"/sys/devices/{port}/{port}:1.0")
        cls.tb.remove_device(f"/sys/devices/{port}")

    @classmethod
    def slave_of(cls, tty):
        return os.path.realpath(os.path.join(cls.root, "dev", tty))

    def boards(self):
        c = Client(self.picod.socket)
        try:
            return {b["device"]: b for b in c.call("list")["result"]["boards"]}
        finally:
            c.close()

    def picod_fds(self):
        """What picod holds open (targets of /proc/<pid>/fd)."""
        out = []
        fd_dir = f"/proc/{self.picod.proc.pid}/fd"
        for name in os.listdir(fd_dir):
            try:
                out.append(os.readlink(os.path.join(fd_dir, name)))
            except OSError:
                pass
        return out

    def log_text(self):
        with open(self.picod.log_path) as f:
            return f.read()


class TestHotplug(UdevTestCase):
    BOARD = "40e0000000000001"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sim = cls.start_sim("pico", cls.BOARD, env=cls.plain)
        cls.plug("1-1", "ttyACM0", OURS, cls.BOARD, pty=cls.sim.pty)
        cls.start_picod()

    def test_enumerate_remove_add_and_ignore_others(self):
        # Present at start: found by enumeration, online through the mocked node.
        self.wait_state(self.BOARD, "online")
        self.assertEqual(self.boards()["/dev/ttyACM0"]["board"], self.BOARD)

        # Another vendor's CDC tty appears: not ours.
        self.plug("2-1", "ttyACM1", FTDI, "A10K", minor=1)

        # Unplug: watchers hear board_offline and the board leaves the list at once.
        w = Client(self.picod.socket)
        try:
            self.assertTrue(w.call("watch")["ok"])
            self.unplug("1-1", "ttyACM0")
            ev = w.next_event("board_offline", 10)
            self.assertEqual(ev["board"], self.BOARD)
        finally:
            w.close()
        wait_until(lambda: "/dev/ttyACM0" not in self.boards(), 10, "board dropped")

        # Plug back in: found by the add uevent.
        self.plug("1-1", "ttyACM0", OURS, self.BOARD, pty=self.sim.pty)
        self.wait_state(self.BOARD, "online", 15)
        self.assertNotIn("/dev/ttyACM1", self.boards())
        r = picoctl(self.picod.socket, "status", self.BOARD, check=True)
        self.assertIn("online", r.stdout)


class TestForeignDevices(UdevTestCase):
    """Other Raspberry Pi devices beside ours: picod must not open them, let alone send the
    HELLO frames whose 0x04 (Ctrl-D) soft-resets MicroPython's REPL."""
    A, B = "41e0000000000001", "41e0000000000002"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sim_a = cls.start_sim("a", cls.A, env=cls.plain)
        cls.sim_b = cls.start_sim("b", cls.B, env=cls.plain)
        cls.plug("1-1", "ttyACM0", OURS, cls.A, pty=cls.sim_a.pty, minor=0)
        cls.foreign = {
            "/dev/ttyACM1": cls.plug("1-2", "ttyACM1", MICROPYTHON, "e6614c311b7e6f35",
                                     minor=1),
            "/dev/ttyACM2": cls.plug("1-3", "ttyACM2", DEBUG_PROBE, "E6633861A3461C38",
                                     minor=2),
        }
        cls.watch = Inotify()
        for tty in ("ttyACM1", "ttyACM2"):
            cls.watch.watch(cls.slave_of(tty))
        cls.start_picod()

    def assert_untouched(self, devices):
        self.assertEqual(self.watch.opened(), [], "a foreign device was opened")
        for dev in devices:
            self.assertEqual(read_master(self.foreign[dev]), b"", f"bytes written to {dev}")
            self.assertNotIn(self.slave_of(os.path.basename(dev)), self.picod_fds())
            self.assertNotIn(dev, self.boards())

    def test_foreign_devices_never_opened(self):
        # Enumeration at start handles all three in one pass; by the time ours has answered
        # HELLO, a picod that took the others would have opened them and written its HELLO.
        self.wait_state(self.A, "online")
        self.assert_untouched(["/dev/ttyACM1", "/dev/ttyACM2"])

        # Hotplug: a pico-sdk stdio device, then ours. Events are handled in order, so once
        # ours is online the foreign one has been decided on.
        self.foreign["/dev/ttyACM3"] = self.plug("1-4", "ttyACM3", SDK_STDIO, "E660583883724A2D",
                                                 minor=3)
        self.watch.watch(self.slave_of("ttyACM3"))
        self.plug("1-5", "ttyACM4", OURS, self.B, pty=self.sim_b.pty, minor=4)
        self.wait_state(self.B, "online")
        self.assert_untouched(["/dev/ttyACM1", "/dev/ttyACM2", "/dev/ttyACM3"])
        self.assertEqual(sorted(self.boards()), ["/dev/ttyACM0", "/dev/ttyACM4"])

        # The operator can tell why each was left alone, once per device.
        log = self.log_text()
        for dev, vidpid in (("/dev/ttyACM1", "2e8a:0005"), ("/dev/ttyACM2", "2e8a:000c"),
                            ("/dev/ttyACM3", "2e8a:000a")):
            lines = [ln for ln in log.splitlines() if dev in ln and "left alone" in ln]
            self.assertEqual(len(lines), 1, log)
            self.assertIn("info", lines[0])
            self.assertIn(f"--allow-usb {vidpid}", lines[0])


class TestAllowedDevices(UdevTestCase):
    """Named explicitly, such devices are taken: --allow-usb on the command line, an
    allow-serial line in the config file."""
    PROBE_SERIAL = "E6633861A3461C38"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.mp = cls.plug("1-2", "ttyACM1", MICROPYTHON, "e6614c311b7e6f35", minor=1)
        cls.probe = cls.plug("1-3", "ttyACM2", DEBUG_PROBE, cls.PROBE_SERIAL, minor=2)
        cfg = os.path.join(cls.tmp, "picod.conf")
        with open(cfg, "w") as f:
            f.write(f"[picod]\nallow-serial = {cls.PROBE_SERIAL}\n")
        cls.start_picod(["--allow-usb", "2e8a:0005", "--config", cfg])

    def test_allowed_devices_are_served(self):
        got = {}

        def hello_reached(dev, fd):
            got[dev] = got.get(dev, b"") + read_master(fd)
            return len(got[dev]) > 0

        # picod opens them and sends HELLO (a delimiter first): they are its boards now.
        wait_until(lambda: hello_reached("mp", self.mp), 10, "bytes on the MicroPython tty")
        wait_until(lambda: hello_reached("probe", self.probe), 10, "bytes on the probe tty")
        self.assertEqual(got["mp"][:1], b"\x00")
        boards = self.boards()
        self.assertIn("/dev/ttyACM1", boards)
        self.assertIn("/dev/ttyACM2", boards)
        log = self.log_text()
        self.assertIn("/dev/ttyACM1: found by udev (allowed by --allow-usb)", log)
        self.assertIn("/dev/ttyACM2: found by udev (allowed by --allow-serial)", log)


class TestMonitorFailure(UdevTestCase):
    """The udev monitor's socket overflows (ENOBUFS: events dropped, EPOLLERR) while one board
    is unplugged and another plugged in. picod must notice, re-create the monitor, and
    reconcile: the unplugged board goes, the new one comes, later events still arrive."""
    A, B, C = "42e0000000000001", "42e0000000000002", "42e0000000000003"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        shim = os.environ.get("PICOD_MONITOR_SHIM", "")
        if not os.path.exists(shim):
            raise unittest.SkipTest("PICOD_MONITOR_SHIM not built")
        cls.sim = {b: cls.start_sim("s" + b[-1], b, env=cls.plain) for b in (cls.A, cls.B, cls.C)}
        cls.plug("1-1", "ttyACM0", OURS, cls.A, pty=cls.sim[cls.A].pty, minor=0)
        cls.start_picod(preload=[shim])

    def proc_state(self):
        with open(f"/proc/{self.picod.proc.pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]

    def test_overflow_is_survived_and_reconciled(self):
        self.wait_state(self.A, "online")
        w = Client(self.picod.socket)
        try:
            self.assertTrue(w.call("watch")["ok"])
            # Stopped, picod reads nothing: the events queue up on its monitor socket.
            pid = self.picod.proc.pid
            os.kill(pid, signal.SIGSTOP)
            wait_until(lambda: self.proc_state() == "T", 5, "picod stopped")
            self.unplug("1-1", "ttyACM0")
            self.plug("1-2", "ttyACM1", OURS, self.B, pty=self.sim[self.B].pty, minor=1)
            # The shim drops the queued events and reports EPOLLERR once picod runs again.
            os.kill(pid, signal.SIGUSR2)
            os.kill(pid, signal.SIGCONT)

            ev = w.next_event("board_offline", 10)
            self.assertEqual(ev["board"], self.A)
        finally:
            w.close()
        self.wait_state(self.B, "online", 10)
        self.assertNotIn("/dev/ttyACM0", self.boards())
        self.assertRegex(self.log_text(), r"udev: monitor failed .*re-creating it")

        # The new monitor hears what comes next; nothing is served twice.
        self.plug("1-3", "ttyACM2", OURS, self.C, pty=self.sim[self.C].pty, minor=2)
        self.wait_state(self.C, "online", 10)
        self.assertEqual(sorted(self.boards()), ["/dev/ttyACM1", "/dev/ttyACM2"])


class TestExplicitDevices(UdevTestCase):
    """--device boards beside udev. E sits behind a USB-UART adapter (a UART-linked board):
    udev never takes it, so if a "remove" dropped it, nothing would bring it back. F is
    ours, given by its /dev/pico/<id> link: udev's /dev/ttyACM0 is the same board."""
    E, F = "43e0000000000001", "43e0000000000002"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sim_e = cls.start_sim("e", cls.E, env=cls.plain)
        cls.sim_f = cls.start_sim("f", cls.F, env=cls.plain)
        cls.plug("2-1", "ttyUSB0", FTDI, "A10KXYZ1", pty=cls.sim_e.pty, minor=0)
        cls.plug("1-1", "ttyACM0", OURS, cls.F, pty=cls.sim_f.pty, minor=0,
                 links=[f"pico/{cls.F}"])
        cls.start_picod(devices=["/dev/ttyUSB0", f"/dev/pico/{cls.F}"])

    def test_device_board_survives_remove_and_comes_back(self):
        self.wait_state(self.E, "online")
        # Unplug: udev says remove, the node goes, the tty hangs up (the board process ends).
        self.unplug("2-1", "ttyUSB0")
        node = os.path.join(self.root, "dev", "ttyUSB0")
        if os.path.lexists(node):
            os.unlink(node)
        self.sim_e.stop()
        self.wait_state(self.E, "offline", 10)  # still listed: named on the command line
        self.assertIn("/dev/ttyUSB0", self.boards())

        # Plug back in: the link's reopen finds the node again.
        self.sim_e.start(self.plain)
        self.plug("2-1", "ttyUSB0", FTDI, "A10KXYZ1", pty=self.sim_e.pty, minor=0)
        self.wait_state(self.E, "online", 15)
        self.assertEqual([d for d in self.boards() if "ttyUSB0" in d], ["/dev/ttyUSB0"])

    def test_device_given_by_udev_link_is_served_once(self):
        self.wait_state(self.F, "online")
        boards = self.boards()
        self.assertIn(f"/dev/pico/{self.F}", boards)
        self.assertNotIn("/dev/ttyACM0", boards)
        self.assertEqual(len([b for b in self.status() if b["board"] == self.F]), 1)


if __name__ == "__main__":
    unittest.main()
