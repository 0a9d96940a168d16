"""picoctl's bash completion (tools/completion/picoctl.bash), called the way bash calls it:
COMP_WORDS/COMP_CWORD set, _picoctl run, COMPREPLY read. Board ids and names come from a real
picod + picosim; with picod down the completion offers nothing and says nothing."""
import os
import re
import subprocess
import unittest

from harness import PICOCTL, Picod, PicodTestCase, cleanup_after_failed_setup, wait_until

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools",
                      "completion", "picoctl.bash")
# The interface fixed for issue 11 (picoctl's commands).
COMMANDS = ("status list led button sensor i2c watch history ping stats poll reboot bootsel "
            "config metrics version doctor help").split()
BOARD = "44e0000000000001"


def complete_raw(*words):
    """Candidates bash would offer with the cursor at the end of words (the last is the
    word being completed, "" for a fresh one), sorted, and what it wrote to stderr."""
    prog = "source \"$1\"; shift; COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1)); " \
           "COMP_LINE=\"$*\"; _picoctl; printf '%s\\n' \"${COMPREPLY[@]}\""
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", prog, "_", SCRIPT, PICOCTL] +
                       list(words), capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return sorted(w for w in r.stdout.split("\n") if w), r.stderr


def complete(*words):
    return complete_raw(*words)[0]


class TestCompletion(PicodTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.sim = cls.start_sim("c", BOARD)
            conf = os.path.join(cls.tmp, "picod.conf")
            with open(conf, "w") as f:
                f.write(f"[board bench]\nid = {BOARD}\n")
            cls.picod = Picod(cls.tmp, [cls.sim.pty], extra=["--config", conf]).start()
        except BaseException:
            cleanup_after_failed_setup(cls)
            raise

    def test_subcommands(self):
        self.assertEqual(complete(""), sorted(COMMANDS))
        self.assertEqual(complete("st"), ["stats", "status"])

    def test_global_options(self):
        words = complete("--")
        self.assertIn("--socket", words)
        self.assertIn("--no-color", words)
        words = complete("status", "--")  # after the subcommand as well
        self.assertIn("--json", words)
        self.assertIn("--wide", words)

    def test_boards_from_running_picod(self):
        wait_until(lambda: self.board_state(BOARD) == "online", 10, "online")
        sock = self.picod.socket
        self.assertEqual(complete("--socket", sock, "status", ""), sorted([BOARD, "bench"]))
        self.assertEqual(complete("--socket", sock, "led", "b"), ["bench"])
        self.assertEqual(complete("-j", "--socket", sock, "doctor", "44"), [BOARD])
        self.assertEqual(complete("--socket", sock, "watch", "--board", ""),
                         sorted([BOARD, "bench"]))

    def test_arguments_after_the_board(self):
        self.assertEqual(complete("led", "bench", ""), ["auto", "blink", "off", "on", "toggle"])
        self.assertEqual(complete("i2c", "bench", ""), ["read", "scan", "write", "xfer"])
        self.assertEqual(complete("watch", "--events", "board_o"), ["board_offline",
                                                                     "board_online"])
        self.assertEqual(complete("status", "bench", ""), [])

    def test_picod_down_offers_nothing_quietly(self):
        words, err = complete_raw("--socket", os.path.join(self.tmp, "nope.sock"), "status", "")
        self.assertEqual((words, err), ([], ""))

    def test_same_commands_as_picoctl_help(self):
        # Command lines of the help are indented by two spaces; whether help lists itself is
        # the help's business, that it is a command is checked by running it.
        r = subprocess.run([PICOCTL, "help"], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        listed = set(re.findall(r"^  ([a-z][a-z0-9]*)\b", r.stdout, re.M)) | {"help"}
        self.assertEqual(sorted(listed), sorted(complete("")), r.stdout)


if __name__ == "__main__":
    unittest.main()
