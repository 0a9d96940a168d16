"""A board that speaks another major protocol version is refused with a clear error, served
nothing else, and comes back by itself once it speaks our version (a reflashed board).

The board here is a peer written in the test on a pty, framing with the independent Python
implementation in tools/proto_vectors.py: no firmware of another protocol version exists to
run, and the point is what picod does with one."""
import json
import os
import struct
import sys
import threading
import tty

from harness import Picod, PicodTestCase, picoctl, wait_until

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from proto_vectors import cobs_encode, crc16_ccitt_false  # noqa: E402

BOARD_ID = bytes.fromhex("feedfacecafe0002")


def cobs_decode(data):
    out, i = bytearray(), 0
    while i < len(data):
        code = data[i]
        out += data[i + 1:i + code]
        i += code
        if code < 0xFF and i < len(data):
            out.append(0)
    return bytes(out)


def hello_ack_body(major, minor):
    crash = struct.pack("<BBIII", 0, 0xFF, 0, 0, 0)
    return (struct.pack("<BBBBBBBBI", major, minor, 9, 9, 9, 2, 1, 1, 0x1F) + BOARD_ID +
            b"other-version".ljust(24, b"\0") + crash + struct.pack("<I", 1000))


class OtherVersionBoard:
    """Answers every request on a pty; `version` is the header byte it speaks (0x20 = 2.0)."""

    def __init__(self, path):
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.slave_name = os.ttyname(slave)
        self.path = path
        os.symlink(self.slave_name, path)
        self.version = 0x20
        self.requests = []
        self.running = True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()
        self._slave = slave  # held open so the pty stays up while picod reopens

    def frame(self, type_, seq, body):
        pkt = bytes([self.version, type_, seq & 0xFF, seq >> 8]) + body
        crc = crc16_ccitt_false(pkt)
        return cobs_encode(pkt + bytes([crc & 0xFF, crc >> 8])) + b"\0"

    def serve(self):
        buf = b""
        while self.running:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                if not raw:
                    continue
                pkt = cobs_decode(raw)
                if len(pkt) < 6:
                    continue
                type_, seq = pkt[1], pkt[2] | (pkt[3] << 8)
                self.requests.append(type_)
                if type_ == 0x01:  # HELLO
                    body = hello_ack_body(self.version >> 4, self.version & 0xF)
                else:
                    body = bytes(13) if type_ in (0x04, 0x05) else b""
                if type_ == 0x06:
                    body = b"\0"  # READ_SENSORS: no sensors
                if type_ == 0x03:
                    body = struct.pack("<IBB", 1000, 1, 0)
                os.write(self.master, self.frame(type_ | 0x80, seq, body))

    def close(self):
        self.running = False
        os.close(self.master)
        os.close(self._slave)


class TestOtherProtocolVersion(PicodTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.board = OtherVersionBoard(os.path.join(cls.tmp, "v2board"))
        cls.picod = Picod(cls.tmp, [cls.board.path]).start()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.board.close()

    def board_json(self):
        r = picoctl(self.picod.socket, "--json", "status", check=True)
        return json.loads(r.stdout)["boards"][0]

    def test_refused_then_accepted_after_reflash(self):
        b = wait_until(lambda: (lambda j: j if j["state"] == "incompatible" else None)(
            self.board_json()), 10, "state incompatible")
        self.assertEqual(b["error"], "board speaks protocol 2.0, picod speaks 1.0")
        with open(self.picod.log_path) as f:
            self.assertIn("speaks protocol 2.0, picod speaks 1.0: refused", f.read())
        # Nothing but HELLO goes to such a board: no heartbeats, no polls, no client requests.
        wait_until(lambda: self.board.requests.count(0x01) >= 3, 10, "HELLO retried")
        self.assertEqual(set(self.board.requests), {0x01})
        r = picoctl(self.picod.socket, "led", self.board.path, "on")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("is incompatible", r.stderr)
        # The board is reflashed with firmware of our version and answers HELLO properly.
        self.board.version = 0x10
        b = wait_until(lambda: (lambda j: j if j["state"] == "online" else None)(
            self.board_json()), 10, "state online after reflash")
        self.assertEqual(b["board"], BOARD_ID.hex())
        self.assertNotIn("error", b)
