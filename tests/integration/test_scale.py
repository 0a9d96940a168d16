"""Many boards on one picod: every board comes online, requests to all of them at once are each
answered by the right board, and one board going silent or spewing garbage leaves the others
served. picosim is cheap enough to run a few dozen here (DESIGN.md: "hundreds fit on one
machine"); the number is kept modest so the suite stays quick on two cores."""
import threading

from harness import Client, Picod, PicodTestCase, wait_until

N = 24


def board_id(i):
    return "5ca1e%011x" % i


class TestManyBoards(PicodTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.boards = [cls.start_sim(f"s{i}", board_id(i)) for i in range(N)]
        cls.picod = Picod(cls.tmp, [b.pty for b in cls.boards]).start()

    def online_ids(self):
        return {b["board"] for b in self.status() if b["state"] == "online"}

    def test_all_online_then_parallel_requests_reach_the_right_board(self):
        want = {board_id(i) for i in range(N)}
        wait_until(lambda: self.online_ids() == want, 60, f"all {N} boards online")

        # One client per board, all at once: LED on for even boards, off for odd ones.
        errors = []

        def drive(i):
            c = Client(self.picod.socket, timeout=20)
            try:
                r = c.call("led", board=board_id(i), mode="on" if i % 2 == 0 else "off")
                if not r.get("ok"):
                    errors.append((i, r))
            finally:
                c.close()

        threads = [threading.Thread(target=drive, args=(i,)) for i in range(N)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(errors, [])
        for i, sim in enumerate(self.boards):
            self.assertEqual(sim.control("led"), "on" if i % 2 == 0 else "off", board_id(i))

    def test_one_bad_board_does_not_disturb_the_others(self):
        want = {board_id(i) for i in range(N)}
        wait_until(lambda: self.online_ids() == want, 60, f"all {N} boards online")
        self.boards[0].control("garbage 4000")
        self.boards[1].control("silent on")
        try:
            wait_until(lambda: any(b["board"] == board_id(1) and b["state"] != "online"
                                   for b in self.status()), 20, "the silent board leaves online")
            # Everyone else answers a ping while one board is silent and one spews garbage.
            c = Client(self.picod.socket, timeout=20)
            try:
                for i in [0] + list(range(2, N)):
                    r = c.call("ping", board=board_id(i))
                    self.assertTrue(r["ok"], (i, r))
            finally:
                c.close()
        finally:
            self.boards[1].control("silent off")
        wait_until(lambda: self.online_ids() == want, 30, "the silent board back online")
