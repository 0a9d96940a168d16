#!/usr/bin/env python3
"""A fault-injecting relay between picod and a board, for tests and benchmarks.

    picod --device LINK  <->  [pty pair, ours]  <->  relay  <->  BOARD (picosim's pty, or the
                                                                  emulated Pico's pty bridge)

The relay opens the board's pty and makes a pty pair of its own whose slave it symlinks at
LINK for picod to open. Bytes are copied both ways; each direction has its own faults:

  - ber:      bit error rate: each bit is flipped with this probability
  - drop:     each byte is lost with this probability (delimiters included)
  - garbage:  before each byte, with this probability, a burst of 1..garbage_max random bytes
  - truncate: each frame, with this probability, loses a random tail (its delimiter stays)
  - replay:   after each frame, with this probability, an old frame again: one of the last
              replay_depth (default 16) frames, or with replay_min_age, one at least that many
              frames old (replay_min_age 40 > PROTO_SEQ_WINDOW: older than the board's window)

and a scripted mode: drop_next(direction, type) drops the next whole frame of that message
type (the frame found by decoding the COBS frames, with the independent Python protocol code
in tools/proto_vectors.py) and sets the returned event when it did; replay(direction, pred)
sends an old frame again (the newest with pred(type, seq)) after the next frame;
fault_next(direction, fn) sends the next frame as fn(raw) (one fault, at a chosen frame).

Faults are seeded (one random.Random per direction, seeded from seed and the direction's name)
and decided byte by byte and frame by frame, so the same byte stream meets the same faults
whatever the read chunking. Frame-level faults see the clean stream; byte-level faults apply
to what leaves the relay. Every clean frame is logged (time, type, seq) per direction.

Python 3 stdlib only. As a program: python3 relay.py --board PTY --link PATH [fault options];
it runs until SIGINT/SIGTERM and prints its counters.
"""
import argparse
import collections
import errno
import math
import os
import random
import select
import signal
import sys
import threading
import time
import tty

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from proto_vectors import cobs_decode, crc16_ccitt_false  # noqa: E402

H2B = "h2b"  # host (picod) -> board
B2H = "b2h"  # board -> host
MAX_PENDING = 4096  # a "frame" longer than this without a 0x00 is passed on as it is
HISTORY = 1024  # frames kept for replays


class Faults:
    """Fault rates of one direction (all probabilities, 0 = off)."""

    def __init__(self, ber=0.0, drop=0.0, garbage=0.0, garbage_max=16, truncate=0.0, replay=0.0,
                 replay_depth=16, replay_min_age=0):
        self.ber, self.drop, self.garbage = ber, drop, garbage
        self.garbage_max, self.truncate, self.replay = garbage_max, truncate, replay
        self.replay_depth = max(replay_depth, replay_min_age + 1)
        self.replay_min_age = replay_min_age

    def __repr__(self):
        return (f"Faults(ber={self.ber}, drop={self.drop}, garbage={self.garbage}, "
                f"truncate={self.truncate}, replay={self.replay}, "
                f"replay_depth={self.replay_depth}, replay_min_age={self.replay_min_age})")


def parse_frame(raw):
    """(type, seq) of a clean COBS frame (no delimiters), or None if it is not a good frame."""
    try:
        pkt = cobs_decode(raw)
    except IndexError:
        return None
    if len(pkt) < 6:
        return None
    if crc16_ccitt_false(pkt[:-2]) != (pkt[-2] | (pkt[-1] << 8)):
        return None
    return pkt[1], pkt[2] | (pkt[3] << 8)


