"""systemd/60-picod.rules marks our boards' ttys and nothing else (issue 12, "Privilege"): no
other device gets PICOD_BOARD, a group or mode change, ModemManager's ignore flag or a
/dev/pico link. udevadm cannot test rules without the kernel's devices (and Debian 12's has no
`udevadm verify`), so the rule file is run here by a small interpreter of the udev rule syntax
it uses (udev(7): match keys on the device, parent keys on one device of its parent chain,
ENV, GOTO/LABEL, assignments, $attr/$env substitution), over the device trees real devices
have: ours, other Raspberry Pi devices with ttys, other vendors' serial adapters. What picod
itself opens is tested against umockdev in test_hotplug (TestForeignDevices)."""
import fnmatch
import os
import re
import unittest

RULES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "systemd",
                     "60-picod.rules")
KEY = re.compile(r'\s*([A-Z]+)(?:\{([^}]*)\})?\s*(==|!=|\+=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')


def parse(text):
    rules, cont = [], ""
    for raw in text.splitlines():
        line = cont + raw
        if line.endswith("\\"):
            cont = line[:-1]
            continue
        cont = ""
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        keys, pos = [], 0
        while pos < len(line):
            m = KEY.match(line, pos)
            if not m:
                raise AssertionError(f"cannot parse {line[pos:]!r}")
            keys.append(m.groups()[:4])
            pos = m.end()
        rules.append(keys)
    return rules


def glob_match(value, pattern):
    return value is not None and any(fnmatch.fnmatchcase(value, p) for p in pattern.split("|"))


def run_rules(rules, chain, action="add"):
    """chain: [device, parent, grandparent, ...], each {"subsystem", "kernel", "attrs"}.
    Returns what the rules did to the device: env, group, mode, symlinks, tags."""
    dev = chain[0]
    out = {"env": {}, "group": None, "mode": None, "symlink": [], "tag": []}
    labels = {k[3]: i for i, r in enumerate(rules) for k in r if k[0] == "LABEL"}
    i = 0
    while i < len(rules):
        keys, goto, ok, parent = rules[i], None, True, None
        parent_keys = [k for k in keys
                       if k[0] in ("SUBSYSTEMS", "ATTRS") and k[2] in ("==", "!=")]
        if parent_keys:  # all parent keys of a rule match on the same device of the chain
            parent = next((d for d in chain if all(
                (k[2] == "==") == glob_match(d["subsystem"] if k[0] == "SUBSYSTEMS"
                                             else d["attrs"].get(k[1]), k[3])
                for k in parent_keys)), None)
            ok = parent is not None
        for name, arg, op, val in keys:
            if not ok:
                break
            if name in ("SUBSYSTEMS", "ATTRS", "LABEL"):
                continue
            subst = re.sub(r"\$attr\{(\w+)\}", lambda m: (parent or dev)["attrs"].get(m[1], ""),
                           re.sub(r"\$env\{(\w+)\}", lambda m: out["env"].get(m[1], ""), val))
            if op in ("==", "!="):
                have = {"ACTION": action, "SUBSYSTEM": dev["subsystem"], "KERNEL": dev["kernel"],
                        "ENV": out["env"].get(arg)}[name]
                ok = (op == "==") == glob_match(have, val)
            elif name == "GOTO":
                goto = val
            elif name == "ENV":
                out["env"][arg] = subst
            elif name in ("GROUP", "MODE"):
                out[name.lower()] = subst
            elif name in ("SYMLINK", "TAG"):
                out[name.lower()].append(subst)
            else:
                raise AssertionError(f"key {name} not known to this interpreter")
        i = labels[goto] if ok and goto else i + 1
    out["env"] = {k: v for k, v in out["env"].items() if not k.startswith(".")}
    return out


def usb_tty(kernel, vid, pid, serial, interface="00"):
    return [{"subsystem": "tty", "kernel": kernel, "attrs": {"dev": "166:0"}},
            {"subsystem": "usb", "kernel": "1-1:1." + interface[-1],
             "attrs": {"bInterfaceNumber": interface, "bInterfaceClass": "02"}},
            {"subsystem": "usb", "kernel": "1-1",
             "attrs": {"idVendor": vid, "idProduct": pid, "serial": serial}},
            {"subsystem": "usb", "kernel": "usb1",
             "attrs": {"idVendor": "1d6b", "idProduct": "0002", "serial": "0000:00:14.0"}}]


OURS = usb_tty("ttyACM0", "2e8a", "5043", "e6614c311b7e6f35")
NOTHING = {"env": {}, "group": None, "mode": None, "symlink": [], "tag": []}


class TestUdevRule(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(RULES) as f:
            cls.rules = parse(f.read())

    def test_our_board_is_marked(self):
        got = run_rules(self.rules, OURS)
        self.assertEqual(got, {"env": {"PICOD_BOARD": "1", "PICOD_SERIAL": "e6614c311b7e6f35",
                                       "ID_MM_DEVICE_IGNORE": "1"},
                               "group": "dialout", "mode": "0660",
                               "symlink": ["pico/e6614c311b7e6f35"], "tag": ["systemd"]})

    def test_nothing_else_is_touched(self):
        others = {
            "MicroPython REPL": usb_tty("ttyACM1", "2e8a", "0005", "e6614c311b7e6f35"),
            "pico-sdk stdio": usb_tty("ttyACM2", "2e8a", "000a", "E660583883724A2D"),
            "Debug Probe": usb_tty("ttyACM3", "2e8a", "000c", "E6633861A3461C38"),
            "another vendor's CDC-ACM": usb_tty("ttyACM4", "2341", "0043", "5043"),
            "an FTDI serial adapter": usb_tty("ttyUSB0", "0403", "6001", "A50285BI"),
            # Ours, but not its CDC communications interface (a second function's tty).
            "our device, interface 02": usb_tty("ttyACM5", "2e8a", "5043", "e661", "02"),
            "not a tty": [{"subsystem": "usb", "kernel": "1-1", "attrs": {
                "idVendor": "2e8a", "idProduct": "5043", "serial": "e661"}}],
            "a console tty": [{"subsystem": "tty", "kernel": "tty1", "attrs": {}}],
            "a pty": [{"subsystem": "tty", "kernel": "ptmx", "attrs": {}}],
        }
        for what, chain in others.items():
            self.assertEqual(run_rules(self.rules, chain), NOTHING, what)
        self.assertEqual(run_rules(self.rules, OURS, action="remove"), NOTHING, "remove")

    def test_the_interpreter_sees_a_weakened_rule(self):
        """Without the interface or the product condition the rule would take others' ttys:
        the checks above would fail, so they test the rule, not the interpreter's blind spot."""
        with open(RULES) as f:
            text = f.read()
        weakened = {
            "any interface": text.replace('ATTRS{bInterfaceNumber}=="00", ', ""),
            "any Raspberry Pi product": text.replace(', ATTRS{idProduct}=="5043"', ""),
        }
        for what, t in weakened.items():
            self.assertNotEqual(t, text, what)
            rules = parse(t)
            victim = (usb_tty("ttyACM5", "2e8a", "5043", "e661", "02") if what == "any interface"
                      else usb_tty("ttyACM1", "2e8a", "0005", "e6614c311b7e6f35"))
            self.assertEqual(run_rules(rules, victim)["env"].get("PICOD_BOARD"), "1", what)


if __name__ == "__main__":
    unittest.main()
