"""A model defined and trained in PyTorch goes to minima without a file;
its loss, gradient and Hessian-vector products equal torch.autograd's, and
its spectrum, sharpness and audit equal the command line's. Skipped when
PyTorch is not installed."""

import os
import tempfile
import unittest

import numpy as np

from support import cli_binary, cli_json, minima, torch_or_none, without_seconds

torch = torch_or_none()


def live_module(act="tanh", seed=0):
    torch.manual_seed(seed)
    nn = torch.nn
    a = {"tanh": nn.Tanh, "relu": nn.ReLU}[act]
    return nn.Sequential(nn.Linear(6, 10), a(), nn.Linear(10, 8), a(), nn.Linear(8, 3))


def blobs(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 6, generator=g)
    y = (X[:, 0] > 0).long() + (X[:, 1] > 0.5).long()
    return X, y


@unittest.skipIf(torch is None, "PyTorch (python3-torch) is not installed")
class TestTorch(unittest.TestCase):
    def test_autograd_agrees(self):
        net = live_module("tanh").double()
        X, y = blobs()
        X = X.double()
        prob = minima.Problem(minima.Model.from_state_dict(net), minima.Data(X, y))
        self.assertEqual(prob.model.info()["activation"], "tanh")    # read from the module
        params = list(net.parameters())
        theta = torch.cat([p.detach().reshape(-1) for p in params]).numpy()
        np.testing.assert_array_equal(prob.model.params, theta)      # parameters() order
        loss = torch.nn.functional.cross_entropy(net(X), y)
        self.assertAlmostEqual(prob.loss(), loss.item(), delta=1e-14 * loss.item())
        g = torch.autograd.grad(loss, params, create_graph=True)
        gflat = torch.cat([t.reshape(-1) for t in g])
        np.testing.assert_allclose(prob.grad(), gflat.detach().numpy(), rtol=1e-12, atol=1e-15)
        rng = np.random.default_rng(0)
        for _ in range(3):
            v = rng.standard_normal(theta.size)
            hv = torch.autograd.grad(gflat @ torch.from_numpy(v), params, retain_graph=True)
            hv = torch.cat([t.reshape(-1) for t in hv]).numpy()
            np.testing.assert_allclose(prob.hvp(v), hv, rtol=1e-10, atol=1e-13 * np.abs(hv).max())

    def test_trained_module_without_files(self):
        net = live_module("relu", seed=1)            # float32, as PyTorch trains by default
        X, y = blobs(seed=1)
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        for _ in range(20):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(X), y).backward()
            opt.step()
        model = minima.Model.from_state_dict(net.state_dict(), arch="6-10-8-3", activation="relu")
        data = minima.Data(X, y)                     # float32 tensors, widened to float64
        prob = minima.Problem(model, data)
        with torch.no_grad():
            want = torch.nn.functional.cross_entropy(net.double()(X.double()), y).item()
        self.assertAlmostEqual(prob.loss(), want, delta=1e-13 * want)
        spec = prob.spectrum(top=3, tol=1e-10)
        self.assertEqual(len(spec["top"]), 3)
        self.assertTrue(spec["converged"])
        for e in spec["top"]:
            self.assertLessEqual(e["residual"], 1e-8 * max(1.0, abs(e["eigenvalue"])))
        if cli_binary() is None:
            self.skipTest("no minima program: the comparison with the command line is skipped")
        # The command line on the same numbers, written to files here only
        # for the program to read.
        with tempfile.TemporaryDirectory() as d:
            mp, xp, yp = (os.path.join(d, f) for f in ("m.safetensors", "x.npy", "y.npy"))
            model.save(mp)
            np.save(xp, X.double().numpy())
            np.save(yp, y.numpy())
            D = ["--model", mp, "--data", xp, "--labels", yp, "--activation", "relu", "--order", "0,2,4"]

            def same(ours, cli):
                ours, cli = without_seconds(ours), without_seconds(cli)
                for k in ("model", "data"):
                    ours.pop(k, None)
                    cli.pop(k, None)
                self.assertEqual(ours, cli)

            same(spec, cli_json("spectrum", *D, "--top", "3", "--tol", "1e-10"))
            same(prob.sharpness(["hessian_max", "path_norm", "dinh_sharpness"], seed=4,
                                dinh_sharpness="eps=0.01,starts=1"),
                 cli_json("sharpness", *D, "--measure", "hessian_max,path_norm,dinh_sharpness",
                          "--seed", "4", "--set", "dinh_sharpness:eps=0.01,starts=1"))
            same(prob.audit(["path_norm", "hessian_max"], decades=1, seed=4),
                 cli_json("audit", *D, "--measure", "path_norm,hessian_max", "--decades", "1", "--seed", "4"))


if __name__ == "__main__":
    unittest.main()
