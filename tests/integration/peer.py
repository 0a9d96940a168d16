"""A board written in a test, on a pty: for what no real board can be made to do (answer with
another protocol version, lose a REBOOT acknowledgement, send a wrong answer on purpose).

Framing comes from tools/proto_vectors.py, the independent Python implementation of the
protocol, so these peers share no code with picod. Subclasses implement answer()."""
import os
import sys
import threading
import tty

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from proto_vectors import cobs_decode, cobs_encode, crc16_ccitt_false  # noqa: E402


class PtyPeer:
    """Serves requests arriving on a pty whose slave is symlinked at path (picod's --device)."""

    version = 0x10  # header version byte this peer speaks

    def __init__(self, path):
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)  # held open so the pty stays up while picod reopens it
        self.path = path
        os.symlink(os.ttyname(self._slave), path)
        self.lock = threading.Lock()
        self.running = True
        self.reading = threading.Event()  # cleared: the peer stops reading its tty (a wedged board)
        self.reading.set()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def frame(self, type_, seq, body):
        pkt = bytes([self.version, type_, seq & 0xFF, seq >> 8]) + body
        crc = crc16_ccitt_false(pkt)
        return cobs_encode(pkt + bytes([crc & 0xFF, crc >> 8])) + b"\0"

    def answer(self, type_, seq, body):
        """Return (response type, body) to send, or None to stay silent. Called under lock."""
        raise NotImplementedError

    def after_answer(self, type_):
        """Hook run after the answer was written (e.g. a simulated reset)."""

    def _serve(self):
        buf = b""
        while self.running:
            self.reading.wait()
            try:
                buf += os.read(self.master, 4096)
            except OSError:
                return
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                pkt = cobs_decode(raw) if raw else b""
                if len(pkt) < 6:
                    continue
                type_, seq, body = pkt[1], pkt[2] | (pkt[3] << 8), pkt[4:-2]
                with self.lock:
                    out = self.answer(type_, seq, body)
                if out:
                    os.write(self.master, self.frame(out[0], seq, out[1]))
                self.after_answer(type_)

    def close(self):
        self.running = False
        self.reading.set()
        os.close(self.master)
        os.close(self._slave)
