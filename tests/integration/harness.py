"""Process harness for picod integration tests: start picosim and picod for real, talk to them
the way users and scripts do (picoctl, raw JSON-lines sockets, picosim's control socket).

Readiness is waited for, never slept for: picosim's "picosim: ready" stderr line, picod's
READY=1 on a NOTIFY_SOCKET the test owns, and conditions polled with a deadline.
Binaries come from the environment (set by ctest): PICOD, PICOCTL, PICOSIM.
"""
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

PICOD = os.environ.get("PICOD", "")
PICOCTL = os.environ.get("PICOCTL", "")
PICOSIM = os.environ.get("PICOSIM", "")

# PICOD_VALGRIND=1 (tools/test.sh's second run, on a build without sanitizers): picod runs
# under valgrind. A memory error, or a definite or indirect leak at exit, makes it exit 99,
# which tearDownClass reports like any other unclean exit (the details are in picod.log).
VALGRIND = ["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
            "--show-leak-kinds=definite,indirect", "--errors-for-leak-kinds=definite,indirect",
            "--track-origins=yes"] if os.environ.get("PICOD_VALGRIND") else []

# Fast timings so stale/offline transitions happen within seconds.
FAST = ["--heartbeat-ms", "200", "--poll-ms", "300", "--request-timeout-ms", "300",
        "--stale-misses", "3", "--offline-misses", "8"]


def wait_until(pred, timeout=10.0, what="condition", interval=0.02):
    """Poll pred() until it returns a truthy value; fail the test after timeout seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def _read_line_until(stream, marker, timeout):
    """Read stderr lines of a child until one contains marker; return all lines read."""
    deadline = time.monotonic() + timeout
    fd = stream.fileno()
    buf = b""
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not r:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        buf += chunk
        if marker.encode() in buf:
            return buf.decode(errors="replace")
    raise AssertionError(f"no '{marker}' within {timeout}s; got: {buf.decode(errors='replace')}")


class Picosim:
    """One simulated board: a pty at <dir>/<name>.tty and a control socket."""

    def __init__(self, workdir, name="board0", board_id=None, log=None):
        self.pty = os.path.join(workdir, name + ".tty")
        self.control_path = os.path.join(workdir, name + ".ctl")
        self.board_id = board_id
        self.log_path = log or os.path.join(workdir, name + ".log")
        self.extra_args = []  # more picosim options (e.g. --clock-ppm)
        self.proc = None

    def start(self, env=None):
        args = [PICOSIM, "--pty", self.pty, "--control", self.control_path]
        if self.board_id:
            args += ["--id", self.board_id]
        args += self.extra_args
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=env)
        text = _read_line_until(self.proc.stderr, "picosim: ready", 10)
        self._log = open(self.log_path, "a")
        self._log.write(text)
        # Keep draining stderr into the log so picosim never blocks on a full pipe.
        self._drain = subprocess.Popen(["cat"], stdin=self.proc.stderr, stdout=self._log)
        return self

    def control(self, command, timeout=5.0):
        """Send one control command; return the detail after "ok" or raise on "error"."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(self.control_path)
            s.sendall(command.encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        line = data.decode().strip()
        if not line.startswith("ok"):
            raise AssertionError(f"picosim control '{command}' answered '{line}'")
        return line[2:].strip()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self._drain.wait(5)
            self.proc.stderr.close()
            self._log.close()
        self.proc = None


class Picod:
    """picod on a socket in workdir; started with a NOTIFY_SOCKET so READY=1 is observable."""

    def __init__(self, workdir, devices=(), extra=(), log=None):
        self.workdir = workdir
        self.socket = os.path.join(workdir, "picod.sock")
        self.devices = list(devices)
        self.extra = list(extra)
        self.log_path = log or os.path.join(workdir, "picod.log")
        self.proc = None

    def start(self, wrapper=(), env=None, expect_ready=True):
        notify_path = os.path.join(self.workdir, "notify.sock")
        if os.path.exists(notify_path):
            os.unlink(notify_path)
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(notify_path)
        args = list(wrapper) + VALGRIND + [PICOD, "--socket", self.socket, "-v"] + FAST + self.extra
        for d in self.devices:
            args += ["--device", d]
        e = dict(os.environ if env is None else env)
        e["NOTIFY_SOCKET"] = notify_path
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=e)
        if expect_ready:
            self.wait_notify("READY=1")
        return self

    def wait_notify(self, what, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.notify], [], [], 0.1)
            if r:
                msg = self.notify.recv(4096).decode()
                if what in msg.split("\n"):
                    return msg
            elif self.proc.poll() is not None:
                raise AssertionError(f"picod exited with {self.proc.returncode}: {self.tail()}")
        raise AssertionError(f"no {what} from picod within {timeout}s: {self.tail()}")

    def wait_notify_prefix(self, prefix, timeout=10.0):
        """The first notification line starting with prefix (e.g. "STATUS=")."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.notify], [], [], 0.1)
            if r:
                for line in self.notify.recv(4096).decode().split("\n"):
                    if line.startswith(prefix):
                        return line
        raise AssertionError(f"no {prefix} notification within {timeout}s")

    def tail(self, n=30):
        try:
            with open(self.log_path, errors="replace") as f:  # it may quote other encodings
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def stop(self):
        """SIGTERM; returns the exit status (clean shutdown is exit 0)."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        self.notify.close()
        rc = self.proc.returncode
        self.proc = None
        if VALGRIND and rc == 99:
            print(f"valgrind found errors in picod:\n{self.tail(200)}", file=sys.stderr)
        return rc


