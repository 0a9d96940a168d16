"""MQTT parts for the picod-mqtt tests: a real mosquitto broker on a free loopback port with a
generated config (no system service), picod-mqtt itself, and a subscriber (mosquitto_sub) that
records every message the way Home Assistant would see it.

Readiness is waited for, never slept for: the broker by connecting to its port, the bridge by
its retained bridge/state "online", messages by a condition on what the subscriber recorded.
"""
import json
import os
import pwd
import signal
import socket
import subprocess
import threading
import time

from harness import wait_until

PICOD_MQTT = os.environ.get("PICOD_MQTT", "")
MOSQUITTO = "/usr/sbin/mosquitto"


def stop_process(proc, timeout=10):
    """SIGTERM, then SIGKILL if it has not ended within timeout; returns the exit status."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """mosquitto from a config in workdir. extra: more config lines (auth, TLS listener)."""

    def __init__(self, workdir, name="broker", extra=(), port=None, tls_port=None):
        self.workdir = workdir
        self.name = name
        self.port = port or free_port()
        self.tls_port = tls_port
        self.extra = list(extra)
        self.conf = os.path.join(workdir, name + ".conf")
        self.log_path = os.path.join(workdir, name + ".log")
        self.proc = None

    def start(self):
        with open(self.conf, "w") as f:
            f.write(f"listener {self.port} 127.0.0.1\n")
            f.write("persistence false\n")
            # started as root, mosquitto would become user "mosquitto", who cannot read the
            # test's private directory (password file, certificates): stay who we are
            f.write(f"user {pwd.getpwuid(os.getuid()).pw_name}\n")
            if not any(x.startswith("allow_anonymous") for x in self.extra):
                f.write("allow_anonymous true\n")  # mosquitto 2's default is false
            f.write("\n".join(self.extra) + "\n")
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", self.conf], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        for port in [self.port] + ([self.tls_port] if self.tls_port else []):
            wait_until(lambda p=port: self._listening(p), 10, f"mosquitto on port {port}")
        return self

    def _listening(self, port):
        if self.proc.poll() is not None:
            raise AssertionError(f"mosquitto exited {self.proc.returncode}: {self.tail()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False

    def tail(self):
        try:
            with open(self.log_path) as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc:
            stop_process(self.proc)
            self.log.close()
        self.proc = None


class Subscriber:
    """mosquitto_sub on topics; records (topic, payload, retained) in arrival order."""

    def __init__(self, port, topics=("#",), args=()):
        cmd = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-F", "%j"]
        cmd += list(args)
        for t in topics:
            cmd += ["-t", t]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.messages = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            m = json.loads(line)
            with self.cond:
                self.messages.append((m["topic"], m.get("payload", ""), bool(m["retain"])))
                self.cond.notify_all()

    def wait_for(self, pred, timeout=15.0, what="a message", after=0):
        """The first message (topic, payload, retained) recorded after index `after` for which
        pred(topic, payload, retained) is true."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for m in self.messages[after:]:
                    if pred(*m):
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    tail = [f"{t} {p[:80]}" for t, p, _ in self.messages[-15:]]
                    raise AssertionError(f"timed out waiting for {what}; last: {tail}")
                self.cond.wait(left)

    def wait_topic(self, topic, payload=None, timeout=15.0, after=0):
        """The first message on topic (with that payload) recorded after index `after`."""
        return self.wait_for(lambda t, p, r: t == topic and (payload is None or p == payload),
                             timeout, f"{topic} {payload!r}", after)

    def mark(self):
        with self.cond:
            return len(self.messages)

    def latest(self, topic):
        with self.cond:
            for t, p, _ in reversed(self.messages):
                if t == topic:
                    return p
        return None

    def latest_json(self, topic):
        p = self.latest(topic)
        return json.loads(p) if p else None

    def stop(self):
        self.proc.terminate()
        self.proc.wait(5)
        self.thread.join(5)
        self.proc.stdout.close()
        self.proc.stderr.close()


def retained(port, topics=("#",), args=()):
    """The broker's retained messages under topics now: {topic: payload}. mosquitto_sub
    --retained-only prints the retained burst a new subscription gets; it stops at the first
    live message or after -W seconds (exit 27), whichever comes first."""
    cmd = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "--retained-only", "-F", "%j",
           "-W", "1"] + list(args)
    for t in topics:
        cmd += ["-t", t]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    out = {}
    for line in r.stdout.splitlines():
        m = json.loads(line)
        out[m["topic"]] = m.get("payload", "")
    return out


def publish(port, topic, payload, retain=False, args=()):
    cmd = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-t", topic,
           "-m", payload] + (["-r"] if retain else []) + list(args)
    subprocess.run(cmd, check=True, timeout=10, capture_output=True)


class Bridge:
    """picod-mqtt for one picod socket and broker."""

    def __init__(self, workdir, socket_path, port, node_id, name=None, extra=()):
        self.workdir = workdir
        self.socket = socket_path
        self.port = port
        self.node_id = node_id
        self.name = name or ("bridge-" + node_id)
        self.extra = list(extra)
        self.log_path = os.path.join(workdir, self.name + ".log")
        self.proc = None

    def start(self, broker_host="127.0.0.1"):
        args = [PICOD_MQTT, "--socket", self.socket, "--broker", f"{broker_host}:{self.port}",
                "--node-id", self.node_id, "--keepalive", "30", "-v"] + self.extra
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        return self

    def tail(self, n=40):
        try:
            with open(self.log_path) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def wait_log(self, text, timeout=15.0):
        def seen():
            if self.proc.poll() is not None and text not in self.tail(400):
                raise AssertionError(f"picod-mqtt exited {self.proc.returncode}: {self.tail()}")
            return text in self.tail(400)
        wait_until(seen, timeout, f"'{text}' in picod-mqtt's log")

    def signal(self, sig):
        self.proc.send_signal(sig)

    def kill(self):
        self.proc.kill()
        self.proc.wait(5)
        self.log.close()
        self.proc = None

    def stop(self):
        """SIGTERM; returns the exit status (a clean stop is 0)."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a test may have frozen it
        stop_process(self.proc)
        self.log.close()
        rc = self.proc.returncode
        self.proc = None
        return rc
