#!/usr/bin/env python3
"""Mutation testing: does the suite notice a small, realistic bug?

tools/mutate.py [-R REGEX] [--rev REV] [--keep DIR] [--no-sanitize] [--jobs N] [LIST ...]

Each mutation (tools/mutations/*.txt, one file per layer; format below) is applied, one at a
time, to a scratch copy of the tree in /tmp (never to the working tree: `git archive` of REV,
default HEAD plus the uncommitted changes to tracked files), which is built incrementally (one
build dir, ASan+UBSan Debug like CI) and tested with `ctest --stop-on-failure` in stages, fast
tests first: unit and fuzz-replay, then integration, then the emulator and the rest (only
that last stage for firmware/hal/rp2040/, which nothing else runs). lint.* are left out (they
judge style, not behaviour). A --keep dir is reused: only what changed is rebuilt. A mutation
is

  killed          a test failed, and failed again when run alone (the test is named)
  survived        every test passed: the suite misses that bug
  did-not-apply   its original snippet is not in the file exactly once (the code moved on)
  build-failed    the mutated tree does not build (-Werror caught it: not a test's merit)
  flaky           tested twice, a test failed each time but passed when run again alone:
                  the machine, not the mutation (not scored; see the log)

and the score is killed / (killed + survived). Before the first mutation the unmutated tree is
built and tested the same way: a suite that fails already proves nothing, so the run stops.

Format of a mutation list: blocks separated by blank lines,

  ## ID: what the bug is, in one line
  file: path/in/the/repo.c
  - original line(s), matched exactly (without the "- "), and exactly once in the file
  + replacement line(s) (none: the original lines are deleted)

Lines starting with "#" and a space are comments. Exit status: 0 when the score reaches
--goal (default 90), 1 when not, 2 on a usage or baseline error.
"""
import argparse
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STAGES = [
    ("unit", r"^(unit|fuzz)\."),
    ("integration", r"^integration\."),
    ("rest", None),  # emu, e2e, rp2040: everything not above and not lint
]
EXCLUDE = r"^lint\."
# Code that only the RP2040 builds contain: only the emulator stage runs it (the unit and
# integration tests run firmware/core on the host HAL), so only that stage is run for it.
RP2040_ONLY = "firmware/hal/rp2040/"


class Mutation:
    def __init__(self, mid, desc, path, orig, repl, where):
        self.id, self.desc, self.path, self.orig, self.repl, self.where = (
            mid, desc, path, orig, repl, where)


def parse_list(path):
    out, block, where = [], [], None

    def flush():
        if not block:
            return
        head = block[0][1]
        m = re.match(r"^## ([\w.\-]+): (.+)$", head)
        if not m:
            raise SystemExit(f"{block[0][0]}: a mutation starts with '## ID: description'")
        mid, desc = m.groups()
        file_, orig, repl = None, [], []
        for loc, line in block[1:]:
            if line.startswith("file: "):
                file_ = line[6:].strip()
            elif line.startswith("- ") or line == "-":
                orig.append(line[2:])
            elif line.startswith("+ ") or line == "+":
                repl.append(line[2:])
            else:
                raise SystemExit(f"{loc}: expected 'file:', '- ' or '+ ': {line!r}")
        if not file_ or not orig:
            raise SystemExit(f"{block[0][0]}: {mid} needs a 'file:' and '- ' lines")
        out.append(Mutation(mid, desc, file_, "\n".join(orig), "\n".join(repl), block[0][0]))

    with open(path) as f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if line.startswith("# ") or line == "#":
                continue
            if not line.strip():
                flush()
                block = []
                continue
            if line.startswith("## ") and block:
                flush()
                block = []
            block.append((f"{os.path.relpath(path, HERE)}:{n}", line))
    flush()
    return out


def run(cmd, log, timeout=None, cwd=None, env=None):
    """Run cmd with output appended to log; return (exit status or None on timeout, seconds)."""
    t0 = time.monotonic()
    with open(log, "a") as f:
        f.write(f"\n$ {' '.join(cmd)}\n")
        f.flush()
        p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=cwd, env=env,
                             start_new_session=True)
        try:
            rc = p.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            rc = None
    return rc, time.monotonic() - t0


def first_failure(log):
    """The first test ctest reported as not passed, from the end of the log."""
    with open(log, errors="replace") as f:
        text = f.read()
    text = text[text.rfind("\n$ ctest"):]
    m = re.search(r"\d+/\d+ Test +#\d+: (\S+) \.+[^\n]*?(\*\*\*|Failed|Timeout|Not Run)",
                  text)
    return m.group(1) if m else "?"


def same_file(a, b):
    if os.path.islink(a) or os.path.islink(b):
        return os.path.islink(a) and os.path.islink(b) and os.readlink(a) == os.readlink(b)
    if not os.path.isfile(b) or os.path.getsize(a) != os.path.getsize(b):
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