class Client:
    """A raw JSON-lines client of picod's socket."""

    def __init__(self, path, timeout=5.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.next_id = 1

    def send_raw(self, data):
        self.sock.sendall(data)

    def recv(self, timeout=5.0):
        """Next JSON line, or None if picod closed the connection."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no line from picod in time")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def call(self, cmd, **args):
        """Send a request and return its response (events in between are skipped)."""
        rid = self.next_id
        self.next_id += 1
        self.send_raw(json.dumps(dict(args, cmd=cmd, id=rid)).encode() + b"\n")
        while True:
            msg = self.recv()
            if msg is None:
                raise AssertionError("picod closed the connection")
            if msg.get("id") == rid:
                return msg

    def next_event(self, name=None, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            msg = self.recv(max(0.01, deadline - time.monotonic()))
            if msg is None:
                raise AssertionError("picod closed the connection")
            if "event" in msg and (name is None or msg["event"] == name):
                return msg

    def close(self):
        self.sock.close()


def picoctl(sock, *args, timeout=15, check=False):
    r = subprocess.run([PICOCTL, "--socket", sock] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"picoctl {' '.join(map(str, args))} -> {r.returncode}: {r.stderr}")
    return r


def cleanup_after_failed_setup(cls):
    """unittest skips tearDownClass when setUpClass fails: stop what was started."""
    if getattr(cls, "picod", None):
        cls.picod.stop()
        cls.picod = None
    for s in getattr(cls, "sims", []):
        s.stop()


class PicodTestCase(unittest.TestCase):
    """Base: a temp dir per class; subclasses start what they need in setUpClass."""

    @classmethod
    def setUpClass(cls):
        if not PICOD or not PICOCTL:
            raise unittest.SkipTest("PICOD/PICOCTL not set (run through ctest)")
        cls.tmp = tempfile.mkdtemp(prefix="picod-it-")
        cls.sims = []
        cls.picod = None

    @classmethod
    def tearDownClass(cls):
        rc = cls.picod.stop() if cls.picod else None
        for s in cls.sims:
            s.stop()
        if os.environ.get("PICOD_KEEP_TMP"):
            print("kept", cls.tmp)
        else:
            shutil.rmtree(cls.tmp, ignore_errors=True)
        if rc not in (None, 0):
            raise AssertionError(f"picod exited {rc} on SIGTERM (expected 0)")

    @classmethod
    def start_sim(cls, name="board0", board_id=None, env=None):
        if not PICOSIM:
            raise unittest.SkipTest("picosim not built")
        sim = Picosim(cls.tmp, name, board_id).start(env)
        cls.sims.append(sim)
        return sim

    def call(self, cmd, **args):
        """One request on a connection of its own; the response."""
        c = Client(self.picod.socket)
        try:
            return c.call(cmd, **args)
        finally:
            c.close()

    def status(self, board=None):
        c = Client(self.picod.socket)
        try:
            r = c.call("status", **({"board": board} if board else {}))
        finally:
            c.close()
        self.assertTrue(r["ok"], r)
        return r["result"]["boards"]

    def board_state(self, board):
        b = self.status(board)
        return b[0]["state"] if b else None

    def wait_state(self, board, state, timeout=10.0):
        # Until its HELLO is answered picod does not know the board's id: keep waiting.
        def state_now():
            try:
                return self.board_state(board)
            except AssertionError:
                return None
        wait_until(lambda: state_now() == state, timeout, f"{board} {state}")


class RelayCase(PicodTestCase):
    """Base for classes with a relay.Relay (fault injector) in cls.relay: closed after picod."""

    @classmethod
    def start_relayed(cls, board_id, seed, picod_args):
        """picosim (board_id) <-> a relay (seeded) <-> picod started with picod_args, in
        cls.sim, cls.relay and cls.picod."""
        from relay import Relay  # (relay.py is a test tool of its own: imported when used)
        cls.sim = cls.start_sim("board0", board_id)
        cls.relay = Relay(cls.sim.pty, cls.tmp + "/relay.tty", seed=seed).start()
        cls.picod = Picod(cls.tmp, [cls.relay.link_path], extra=picod_args).start()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.relay.close()


def wait_online(sock, board, timeout=20.0):
    """Wait until picod on sock reports board online (for scripts: benchmarks)."""
    def online():
        c = Client(sock)
        try:
            r = c.call("status", board=board)
            return r["ok"] and r["result"]["boards"][0]["state"] == "online"
        finally:
            c.close()
    wait_until(online, timeout, f"{board} online")