class Direction:
    """One direction's state: the frame being collected, faults, scripted drops, counters."""

    def __init__(self, name, seed):
        self.name = name
        self.rng = random.Random(f"{seed}-{name}")
        self.faults = Faults()
        self.pending = bytearray()  # clean bytes of the frame being collected
        self.history = collections.deque(maxlen=HISTORY)  # clean frames, newest last
        self.log = collections.deque(maxlen=100000)  # (monotonic time, type, seq)
        self.scripted = []  # [type, threading.Event]
        self.scripted_replays = []  # [predicate(type, seq), threading.Event]
        self.scripted_faults = []  # [fn(raw frame) -> bytes sent instead, threading.Event]
        self.replays = collections.deque(maxlen=100000)  # replayed frames: (time, type, seq)
        self.bit_skip = None  # clean bits until the next flip (geometric), None = recompute
        self.stats = collections.Counter()

    def set_faults(self, faults):
        self.faults = faults or Faults()
        self.bit_skip = None

    # ---- frame level (clean stream) ----

    def feed(self, data):
        """Clean bytes in; bytes to send out (after all faults)."""
        out = bytearray()
        for b in data:
            if b != 0:
                self.pending.append(b)
                if len(self.pending) > MAX_PENDING:
                    out += self.pending
                    self.pending.clear()
                continue
            raw = bytes(self.pending)
            self.pending.clear()
            out += self._frame(raw)
        self.stats["bytes_in"] += len(data)
        return self._corrupt(out)

    def _frame(self, raw):
        if not raw:
            return b"\0"  # an empty frame (a leading delimiter): passed on as it is
        self.stats["frames"] += 1
        parsed = parse_frame(raw)
        if parsed:
            self.log.append((time.monotonic(), parsed[0], parsed[1]))
            for i, (type_, ev) in enumerate(self.scripted):
                if type_ == parsed[0]:
                    del self.scripted[i]
                    self.stats["scripted_drops"] += 1
                    ev.set()
                    return b""
        if self.scripted_faults:
            fn, ev = self.scripted_faults.pop(0)
            self.stats["scripted_faults"] += 1
            self.history.append(raw)
            ev.set()
            return fn(raw)
        f = self.faults
        out = raw
        if f.truncate and len(raw) > 1 and self.rng.random() < f.truncate:
            out = raw[:self.rng.randrange(1, len(raw))]
            self.stats["truncated"] += 1
        out = out + b"\0"
        if f.replay and self.rng.random() < f.replay:
            # age 1 = the frame just before this one
            ages = range(max(1, f.replay_min_age), min(f.replay_depth, len(self.history)) + 1)
            if ages:
                old = self.history[-self.rng.choice(ages)]
                out += b"\0" + old + b"\0"
                self.stats["replayed"] += 1
                p = parse_frame(old)
                if p:
                    self.replays.append((time.monotonic(), p[0], p[1]))
        self.history.append(raw)
        for i, (pred, ev) in enumerate(self.scripted_replays):
            old = next((h for h in reversed(self.history) if (p := parse_frame(h)) and pred(*p)),
                       None)
            if old is not None:
                del self.scripted_replays[i]
                out += b"\0" + old + b"\0"
                self.stats["scripted_replays"] += 1
                ev.set()
                break
        return out

    # ---- byte level (what leaves the relay) ----

    def _next_flip(self):
        ber = self.faults.ber
        if ber <= 0:
            return math.inf
        if ber >= 1:
            return 0
        return int(math.log(1.0 - self.rng.random()) / math.log(1.0 - ber))

    def _corrupt(self, data):
        f = self.faults
        if not (f.ber or f.drop or f.garbage):
            return bytes(data)
        if self.bit_skip is None:
            self.bit_skip = self._next_flip()
        out = bytearray()
        for b in data:
            if f.garbage and self.rng.random() < f.garbage:
                n = self.rng.randint(1, f.garbage_max)
                out += bytes(self.rng.getrandbits(8) for _ in range(n))
                self.stats["garbage_bursts"] += 1
                self.stats["garbage_bytes"] += n
            while self.bit_skip < 8:
                b ^= 1 << int(self.bit_skip)
                self.stats["bits_flipped"] += 1
                self.bit_skip += 1 + self._next_flip()
            self.bit_skip -= 8
            if f.drop and self.rng.random() < f.drop:
                self.stats["bytes_dropped"] += 1
                continue
            out.append(b)
        return bytes(out)


