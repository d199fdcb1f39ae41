"""The package's results equal the command line's --json on the same model
and data, number for number (everything but the timings)."""

import unittest

import numpy as np

from support import MLP, MLP_X, MLP_Y, cli_binary, cli_json, minima, without_seconds

D = ["--model", MLP, "--data", MLP_X, "--labels", MLP_Y]


@unittest.skipIf(cli_binary() is None, "no minima program (set MINIMA_BIN or run make)")
class TestSameAsCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.prob = minima.Problem(minima.load(MLP), minima.Data(np.load(MLP_X), np.load(MLP_Y)))

    def same(self, ours, cli):
        # "model" and "data" name the files the command read; the package's
        # model and data came from memory (and "seconds" are timings).
        ours, cli = without_seconds(ours), without_seconds(cli)
        for k in ("model", "data"):
            ours.pop(k, None)
            cli.pop(k, None)
        self.assertEqual(ours, cli)

    def test_spectrum(self):
        self.same(self.prob.spectrum(top=4, bottom=2, tol=1e-10),
                  cli_json("spectrum", *D, "--top", "4", "--bottom", "2", "--tol", "1e-10"))

    def test_spectrum_defaults(self):
        self.same(self.prob.spectrum(), cli_json("spectrum", *D))

    def test_exact_spectrum_with_levels(self):
        self.same(self.prob.spectrum(exact=True, levels=[0.01, 0.1]),
                  cli_json("spectrum", *D, "--exact", "--levels", "0.01,0.1"))

    def test_trace_and_density(self):
        self.same(self.prob.trace(seed=5), cli_json("spectrum", *D, "--top", "0", "--trace", "--seed", "5"))
        self.same(self.prob.density(steps=20, draws=2),
                  cli_json("spectrum", *D, "--top", "0", "--density", "--slq-steps", "20", "--slq-draws", "2"))

    def test_sharpness(self):
        ours = self.prob.sharpness(["hessian_max", "hessian_trace", "path_norm"], seed=3,
                                   hessian_trace={"max_samples": 40, "exact_max": 0})
        cli = cli_json("sharpness", *D, "--measure", "hessian_max,hessian_trace,path_norm", "--seed", "3",
                       "--set", "hessian_trace:max_samples=40,exact_max=0")
        self.same(ours, cli)

    def test_audit(self):
        ours = self.prob.audit(["path_norm", "hessian_max"], decades=1, seed=2)
        cli = cli_json("audit", *D, "--measure", "path_norm,hessian_max", "--decades", "1", "--seed", "2")
        self.same(ours, cli)
        table = minima.audit_table(ours)
        self.assertIn("path_norm", table)
        self.assertIn(ours["measures"][0]["verdict"], table)

    def test_spectrum_table(self):
        spec = self.prob.spectrum(top=2)
        self.assertEqual(len(minima.spectrum_table(spec).splitlines()), 2)


if __name__ == "__main__":
    unittest.main()
