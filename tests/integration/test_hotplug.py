"""udev hotplug, run under umockdev-wrapper: a mocked USB tree whose ttyACM0 is a picosim pty.
picod --udev must find a Pico that is present at start (enumeration), drop it when udev says
"remove" (a removed pty does not hang up, so this is the only signal), take it back on "add",
and ignore ttys of other vendors."""
import os
import unittest

from harness import Client, Picod, PicodTestCase, picoctl, wait_until

try:
    import gi

    gi.require_version("UMockdev", "1.0")
    from gi.repository import UMockdev
except (ImportError, ValueError):
    UMockdev = None

BOARD = "40e0000000000001"
TTY_SYS = "/sys/devices/1-1/1-1:1.0/ttyACM0"
OTHER_SYS = "/sys/devices/2-1/2-1:1.0/ttyACM1"


class TestHotplug(PicodTestCase):
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
        plain = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "UMOCKDEV_DIR")}
        cls.sim = cls.start_sim("pico", BOARD, env=plain)
        cls.add_pico()
        cls.picod = Picod(cls.tmp, [], extra=["--udev"])
        cls.picod.start(env=dict(os.environ, UMOCKDEV_DIR=cls.root))

    @classmethod
    def add_pico(cls):
        node = os.path.join(cls.root, "dev", "ttyACM0")
        os.makedirs(os.path.dirname(node), exist_ok=True)
        if not os.path.lexists(node):
            os.symlink(os.path.realpath(cls.sim.pty), node)
        usb = cls.tb.add_device("usb", "1-1", None,
                                ["idVendor", "2e8a", "idProduct", "000a", "serial", BOARD,
                                 "manufacturer", "Raspberry Pi", "product", "Pico"],
                                ["DEVTYPE", "usb_device", "ID_VENDOR_ID", "2e8a"])
        cls.tb.add_device("usb", "1-1:1.0", usb, ["bInterfaceClass", "02"],
                          ["DEVTYPE", "usb_interface", "DRIVER", "cdc_acm"])
        cls.tb.add_from_string(
            "P: /devices/1-1/1-1:1.0/ttyACM0\nA: dev=166:0\nE: DEVNAME=/dev/ttyACM0\n"
            "E: SUBSYSTEM=tty\nE: ID_VENDOR_ID=2e8a\nE: ID_MODEL_ID=000a\n"
            f"E: ID_SERIAL_SHORT={BOARD}\nE: ID_USB_INTERFACE_NUM=00\n")

    @classmethod
    def remove_pico(cls):
        cls.tb.uevent(TTY_SYS, "remove")
        cls.tb.remove_device(TTY_SYS)
        cls.tb.remove_device("/sys/devices/1-1/1-1:1.0")
        cls.tb.remove_device("/sys/devices/1-1")

    def boards(self):
        c = Client(self.picod.socket)
        try:
            return {b["device"]: b for b in c.call("list")["result"]["boards"]}
        finally:
            c.close()

    def test_enumerate_remove_add_and_ignore_others(self):
        # Present at start: found by enumeration, online through the mocked node.
        self.wait_state(BOARD, "online")
        self.assertEqual(self.boards()["/dev/ttyACM0"]["board"], BOARD)

        # Another vendor's CDC tty appears: not ours.
        usb = self.tb.add_device("usb", "2-1", None, ["idVendor", "0403"],
                                 ["DEVTYPE", "usb_device"])
        self.tb.add_device("usb", "2-1:1.0", usb, [], ["DEVTYPE", "usb_interface"])
        self.tb.add_from_string("P: /devices/2-1/2-1:1.0/ttyACM1\nA: dev=166:1\n"
                                "E: DEVNAME=/dev/ttyACM1\nE: SUBSYSTEM=tty\n"
                                "E: ID_VENDOR_ID=0403\n")

        # Unplug: watchers hear board_offline and the board leaves the list at once.
        w = Client(self.picod.socket)
        try:
            self.assertTrue(w.call("watch")["ok"])
            self.remove_pico()
            ev = w.next_event("board_offline", 10)
            self.assertEqual(ev["board"], BOARD)
        finally:
            w.close()
        wait_until(lambda: "/dev/ttyACM0" not in self.boards(), 10, "board dropped")

        # Plug back in: found by the add uevent.
        self.add_pico()
        self.wait_state(BOARD, "online", 15)
        self.assertNotIn("/dev/ttyACM1", self.boards())
        r = picoctl(self.picod.socket, "status", BOARD, check=True)
        self.assertIn("online", r.stdout)


if __name__ == "__main__":
    unittest.main()