class Relay:
    """The relay, on a thread of its own. Methods may be called from any thread."""

    def __init__(self, board_path, link_path, seed=1):
        self.board_path, self.link_path = board_path, link_path
        self.dirs = {H2B: Direction(H2B, seed), B2H: Direction(B2H, seed)}
        self.lock = threading.Lock()
        self.running = False
        self.thread = None

    def start(self):
        self.board = os.open(self.board_path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self.board)
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)  # held open so the pty stays up while picod reopens it
        os.set_blocking(self.master, False)
        if os.path.lexists(self.link_path):
            os.unlink(self.link_path)
        os.symlink(os.ttyname(self._slave), self.link_path)
        self._wake_r, self._wake_w = os.pipe()
        self.running = True
        self.thread = threading.Thread(target=self._run, name="relay", daemon=True)
        self.thread.start()
        return self

    def set_faults(self, direction, faults):
        """Faults for one direction (None = none)."""
        with self.lock:
            self.dirs[direction].set_faults(faults)

    def drop_next(self, direction, msg_type):
        """Drop the next frame of msg_type going that way; the event is set when it is."""
        ev = threading.Event()
        with self.lock:
            self.dirs[direction].scripted.append([msg_type, ev])
        return ev

    def replay(self, direction, pred):
        """After the next frame going that way, send again the newest earlier frame for which
        pred(type, seq) is true; the event is set when it is sent."""
        ev = threading.Event()
        with self.lock:
            self.dirs[direction].scripted_replays.append([pred, ev])
        return ev

    def fault_next(self, direction, fn):
        """The next frame going that way (raw COBS bytes, no delimiters) is sent as fn(raw)
        instead of raw + 0x00 (one scripted fault); the event is set when it is."""
        ev = threading.Event()
        with self.lock:
            self.dirs[direction].scripted_faults.append([fn, ev])
        return ev

    def frames(self, direction):
        """The clean frames seen so far: a list of (monotonic time, type, seq)."""
        with self.lock:
            return list(self.dirs[direction].log)

    def replays(self, direction):
        """The good frames replayed so far: a list of (monotonic time, type, seq)."""
        with self.lock:
            return list(self.dirs[direction].replays)

    def stats(self, direction):
        with self.lock:
            return dict(self.dirs[direction].stats)

    def _send(self, fd, data, d):
        """Write what the destination takes now; a full line loses the rest (counted)."""
        while data:
            try:
                n = os.write(fd, data)
            except BlockingIOError:
                n = 0
            except OSError as e:
                if e.errno not in (errno.EIO, errno.EAGAIN):
                    raise
                n = 0
            if n == 0:
                d.stats["overflow_bytes"] += len(data)
                return
            data = data[n:]

    def _run(self):
        ends = {self.master: (self.board, H2B), self.board: (self.master, B2H)}
        while self.running:
            r, _, _ = select.select([self.master, self.board, self._wake_r], [], [])
            for fd in r:
                if fd == self._wake_r:
                    continue
                try:
                    data = os.read(fd, 4096)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError as e:
                    if e.errno == errno.EIO:  # the board's pty went away (picosim stopped)
                        time.sleep(0.01)
                        continue
                    raise
                if not data:
                    continue
                dst, name = ends[fd]
                with self.lock:
                    out = self.dirs[name].feed(data)
                if out:
                    self._send(dst, out, self.dirs[name])

    def close(self):
        if not self.running:
            return
        self.running = False
        os.write(self._wake_w, b"x")
        self.thread.join(5)
        for fd in (self.master, self._slave, self.board, self._wake_r, self._wake_w):
            os.close(fd)
        if os.path.islink(self.link_path):
            os.unlink(self.link_path)


def faults_from_args(a):
    return Faults(ber=a.ber, drop=a.drop, garbage=a.garbage, garbage_max=a.garbage_max,
                  truncate=a.truncate, replay=a.replay, replay_depth=a.replay_depth,
                  replay_min_age=a.replay_min_age)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--board", required=True, help="the board's pty (picosim --pty PATH)")
    p.add_argument("--link", required=True, help="where to put the pty for picod --device")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--ber", type=float, default=0.0)
    p.add_argument("--drop", type=float, default=0.0)
    p.add_argument("--garbage", type=float, default=0.0)
    p.add_argument("--garbage-max", type=int, default=16)
    p.add_argument("--truncate", type=float, default=0.0)
    p.add_argument("--replay", type=float, default=0.0)
    p.add_argument("--replay-depth", type=int, default=16, help="replay one of the last N frames")
    p.add_argument("--replay-min-age", type=int, default=0,
                   help="replay only frames at least this many frames old")
    p.add_argument("--only", choices=[H2B, B2H], help="faults in one direction only")
    p.add_argument("--drop-next", action="append", default=[], metavar="DIR:TYPE",
                   help="drop the next frame of TYPE (e.g. b2h:0x85) going DIR")
    a = p.parse_args()
    relay = Relay(a.board, a.link, a.seed).start()
    for d in (H2B, B2H):
        if a.only in (None, d):
            relay.set_faults(d, faults_from_args(a))
    for spec in a.drop_next:
        d, t = spec.split(":")
        relay.drop_next(d, int(t, 0))
    stop = threading.Event()
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, lambda *_: stop.set())
    print(f"relay: {a.board} <-> {a.link} (seed {a.seed})", file=sys.stderr, flush=True)
    stop.wait()
    relay.close()
    for d in (H2B, B2H):
        print(f"relay {d}: {relay.stats(d)}", file=sys.stderr)


if __name__ == "__main__":
    main()
