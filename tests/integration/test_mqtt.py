"""picod-mqtt against a real mosquitto, with real picod and picosim: Home Assistant discovery,
state and availability, button triggers, the light and the request/response topics, and what
happens when the bridge, the broker or picod go away (docs/MQTT.md)."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from harness import Client, Picod, PicodTestCase, cleanup_after_failed_setup, picoctl, wait_until
from mqtt_harness import PICOD_MQTT, Bridge, Broker, Subscriber, free_port, publish, retained

BOARD = "0123456789abcdef"
NODE = "hostA"
P = "homeassistant"


def board_topic(suffix, node=NODE, board=BOARD):
    return f"picod/{node}/{board}/{suffix}"


def config_topic(component, obj, node=NODE, board=BOARD):
    return f"{P}/{component}/{node}_{board}/{obj}/config"


class MqttTestCase(PicodTestCase):
    """picosim + picod + mosquitto + picod-mqtt (+ a subscriber to everything)."""

    @classmethod
    def setUpClass(cls):
        if not PICOD_MQTT:
            raise unittest.SkipTest("PICOD_MQTT not set (picod-mqtt not built)")
        super().setUpClass()
        cls.bridges = []
        cls.brokers = []
        try:
            cls.sim = cls.start_sim("board0", BOARD)
            cls.picod = Picod(cls.tmp, [cls.sim.pty]).start()
            cls.start_mqtt()
        except BaseException:
            cls.cleanup()
            raise

    @classmethod
    def start_mqtt(cls):
        """The broker, a subscriber and the bridge (a class that needs another order overrides
        this)."""
        cls.broker = cls.start_broker()
        cls.sub = Subscriber(cls.broker.port)
        cls.bridge = cls.start_bridge(cls.picod.socket, NODE)
        cls.sub.wait_topic(f"picod/{NODE}/bridge/state", "online")

    @classmethod
    def start_broker(cls, **kw):
        b = Broker(cls.tmp, f"broker{len(cls.brokers)}", **kw).start()
        cls.brokers.append(b)
        return b

    @classmethod
    def start_bridge(cls, sock, node, port=None, extra=()):
        b = Bridge(cls.tmp, sock, port or cls.broker.port, node, extra=extra).start()
        cls.bridges.append(b)
        return b

    @classmethod
    def cleanup(cls):
        rcs = [b.stop() for b in cls.bridges]
        if getattr(cls, "sub", None):
            cls.sub.stop()
        for b in cls.brokers:
            b.stop()
        cleanup_after_failed_setup(cls)
        return rcs

    @classmethod
    def tearDownClass(cls):
        rcs = cls.cleanup()
        super().tearDownClass()
        if any(rc not in (None, 0) for rc in rcs):
            raise AssertionError(f"picod-mqtt exited {rcs} on SIGTERM (expected 0)")

    def board_online(self):
        self.sub.wait_topic(board_topic("availability"), "online")

    def watch(self):
        c = Client(self.picod.socket)
        self.assertTrue(c.call("watch")["ok"])
        return c


class TestMqttBridge(MqttTestCase):
    def setUp(self):
        self.wait_state(BOARD, "online")
        self.board_online()

    def test_discovery_configs_carry_every_field(self):
        self.sub.wait_topic(config_topic("sensor", "s0_pressure"))
        cfg = {t: json.loads(p) for t, p in retained(self.broker.port, [f"{P}/#"]).items() if p}
        bridge = cfg[f"{P}/binary_sensor/{NODE}_bridge/connection/config"]
        self.assertEqual(bridge["device_class"], "connectivity")
        self.assertEqual(bridge["state_topic"], f"picod/{NODE}/bridge/state")
        via = bridge["device"]["identifiers"][0]
        self.assertEqual(via, f"picod-mqtt_{NODE}")

        expect = {"s0_temperature": ("temperature", "\u00b0C"), "s0_humidity": ("humidity", "%"),
                  "s0_pressure": ("pressure", "Pa")}
        for obj, (dc, unit) in expect.items():
            c = cfg[config_topic("sensor", obj)]
            self.assertEqual((c["device_class"], c["unit_of_measurement"]), (dc, unit), obj)
            self.assertEqual(c["state_class"], "measurement", obj)
            self.assertEqual(c["unique_id"], f"picod_{BOARD}_{obj}")
            self.assertEqual(c["state_topic"], board_topic("sensor/0"))
            self.assertIn("value_json.", c["value_template"])
            self.assertEqual(c["availability_mode"], "all")
            self.assertEqual({a["topic"] for a in c["availability"]},
                             {f"picod/{NODE}/bridge/state", board_topic("availability")})
        dev = cfg[config_topic("sensor", "s0_temperature")]["device"]
        self.assertEqual(dev["identifiers"], [f"picod_{BOARD}"])
        self.assertEqual(dev["serial_number"], BOARD)
        self.assertEqual(dev["sw_version"], "0.1.0")
        self.assertEqual(dev["via_device"], via)

        light = cfg[config_topic("light", "led")]
        self.assertEqual(light["command_topic"], board_topic("led/set"))
        self.assertEqual(light["state_topic"], board_topic("state"))
        self.assertEqual(light["effect_command_topic"], board_topic("led/effect/set"))
        self.assertTrue({"blink", "heartbeat"} <= set(light["effect_list"]))
        self.assertEqual(light["unique_id"], f"picod_{BOARD}_led")

        for t in ("button_short_press", "button_long_press", "button_double_press"):
            c = cfg[config_topic("device_automation", t)]
            self.assertEqual((c["automation_type"], c["type"], c["payload"]), ("trigger", t, t))
            self.assertEqual(c["topic"], board_topic("action"))
            self.assertEqual(c["subtype"], "button_1")
            self.assertEqual(c["device"]["identifiers"], [f"picod_{BOARD}"])

        state = cfg[config_topic("sensor", "state")]
        self.assertEqual(state["entity_category"], "diagnostic")
        self.assertIn("online", state["options"])
        lq = cfg[config_topic("sensor", "link_quality")]
        self.assertEqual((lq["entity_category"], lq["unit_of_measurement"]), ("diagnostic", "%"))
        # Every entity's unique_id is built from the board id, so it survives restarts.
        uids = [c["unique_id"] for t, c in cfg.items() if "unique_id" in c and BOARD in t]
        self.assertTrue(all(BOARD in u for u in uids), uids)
        self.assertEqual(len(uids), len(set(uids)))

    def test_state_is_retained_json_with_link_quality(self):
        wait_until(lambda: (self.sub.latest_json(board_topic("state")) or {}).get(
            "link_quality") is not None, 20, "link quality in the state")
        st = retained(self.broker.port, [board_topic("#")])
        state = json.loads(st[board_topic("state")])
        self.assertEqual(state["state"], "online")
        self.assertEqual(state["firmware"], "0.1.0")
        self.assertEqual(state["link_quality"], 100)
        self.assertEqual(st[board_topic("availability")], "online")

    def test_reading_reaches_the_state_topic(self):
        self.sim.control("set temp 23.25")
        self.sim.control("set humidity 61.5")
        wait_until(lambda: (self.sub.latest_json(board_topic("sensor/0")) or {}).get(
            "temperature") == 23.25, 15, "23.25 on the sensor topic")
        r = self.sub.latest_json(board_topic("sensor/0"))
        self.assertAlmostEqual(r["humidity"], 61.5, delta=0.1)  # the BME280's resolution
        self.assertEqual((r["kind"], r["status"]), ("bme280", "ok"))
        # published on change only: the same reading polled again is not sent again
        mark = self.sub.mark()
        c = self.watch()
        try:
            for _ in range(3):
                c.next_event("sensor")
        finally:
            c.close()
        self.assertFalse([m for m in self.sub.messages[mark:] if m[0] == board_topic("sensor/0")])

    def test_button_clicks_produce_device_triggers(self):
        action = board_topic("action")
        mark = self.sub.mark()
        self.sim.control("click")
        self.sub.wait_topic(action, "button_short_press", after=mark)
        # The gesture itself: a press within 400 ms of the previous one makes a double press
        # (firmware CONFIG_BUTTON_DOUBLE_US), so a separate press comes after a pause.
        time.sleep(0.5)
        mark = self.sub.mark()
        self.sim.control("click 1300")
        self.sub.wait_topic(action, "button_long_press", after=mark)
        time.sleep(0.5)
        # Two presses 150 ms apart: longer than the 20 ms debounce (closer ones are one press),
        # within the 400 ms of a double press.
        self.sim.control("click 50")
        time.sleep(0.1)
        self.sim.control("click 50")
        self.sub.wait_topic(action, "button_double_press", after=mark)
        acts = [(p, r) for t, p, r in self.sub.messages[mark:] if t == action]
        # the long press is not also a short one; triggers are events, never retained
        self.assertEqual(acts[:3], [("button_long_press", False), ("button_short_press", False),
                                    ("button_double_press", False)])

    def test_light_command_topic_drives_the_led(self):
        publish(self.broker.port, board_topic("led/set"), "ON")
        wait_until(lambda: self.sim.control("led") == "on", 10, "LED on")
        wait_until(lambda: (self.sub.latest_json(board_topic("state")) or {}).get("led") == "ON",
                   10, "state led ON")
        publish(self.broker.port, board_topic("led/set"), "OFF")
        wait_until(lambda: self.sim.control("led") == "off", 10, "LED off")
        wait_until(lambda: (self.sub.latest_json(board_topic("state")) or {}).get("led") == "OFF",
                   10, "state led OFF")
        publish(self.broker.port, board_topic("led/effect/set"), "blink")
        wait_until(lambda: self.status(BOARD)[0]["led"]["mode"] == "blink", 10, "LED blinking")
        st = self.sub.wait_for(lambda t, p, r: t == board_topic("state") and
                               json.loads(p).get("effect") == "blink", 10, "effect blink")
        self.assertEqual(json.loads(st[1])["led"], "ON")
        publish(self.broker.port, board_topic("led/effect/set"), "heartbeat")
        wait_until(lambda: self.status(BOARD)[0]["led"]["mode"] == "auto", 10, "LED heartbeat")

    def test_requests_are_answered_with_transaction_and_picods_error_code(self):
        resp = f"picod/{NODE}/bridge/response/"
        mark = self.sub.mark()
        publish(self.broker.port, f"picod/{NODE}/bridge/request/poll",
                json.dumps({"board": BOARD, "sensor": "all", "interval_ms": 0,
                            "transaction": "t-poll"}))
        m = self.sub.wait_topic(resp + "poll", after=mark)
        r = json.loads(m[1])
        self.assertEqual((r["status"], r["transaction"]), ("ok", "t-poll"), r)
        self.assertEqual(r["data"]["board"], BOARD)
        self.assertFalse(m[2], "responses are not retained")

        mark = self.sub.mark()
        publish(self.broker.port, f"picod/{NODE}/bridge/request/i2c",
                json.dumps({"board": BOARD, "op": "scan", "transaction": 7}))
        r = json.loads(self.sub.wait_topic(resp + "i2c", after=mark)[1])
        self.assertEqual((r["status"], r["transaction"]), ("ok", 7), r)
        self.assertIn(118, r["data"]["addresses"])

        mark = self.sub.mark()
        publish(self.broker.port, f"picod/{NODE}/bridge/request/poll",
                json.dumps({"board": "ffff", "interval_ms": 0, "transaction": "t2"}))
        r = json.loads(self.sub.wait_topic(resp + "poll", after=mark)[1])
        self.assertEqual((r["status"], r["code"], r["transaction"]),
                         ("error", "unknown_board", "t2"), r)
        self.assertIn("ffff", r["error"])

        mark = self.sub.mark()
        publish(self.broker.port, f"picod/{NODE}/bridge/request/reboot", json.dumps({"board": BOARD}))
        r = json.loads(self.sub.wait_topic(resp + "reboot", after=mark)[1])
        self.assertEqual((r["status"], r["code"]), ("error", "missing_argument"), r)

        mark = self.sub.mark()
        publish(self.broker.port, f"picod/{NODE}/bridge/request/poll", "not json")
        r = json.loads(self.sub.wait_topic(resp + "poll", after=mark)[1])
        self.assertEqual((r["status"], r["code"]), ("error", "invalid_request"), r)

    def test_a_repeated_transaction_is_not_executed_twice(self):
        """A QoS 1 publisher that did not get its PUBACK sends again (dup): the broker forwards
        both. The second reboot with the same transaction is answered, not executed."""
        c = self.watch()
        try:
            req = json.dumps({"board": BOARD, "transaction": "reboot-once"})
            resp = f"picod/{NODE}/bridge/response/reboot"
            mark = self.sub.mark()
            publish(self.broker.port, f"picod/{NODE}/bridge/request/reboot", req)
            first = self.sub.wait_topic(resp, after=mark)
            self.assertEqual(json.loads(first[1])["status"], "ok", first)
            c.next_event("board_reset", timeout=15)
            self.wait_state(BOARD, "online", 15)
            mark = self.sub.mark()
            publish(self.broker.port, f"picod/{NODE}/bridge/request/reboot", req)
            second = self.sub.wait_topic(resp, after=mark)
            self.assertEqual(second[1], first[1])
            # no second reset: a sensor event after the answer, and no board_reset before it
            while True:
                ev = c.next_event(timeout=10)
                self.assertNotEqual(ev["event"], "board_reset", ev)
                if ev["event"] == "sensor":
                    break
        finally:
            c.close()
        self.assertIn("not executed again", self.bridge.tail(200))

    def test_stale_board_is_shown_unavailable(self):
        self.sim.control("silent on")
        try:
            self.sub.wait_topic(board_topic("availability"), "offline", timeout=15,
                                after=self.sub.mark())
            st = json.loads(retained(self.broker.port, [board_topic("state")])[board_topic("state")])
            self.assertIn(st["state"], ("stale", "offline"))
        finally:
            self.sim.control("silent off")
        self.sub.wait_topic(board_topic("availability"), "online", timeout=15,
                            after=self.sub.mark())

    def test_home_assistant_online_republishes_discovery(self):
        mark = self.sub.mark()
        publish(self.broker.port, f"{P}/status", "online")
        m = self.sub.wait_topic(config_topic("light", "led"), after=mark)
        self.assertFalse(m[2], "sent again live, not the stored copy")


class TestMqttRobustness(MqttTestCase):
    def setUp(self):
        self.wait_state(BOARD, "online")
        self.board_online()

    def test_1_retained_command_is_not_executed_again_on_reconnect(self):
        # retained ON, live: executed once. LED off by picoctl. A restarted bridge gets the
        # stored ON when it subscribes, and must not act on it.
        publish(self.broker.port, board_topic("led/set"), "ON", retain=True)
        wait_until(lambda: self.sim.control("led") == "on", 10, "LED on")
        picoctl(self.picod.socket, "led", BOARD, "off", check=True)
        self.assertEqual(self.bridge.stop(), 0)
        self.bridge.start()
        self.bridge.wait_log("a retained command, ignored")
        self.assertEqual(self.sim.control("led"), "off")
        publish(self.broker.port, board_topic("led/set"), "", retain=True)

    def test_2_broker_restart_republishes(self):
        self.broker.stop()
        self.sub.stop()
        self.broker.start()  # same port, empty: no retained messages survive
        self.sub = type(self).sub = Subscriber(self.broker.port)
        self.sub.wait_topic(f"picod/{NODE}/bridge/state", "online", timeout=30)
        self.sub.wait_topic(config_topic("light", "led"), timeout=15)
        self.sub.wait_topic(board_topic("availability"), "online", timeout=15)
        self.bridge.wait_log("connected to the broker")

    def test_3_picod_restart_rewatches_and_loses_no_event(self):
        """picod restarts while the bridge is frozen; a click happens before the bridge can
        watch again: the bridge gets it from the new picod's history (watch since)."""
        self.bridge.signal(signal.SIGSTOP)
        try:
            self.assertEqual(self.picod.stop(), 0)
            self.picod.start()
            self.wait_state(BOARD, "online")
            c = self.watch()
            try:
                self.sim.control("click")
                while c.next_event("button")["kind"] != "release":
                    pass
            finally:
                c.close()
            mark = self.sub.mark()
        finally:
            self.bridge.signal(signal.SIGCONT)
        self.sub.wait_topic(board_topic("action"), "button_short_press", after=mark, timeout=20)
        self.bridge.wait_log("picod restarted")
        self.sub.wait_topic(board_topic("availability"), "online", timeout=15)

    def test_4_slow_broker_keeps_memory_bounded(self):
        """A broker that stops reading: the bridge keeps one payload per state topic and a
        bounded queue of triggers, and catches up with the latest values when it reads again."""
        def rss_kb():
            with open(f"/proc/{self.bridge.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        self.broker.proc.send_signal(signal.SIGSTOP)
        try:
            before = rss_kb()
            c = Client(self.picod.socket)
            try:
                self.assertTrue(c.call("poll", board=BOARD, sensor="all", interval_ms=50)["ok"])
                for i in range(300):
                    self.sim.control(f"set temp {20 + i / 100:.2f}")
                for _ in range(30):
                    self.sim.control("click 30")
                w = self.watch()
                try:
                    while w.next_event("sensor").get("temp_c") != 22.99:
                        pass
                finally:
                    w.close()
                self.assertTrue(c.call("poll", board=BOARD, sensor="all", interval_ms=0)["ok"])
            finally:
                c.close()
            grown = rss_kb() - before
            self.assertLess(grown, 4096, f"RSS grew {grown} KiB while the broker did not read")
        finally:
            self.broker.proc.send_signal(signal.SIGCONT)
        wait_until(lambda: (self.sub.latest_json(board_topic("sensor/0")) or {}).get(
            "temperature") == 22.99, 30, "the latest temperature once the broker reads")

    def test_5_last_will_marks_everything_offline_on_sigkill(self):
        mark = self.sub.mark()
        self.bridge.kill()
        self.sub.wait_topic(f"picod/{NODE}/bridge/state", "offline", timeout=15, after=mark)
        st = retained(self.broker.port, [f"picod/{NODE}/bridge/state"])
        self.assertEqual(st[f"picod/{NODE}/bridge/state"], "offline")
        mark = self.sub.mark()
        self.bridge.start()
        self.sub.wait_topic(f"picod/{NODE}/bridge/state", "online", timeout=15, after=mark)


    def test_6_stops_cleanly_with_requests_under_way(self):
        """SIGTERM while picod has not answered: exit 0, nothing leaked (under ASan a leak of
        the pending request makes the exit status non-zero)."""
        self.picod.proc.send_signal(signal.SIGSTOP)
        try:
            publish(self.broker.port, f"picod/{NODE}/bridge/request/ping",
                    json.dumps({"transaction": "never-answered"}))
            self.bridge.wait_log("never-answered")
            self.assertEqual(self.bridge.stop(), 0, self.bridge.tail())
        finally:
            self.picod.proc.send_signal(signal.SIGCONT)
        mark = self.sub.mark()
        self.bridge.start()
        self.sub.wait_topic(f"picod/{NODE}/bridge/state", "online", timeout=15, after=mark)


class TestMqttBrokerDownAtStart(MqttTestCase):
    @classmethod
    def start_mqtt(cls):
        cls.broker = Broker(cls.tmp, "late")  # not started: the bridge comes first
        cls.brokers.append(cls.broker)
        cls.bridge = cls.start_bridge(cls.picod.socket, NODE)

    def test_bridge_connects_once_the_broker_is_up(self):
        self.bridge.wait_log("watching picod")
        self.bridge.wait_log("retrying")
        self.broker.start()
        self.sub = type(self).sub = Subscriber(self.broker.port)
        self.sub.wait_topic(f"picod/{NODE}/bridge/state", "online", timeout=40)
        self.sub.wait_topic(config_topic("light", "led"), timeout=15)
        self.sub.wait_topic(board_topic("availability"), "online", timeout=15)


class TestMqttTwoHosts(MqttTestCase):
    """Two hosts, each with its picod and bridge, on one broker."""
    BOARD_B = "b0b0b0b0b0b0b0b0"

    @classmethod
    def start_mqtt(cls):
        super().start_mqtt()
        hostb = os.path.join(cls.tmp, "hostB")
        os.mkdir(hostb)
        cls.sim_b = cls.start_sim("hostB/board", cls.BOARD_B)
        cls.picod_b = Picod(hostb, [cls.sim_b.pty]).start()
        cls.bridge_b = cls.start_bridge(cls.picod_b.socket, "hostB")

    @classmethod
    def tearDownClass(cls):
        rc = cls.picod_b.stop() if getattr(cls, "picod_b", None) else None
        super().tearDownClass()
        if rc not in (None, 0):
            raise AssertionError(f"second picod exited {rc}")

    def test_both_boards_appear_each_under_its_host(self):
        a = self.sub.wait_topic(config_topic("light", "led"))
        b = self.sub.wait_topic(config_topic("light", "led", "hostB", self.BOARD_B))
        da, db = json.loads(a[1])["device"], json.loads(b[1])["device"]
        self.assertEqual(da["via_device"], "picod-mqtt_hostA")
        self.assertEqual(db["via_device"], "picod-mqtt_hostB")
        self.sub.wait_topic(f"{P}/binary_sensor/hostB_bridge/connection/config")
        self.sub.wait_topic(board_topic("availability", "hostB", self.BOARD_B), "online")
        self.sub.wait_topic(board_topic("availability"), "online")
        publish(self.broker.port, board_topic("led/set", "hostB", self.BOARD_B), "OFF")
        wait_until(lambda: self.sim_b.control("led") == "off", 10, "host B's LED off")


class TestMqttTlsAndAuth(MqttTestCase):
    """A broker as a real installation has it: TLS with its own CA, no anonymous users."""

    @classmethod
    def start_mqtt(cls):
        cls.make_ca()
        pw = os.path.join(cls.tmp, "passwd")
        subprocess.run(["mosquitto_passwd", "-c", "-b", pw, "bridge", "s3cret"], check=True,
                       capture_output=True)
        subprocess.run(["mosquitto_passwd", "-b", pw, "ha", "hapass"], check=True,
                       capture_output=True)
        cls.tls_port = free_port()
        t = cls.tmp
        cls.broker = cls.start_broker(tls_port=cls.tls_port, extra=[
            "allow_anonymous false", f"password_file {pw}", "",
            f"listener {cls.tls_port} 127.0.0.1",
            f"cafile {t}/ca.crt", f"certfile {t}/server.crt", f"keyfile {t}/server.key"])
        cls.sub = Subscriber(cls.broker.port, args=["-u", "ha", "-P", "hapass"])
        with open(os.path.join(cls.tmp, "bridge.pw"), "w") as f:
            f.write("s3cret\n")
        cls.bridge = cls.start_bridge(cls.picod.socket, NODE, port=cls.tls_port, extra=[
            "--username", "bridge", "--password-file", os.path.join(cls.tmp, "bridge.pw"),
            "--tls-ca", os.path.join(cls.tmp, "ca.crt")])

    @classmethod
    def make_ca(cls):
        t = cls.tmp
        def ossl(*a):
            subprocess.run(["openssl"] + list(a), check=True, capture_output=True, cwd=t)
        ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
             "/CN=picod test CA", "-keyout", "ca.key", "-out", "ca.crt")
        ossl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout",
             "server.key", "-out", "server.csr")
        with open(os.path.join(t, "san.ext"), "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        ossl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.crt")

    def test_tls_with_a_password_file(self):
        self.sub.wait_topic(f"picod/{NODE}/bridge/state", "online", timeout=20)
        self.sub.wait_topic(config_topic("light", "led"), timeout=15)
        self.bridge.wait_log("(TLS)")

    def test_an_unauthorised_user_is_refused_with_a_clear_log_line(self):
        with open(os.path.join(self.tmp, "wrong.pw"), "w") as f:
            f.write("nope\n")
        bad = self.start_bridge(self.picod.socket, "intruder", port=self.tls_port, extra=[
            "--username", "bridge", "--password-file", os.path.join(self.tmp, "wrong.pw"),
            "--tls-ca", os.path.join(self.tmp, "ca.crt")])
        bad.wait_log("refused the connection")
        line = [l for l in bad.tail(50).splitlines() if "refused the connection" in l][0]
        self.assertIn("error", line)
        self.assertIn("not authorised", line)
        self.assertIn("--password-file", line)
        self.assertEqual(bad.stop(), 0)
        self.assertFalse(retained(self.broker.port, ["picod/intruder/#"],
                                  args=["-u", "ha", "-P", "hapass"]))


