"""A board that speaks another major protocol version is refused with a clear error, served
nothing else, and comes back by itself once it speaks our version (a reflashed board).

The board here is a peer written in the test on a pty, framing with the independent Python
implementation in tools/proto_vectors.py: no firmware of another protocol version exists to
run, and the point is what picod does with one."""
import json
import os
import struct

from harness import Picod, PicodTestCase, picoctl, wait_until
from peer import PtyPeer

BOARD_ID = bytes.fromhex("feedfacecafe0002")


def hello_ack_body(major, minor):
    crash = struct.pack("<BBIII", 0, 0xFF, 0, 0, 0)
    return (struct.pack("<BBBBBBBBI", major, minor, 9, 9, 9, 2, 1, 1, 0x1F) + BOARD_ID +
            b"other-version".ljust(24, b"\0") + crash + struct.pack("<I", 1000))


class OtherVersionBoard(PtyPeer):
    """Answers every request in the header version `version` (0x20 = protocol 2.0)."""

    version = 0x20

    def __init__(self, path):
        super().__init__(path)
        self.requests = []
        self.start()

    def answer(self, type_, seq, body):
        self.requests.append(type_)
        if type_ == 0x01:  # HELLO
            return 0x81, hello_ack_body(self.version >> 4, self.version & 0xF)
        if type_ == 0x03:  # HEARTBEAT
            return 0x83, struct.pack("<IBB", 1000, 1, 0)
        if type_ == 0x06:  # READ_SENSORS: none
            return 0x86, b"\0"
        return type_ | 0x80, bytes(13) if type_ in (0x04, 0x05) else b""


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
        self.assertEqual(b["error"], "board speaks protocol 2.0, picod speaks 1.4")
        with open(self.picod.log_path) as f:
            self.assertIn("speaks protocol 2.0, picod speaks 1.4: refused", f.read())
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