def sync_tree(src, dst):
    """Make dst hold src's files; a file written gets a new time stamp, the others keep theirs
    (git archive stamps every file with the commit's time, older than any build)."""
    keep = {os.path.join("tests", "emu", "node_modules")}
    for root, dirs, files in os.walk(src):
        rel = os.path.relpath(root, src)
        os.makedirs(os.path.join(dst, rel), exist_ok=True)
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            a, b = os.path.join(root, name), os.path.join(dst, rel, name)
            if same_file(a, b):
                continue
            if os.path.lexists(b):
                os.unlink(b)
            if os.path.islink(a):
                os.symlink(os.readlink(a), b)
            else:
                shutil.copyfile(a, b)
                shutil.copymode(a, b)
    for root, dirs, files in os.walk(dst, topdown=True):
        rel = os.path.relpath(root, dst)
        dirs[:] = [d for d in dirs if os.path.normpath(os.path.join(rel, d)) not in keep]
        for name in files + [d for d in dirs if not os.path.lexists(os.path.join(src, rel, d))]:
            if os.path.normpath(os.path.join(rel, name)) in keep:
                continue
            if not os.path.lexists(os.path.join(src, rel, name)):
                path = os.path.join(root, name)
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                else:
                    os.unlink(path)


class Scratch:
    def __init__(self, args):
        self.args = args
        self.dir = args.keep or tempfile.mkdtemp(prefix="picod-mut-")
        self.src = os.path.join(self.dir, "src")
        self.build = os.path.join(self.dir, "build")
        self.log = os.path.join(self.dir, "log")
        self.env = dict(os.environ,
                        ASAN_OPTIONS="detect_leaks=1:abort_on_error=1",
                        UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")

    def populate(self):
        rev = self.args.rev
        if rev is None:  # HEAD plus what is changed in tracked files, without touching them
            rev = subprocess.run(["git", "-C", HERE, "stash", "create"], capture_output=True,
                                 text=True, check=True).stdout.strip() or "HEAD"
        new = os.path.join(self.dir, "new")
        shutil.rmtree(new, ignore_errors=True)
        os.makedirs(new)
        archive = subprocess.Popen(["git", "-C", HERE, "archive", rev], stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", new], stdin=archive.stdout, check=True)
        if archive.wait() != 0:
            raise SystemExit(f"mutate: git archive {rev} failed")
        # A kept scratch tree is updated file by file: what did not change keeps its time
        # stamp, so the kept build dir rebuilds only what the new revision changed.
        sync_tree(new, self.src)
        shutil.rmtree(new)
        nm = os.path.join(HERE, "tests", "emu", "node_modules")
        link = os.path.join(self.src, "tests", "emu", "node_modules")
        if os.path.isdir(nm) and not os.path.islink(link):  # the emulator's packages, read only
            os.symlink(nm, link)
        return rev

    def configure(self):
        cmd = ["cmake", "-S", self.src, "-B", self.build, "-DCMAKE_BUILD_TYPE=Debug",
               f"-DPICOD_SANITIZE={'OFF' if self.args.no_sanitize else 'ON'}"]
        return run(cmd, self.log)[0] == 0

    def build_tree(self):
        return run(["cmake", "--build", self.build, f"-j{self.args.jobs}"], self.log)[0] == 0

    def test(self, timeout, path=None):
        """(passed, first failing test or None) for a mutation of path (None: the baseline)."""
        deadline = time.monotonic() + timeout
        stages = [("selected", self.args.tests)] if self.args.tests else STAGES
        if path and path.startswith(RP2040_ONLY):
            stages = [st for st in stages if st[0] in ("rest", "selected")]
        for name, regex in stages:
            cmd = ["ctest", "--test-dir", self.build, "--stop-on-failure", "--output-on-failure",
                   f"-j{self.args.jobs}"]
            if regex:
                cmd += ["-R", regex, "-E", EXCLUDE]
            else:
                cmd += ["-E", "|".join([EXCLUDE] + [r for _, r in STAGES if r])]
            rc, _ = run(cmd, self.log, max(1, deadline - time.monotonic()), env=self.env)
            if rc is None:
                return False, f"timeout in {name} stage"
            if rc != 0:
                return False, first_failure(self.log)
        return True, None


def confirm(sc, test, path):
    """Run the test that failed once more, alone: a failure that does not repeat was the
    machine (load, another user's processes), not the mutation."""
    if test.startswith("timeout") or test == "?":
        return True
    cmd = ["ctest", "--test-dir", sc.build, "--output-on-failure", "-R", f"^{re.escape(test)}$"]
    rc, _ = run(cmd, sc.log, 600, env=sc.env)
    return rc != 0


def apply(src, m):
    path = os.path.join(src, m.path)
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None, "no such file"
    n = text.count(m.orig)
    if n != 1:
        return None, f"original found {n} times"
    with open(path, "w") as f:
        f.write(text.replace(m.orig, m.repl, 1))
    return text, None


def restore(src, m, text):
    path = os.path.join(src, m.path)
    with open(path, "w") as f:
        f.write(text)
    # Newer than the mutant's objects even within one timestamp tick: make rebuilds it.
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("lists", nargs="*", help="mutation lists (default tools/mutations/*.txt)")
    ap.add_argument("-R", dest="select", help="only mutations whose id matches this regex")
    ap.add_argument("--tests", help="only ctest tests matching this regex (developing only)")
    ap.add_argument("--rev", help="tree to mutate (default: HEAD + uncommitted changes)")
    ap.add_argument("--keep", help="scratch dir to use and keep (reused: incremental build)")
    ap.add_argument("--no-sanitize", action="store_true", help="build without ASan+UBSan")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=900, help="seconds of tests per mutation")
    ap.add_argument("--goal", type=float, default=90.0)
    ap.add_argument("--list-only", action="store_true", help="check the lists, run nothing")
    ap.add_argument("--report", help="also write the results here (markdown table)")
    args = ap.parse_args()

    lists = args.lists or sorted(glob.glob(os.path.join(HERE, "tools", "mutations", "*.txt")))
    muts = [m for p in lists for m in parse_list(p)]
    ids = [m.id for m in muts]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise SystemExit(f"mutate: duplicate ids: {', '.join(sorted(dup))}")
    if args.select:
        muts = [m for m in muts if re.search(args.select, m.id)]
    if args.list_only:  # and whether each applies to the working tree
        bad = 0
        for m in muts:
            try:
                with open(os.path.join(HERE, m.path)) as f:
                    n = f.read().count(m.orig)
            except OSError:
                n = 0
            bad += n != 1
            print(f"{m.id}\t{m.path}\t{'' if n == 1 else f'(found {n} times) '}{m.desc}")
        print(f"{len(muts)} mutations, {bad} do not apply")
        return 1 if bad else 0
    if not muts:
        print("mutate: no mutation selected", file=sys.stderr)
        return 2

    sc = Scratch(args)
    rev = sc.populate()
    print(f"mutate: {len(muts)} mutations of {rev[:12]} in {sc.dir} (log: {sc.log})", flush=True)
    if not sc.configure() or not sc.build_tree():
        print(f"mutate: the unmutated tree does not build (see {sc.log})", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    ok, failed = sc.test(args.timeout)
    if not ok:
        print(f"mutate: the unmutated tree fails {failed} (see {sc.log})", file=sys.stderr)
        return 2
    print(f"mutate: baseline passes in {time.monotonic() - t0:.0f} s", flush=True)

    results = []
    for i, m in enumerate(muts, 1):
        t0 = time.monotonic()
        text, why = apply(sc.src, m)
        if text is None:
            verdict, detail = "did-not-apply", why
        else:
            with open(sc.log, "a") as f:
                f.write(f"\n==== {m.id}: {m.desc}\n")
            if not sc.build_tree():
                verdict, detail = "build-failed", ""
            else:
                ok, failed = sc.test(args.timeout, m.path)
                if not ok and not confirm(sc, failed, m.path):
                    print(f"mutate: {m.id}: {failed} failed once, not again: testing again",
                          flush=True)
                    ok, failed = sc.test(args.timeout, m.path)
                verdict, detail = ("survived", "") if ok else ("killed", failed)
                if not ok and not confirm(sc, failed, m.path):
                    verdict = "flaky"  # failed twice, each time not again alone
            restore(sc.src, m, text)
        secs = time.monotonic() - t0
        results.append((m, verdict, detail, secs))
        print(f"[{i}/{len(muts)}] {verdict:13} {m.id}  {detail}  ({secs:.0f} s)", flush=True)

    killed = sum(1 for r in results if r[1] == "killed")
    survived = [r for r in results if r[1] == "survived"]
    scored = killed + len(survived)
    score = 100.0 * killed / scored if scored else 0.0
    others = {v: sum(1 for r in results if r[1] == v)
              for v in ("did-not-apply", "build-failed", "flaky")}
    print(f"mutate: {killed} killed, {len(survived)} survived, "
          f"{others['did-not-apply']} did not apply, {others['build-failed']} did not build, "
          f"{others['flaky']} flaky (not scored); "
          f"score {score:.1f} % ({killed}/{scored})")
    for m, _, _, _ in survived:
        print(f"  survived: {m.id} ({m.where}): {m.desc}")
    if args.report:
        with open(args.report, "w") as f:
            f.write("| mutation | what | verdict | killed by | s |\n|---|---|---|---|---|\n")
            for m, verdict, detail, secs in results:
                f.write(f"| `{m.id}` | {m.desc} | {verdict} | {detail} | {secs:.0f} |\n")
            f.write(f"\nscore {score:.1f} % ({killed}/{scored})\n")
    if not args.keep:
        shutil.rmtree(sc.dir, ignore_errors=True)
    return 0 if score >= args.goal else 1


if __name__ == "__main__":
    sys.exit(main())