class TestMqttUnit(unittest.TestCase):
    """systemd/picod-mqtt.service: verifies, is hardened, may reach the network, runs after
    picod and as a user picod lets act."""
    SYSTEMD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "systemd")

    def settings(self, name):
        out = {}
        with open(os.path.join(self.SYSTEMD, name)) as f:
            for line in f:
                line = line.strip()
                if line and line[0] not in "#;[" and "=" in line:
                    k, v = line.split("=", 1)
                    out.setdefault(k.strip(), []).append(v.strip())
        return out

    def test_verify_and_exposure(self):
        if not PICOD_MQTT or not shutil.which("systemd-analyze"):
            self.skipTest("picod-mqtt or systemd-analyze missing")
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(self.SYSTEMD, "picod-mqtt.service")) as f:
                text = f.read().replace("/usr/bin/picod-mqtt", PICOD_MQTT)
            unit = os.path.join(d, "picod-mqtt.service")
            with open(unit, "w") as f:
                f.write(text)
            r = subprocess.run(["systemd-analyze", "verify", "--man=no", unit],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertNotIn("picod-mqtt", r.stderr, r.stderr)
            r = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager",
                                unit], capture_output=True, text=True, timeout=60)
            m = re.search(r"Overall exposure level for picod-mqtt.service: ([0-9.]+)", r.stdout)
            self.assertIsNotNone(m, r.stdout + r.stderr)
            self.assertLessEqual(float(m.group(1)), 2.0, r.stdout)

    def test_network_order_and_access(self):
        u = self.settings("picod-mqtt.service")
        picod = self.settings("picod.service")
        after = " ".join(u["After"]).split()
        self.assertIn("picod.socket", after)
        self.assertIn("picod.service", after)
        self.assertNotIn("IPAddressDeny", u)  # unlike picod: the broker is on the network
        fam = " ".join(u["RestrictAddressFamilies"]).split()
        self.assertTrue({"AF_UNIX", "AF_INET", "AF_INET6"} <= set(fam), fam)
        group = re.search(r"--actuate-group (\S+)", picod["ExecStart"][0]).group(1)
        self.assertIn(group, " ".join(u["SupplementaryGroups"]).split())
        self.assertIn("--config /etc/picod/picod-mqtt.conf", u["ExecStart"][0])


if __name__ == "__main__":
    unittest.main()
