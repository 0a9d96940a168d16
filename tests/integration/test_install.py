"""`cmake --install` into a DESTDIR gives a working install for any prefix: the default
(/usr/local), a distribution's (/usr) and one nothing reads from (/opt/picod). Checked as
systemd, udev and bash-completion would find it: every file where its reader looks for that
prefix, units naming the paths that were really installed, `systemd-analyze verify` clean.

The readers' search paths (systemd 252): units from `pkg-config --variable=
systemd_system_unit_path systemd`; udev rules, sysusers.d and tmpfiles.d from CONF_PATHS in
systemd's src/basic/constants.h; completions from bash-completion's __load_completion
($XDG_DATA_DIRS, default /usr/local/share:/usr/share) and its eager /etc/bash_completion.d."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

BUILD = os.environ.get("PICOD_BUILD_DIR", "")


def conf_paths(sub):
    return [f"/etc/{sub}", f"/run/{sub}", f"/usr/local/lib/{sub}", f"/usr/lib/{sub}",
            f"/lib/{sub}"]


def unit_path():
    r = subprocess.run(["pkg-config", "--variable=systemd_system_unit_path", "systemd"],
                       capture_output=True, text=True)
    return r.stdout.strip().split(":") if r.returncode == 0 and r.stdout.strip() else [
        "/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system",
        "/usr/lib/systemd/system", "/lib/systemd/system"]


COMPLETION_DIRS = ["/usr/local/share/bash-completion/completions",
                   "/usr/share/bash-completion/completions", "/etc/bash_completion.d"]

# prefix -> where each file must land (absolute, before DESTDIR)
LAYOUTS = {
    "/usr/local": {"unitdir": "/usr/local/lib/systemd/system",
                   "rules": "/usr/local/lib/udev/rules.d", "sysusers": "/usr/local/lib/sysusers.d",
                   "tmpfiles": "/usr/local/lib/tmpfiles.d", "sysconf": "/usr/local/etc",
                   "completion": "/usr/local/share/bash-completion/completions"},
    "/usr": {"unitdir": "/usr/lib/systemd/system", "rules": "/usr/lib/udev/rules.d",
             "sysusers": "/usr/lib/sysusers.d", "tmpfiles": "/usr/lib/tmpfiles.d",
             "sysconf": "/etc", "completion": "/usr/share/bash-completion/completions"},
    "/opt/picod": {"unitdir": "/etc/systemd/system", "rules": "/etc/udev/rules.d",
                   "sysusers": "/etc/sysusers.d", "tmpfiles": "/etc/tmpfiles.d",
                   "sysconf": "/etc/opt/picod", "completion": "/etc/bash_completion.d"},
}


def settings(path):
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if "=" in line and not line.startswith(("#", ";", "[")):
                k, v = line.split("=", 1)
                out.setdefault(k, []).append(v)
    return out


class TestInstall(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not BUILD:
            raise unittest.SkipTest("PICOD_BUILD_DIR not set (run through ctest)")
        cls.tmp = tempfile.mkdtemp(prefix="picod-install-")
        cls.roots = {}
        for prefix in LAYOUTS:
            root = os.path.join(cls.tmp, prefix.strip("/").replace("/", "_"))
            r = subprocess.run(["cmake", "--install", BUILD, "--prefix", prefix],
                               env=dict(os.environ, DESTDIR=root), capture_output=True,
                               text=True, timeout=120)
            assert r.returncode == 0, r.stdout + r.stderr
            assert "CMake Warning" not in r.stdout + r.stderr, r.stdout + r.stderr
            cls.roots[prefix] = root

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def path(self, prefix, p):
        return self.roots[prefix] + p

    def assert_file(self, prefix, p, executable=False):
        full = self.path(prefix, p)
        self.assertTrue(os.path.isfile(full), f"{prefix}: {p} not installed")
        if executable:
            self.assertTrue(os.access(full, os.X_OK), f"{prefix}: {p} not executable")

    def test_tree(self):
        for prefix, at in LAYOUTS.items():
            with self.subTest(prefix=prefix):
                self.assert_file(prefix, f"{prefix}/sbin/picod", executable=True)
                self.assert_file(prefix, f"{prefix}/bin/picoctl", executable=True)
                for unit in ("picod.service", "picod.socket"):
                    self.assert_file(prefix, f"{at['unitdir']}/{unit}")
                self.assert_file(prefix, f"{at['rules']}/60-picod.rules")
                self.assert_file(prefix, f"{at['sysusers']}/picod.conf")
                self.assert_file(prefix, f"{at['tmpfiles']}/picod.conf")
                self.assert_file(prefix, f"{at['sysconf']}/picod/picod.conf")
                self.assert_file(prefix, f"{at['completion']}/picoctl")
                for fw in ("firmware.uf2", "firmware.elf"):  # when this build made them
                    if os.path.exists(os.path.join(BUILD, "firmware", fw)):
                        self.assert_file(prefix, f"{prefix}/share/picod/firmware/{fw}")
                for page in ("man1/picoctl.1", "man8/picod.8", "man5/picod.conf.5"):
                    self.assert_file(prefix, f"{prefix}/share/man/{page}")
                for doc in ("API.md", "PROTOCOL.md", "picod.conf.example"):
                    self.assert_file(prefix, f"{prefix}/share/doc/picod/{doc}")

    def test_where_the_readers_look(self):
        units = unit_path()
        for prefix, at in LAYOUTS.items():
            with self.subTest(prefix=prefix):
                self.assertIn(at["unitdir"], units)
                self.assertIn(at["rules"], conf_paths("udev/rules.d"))
                self.assertIn(at["sysusers"], conf_paths("sysusers.d"))
                self.assertIn(at["tmpfiles"], conf_paths("tmpfiles.d"))
                self.assertIn(at["completion"], COMPLETION_DIRS)

    def test_units_name_the_installed_paths(self):
        for prefix, at in LAYOUTS.items():
            with self.subTest(prefix=prefix):
                svc = settings(self.path(prefix, f"{at['unitdir']}/picod.service"))
                argv = svc["ExecStart"][0].split()
                self.assertEqual(argv[0], f"{prefix}/sbin/picod")
                self.assert_file(prefix, argv[0], executable=True)
                conf = argv[argv.index("--config") + 1]
                self.assertEqual(conf, f"{at['sysconf']}/picod/picod.conf")
                self.assert_file(prefix, conf)
                for doc in " ".join(svc["Documentation"]).split():
                    if doc.startswith("file://"):
                        self.assert_file(prefix, doc[len("file://"):])
                # The system's own tools stay the system's.
                self.assertEqual(svc["ExecReload"], ["/bin/kill -HUP $MAINPID"])

    def test_systemd_analyze_verify(self):
        if not shutil.which("systemd-analyze"):
            self.skipTest("systemd-analyze not installed")
        for prefix, at in LAYOUTS.items():
            with self.subTest(prefix=prefix):
                # verify insists ExecStart exists on this machine: the DESTDIR copy of it.
                d = os.path.join(self.tmp, "verify" + prefix.replace("/", "_"))
                os.makedirs(d)
                for unit in ("picod.service", "picod.socket"):
                    with open(self.path(prefix, f"{at['unitdir']}/{unit}")) as f:
                        text = f.read().replace(f"ExecStart={prefix}/sbin/picod",
                                                f"ExecStart={self.roots[prefix]}{prefix}/sbin/picod")
                    with open(os.path.join(d, unit), "w") as f:
                        f.write(text)
                r = subprocess.run(["systemd-analyze", "verify", "--man=no",
                                    os.path.join(d, "picod.socket"),
                                    os.path.join(d, "picod.service")],
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertNotIn("picod", r.stderr, r.stderr)

    def test_man_pages_render(self):
        if not shutil.which("groff"):
            self.skipTest("groff not installed")
        for page in ("man1/picoctl.1", "man8/picod.8", "man5/picod.conf.5"):
            path = self.path("/usr", f"/usr/share/man/{page}")
            r = subprocess.run(["groff", "-man", "-ww", "-Tutf8", path], capture_output=True,
                               text=True, timeout=30)
            self.assertEqual((r.returncode, r.stderr), (0, ""), page)
            text = re.sub(r".\x08", "", r.stdout)  # bold and underline as overstrikes
            name = os.path.basename(page).rsplit(".", 1)[0]
            self.assertRegex(text, rf"\nNAME\n +{re.escape(name)} - ")

    def test_config_never_overwritten(self):
        prefix = "/usr/local"
        conf = self.path(prefix, "/usr/local/etc/picod/picod.conf")
        with open(conf, "w") as f:
            f.write("[picod]\npoll-ms = 250\n")
        r = subprocess.run(["cmake", "--install", BUILD, "--prefix", prefix],
                           env=dict(os.environ, DESTDIR=self.roots[prefix]),
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(conf) as f:
            self.assertEqual(f.read(), "[picod]\npoll-ms = 250\n")


if __name__ == "__main__":
    unittest.main()
