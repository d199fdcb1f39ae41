"""Ctrl-C stops a long call cleanly (KeyboardInterrupt, objects still
usable, the next call unaffected); progress goes to stderr as in the
command line."""

import os
import signal
import subprocess
import sys
import threading
import time
import unittest

import numpy as np

from support import PYDIR, minima


class TestInterrupt(unittest.TestCase):
    @unittest.skipIf(threading.current_thread() is not threading.main_thread(), "needs the main thread")
    def test_ctrl_c_stops_a_long_spectrum(self):
        rng = np.random.default_rng(0)
        X = rng.standard_normal((1000, 20))
        y = rng.integers(0, 10, 1000)
        prob = minima.Problem(minima.Model.create("20-150-150-10", seed=1), minima.Data(X, y))
        minima.set_progress(False)
        timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
        t0 = time.monotonic()
        timer.start()
        try:
            prob.spectrum(top=300, tol=1e-12)
            self.skipTest("the spectrum finished before Ctrl-C (%.1f s): nothing to interrupt"
                          % (time.monotonic() - t0))
        except KeyboardInterrupt:
            stopped = time.monotonic() - t0
        finally:
            timer.cancel()
            minima.set_progress(os.environ.get("MINIMA_NO_PROGRESS", "0") == "0")
        self.assertLess(stopped, 20.0, "the library took too long to notice the interrupt")
        # The computation has stopped (not left running in its thread), every
        # object survives and the next call is not interrupted.
        self.assertEqual([t.name for t in threading.enumerate() if t.name.startswith("minima ")], [])
        self.assertTrue(np.isfinite(prob.loss()))
        self.assertEqual(len(prob.spectrum(top=1, tol=1e-6)["top"]), 1)

    def test_progress_on_stderr(self):
        code = ("import numpy as np, minima\n"
                "rng = np.random.default_rng(0)\n"
                "d = minima.Data(rng.standard_normal((50, 4)), rng.integers(0, 3, 50))\n"
                "p = minima.Problem(minima.Model.create('4-8-3', seed=1), d)\n"
                "p.spectrum(top=2, trace=True)\n")
        env = dict(os.environ, PYTHONPATH=PYDIR + os.pathsep + os.environ.get("PYTHONPATH", ""))
        env.pop("MINIMA_NO_PROGRESS", None)
        r = subprocess.run([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertIn("progress: ", r.stderr.decode())
        self.assertEqual(r.stdout, b"")
        env["MINIMA_NO_PROGRESS"] = "1"
        r = subprocess.run([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertNotIn("progress: ", r.stderr.decode())

    def test_plain_progress_announces_a_task_once(self):
        """A long task that hands over to sub-tasks and comes back (the audit
        and its Lanczos runs) is announced once and finishes once."""
        import io
        from minima import _lib
        clock = [0.0]
        fake = io.StringIO()
        saved_err, saved_time = sys.stderr, _lib.time.monotonic
        sys.stderr, _lib.time.monotonic = fake, lambda: clock[0]
        try:
            pr = _lib._Progress()
            for point in range(10):
                clock[0] += 2.0
                pr.report("audit", point, 10)
                clock[0] += 0.1
                pr.report("lanczos", 0, 50)
                clock[0] += 2.0
                pr.report("lanczos", 50, 50)
            clock[0] += 0.5
            pr.report("audit", 10, 10)
        finally:
            sys.stderr, _lib.time.monotonic = saved_err, saved_time
        lines = fake.getvalue().splitlines()
        self.assertEqual(lines.count("progress: audit: started"), 1, lines)
        self.assertEqual(sum(1 for x in lines if x == "progress: audit: finished in 39.5 s"), 1, lines)

    def test_plain_progress_new_run_after_a_silent_end(self):
        """A task that stopped early without saying so (a trace that met its
        tolerance) does not make a later run of it look like a resumption."""
        import io
        from minima import _lib
        clock = [0.0]
        fake = io.StringIO()
        saved_err, saved_time = sys.stderr, _lib.time.monotonic
        sys.stderr, _lib.time.monotonic = fake, lambda: clock[0]
        try:
            pr = _lib._Progress()
            clock[0] = 5.0
            pr.report("trace", 30, 1000)         # announced, then ends silently
            clock[0] = 7.0
            pr.report("audit", 0, 3)
            clock[0] = 50.0
            pr.report("audit", 3, 3)
            clock[0] = 60.0
            pr.report("trace", 1, 1000)          # a new run
            clock[0] = 62.0
            pr.report("trace", 1000, 1000)
        finally:
            sys.stderr, _lib.time.monotonic = saved_err, saved_time
        lines = fake.getvalue().splitlines()
        self.assertEqual(lines.count("progress: trace: started"), 2, lines)
        self.assertIn("progress: trace: finished in 2.0 s", lines)
        self.assertIn("progress: audit: finished in 43.0 s", lines)


if __name__ == "__main__":
    unittest.main()
