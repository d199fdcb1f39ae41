"""Loss, gradient and Hessian-vector products against NumPy and finite
differences, on a small tanh MLP (smooth, so differences are clean)."""

import json
import os
import unittest

import numpy as np

from support import FIXTURES, MLP, MLP_X, MLP_Y, minima, mlp_loss, small_problem


class TestProblem(unittest.TestCase):
    def setUp(self):
        self.prob, self.X, self.y, self.widths = small_problem()
        self.theta = self.prob.model.params
        self.P = self.theta.size
        self.rng = np.random.default_rng(1)

    def test_loss_matches_numpy(self):
        want = mlp_loss(self.theta, self.widths, self.X, self.y, np.tanh)
        self.assertAlmostEqual(self.prob.loss(), want, delta=1e-13 * abs(want))
        loss, acc = self.prob.loss(accuracy=True)
        self.assertTrue(0 <= acc <= 1)
        t = self.theta + 0.1 * self.rng.standard_normal(self.P)
        want_t = mlp_loss(t, self.widths, self.X, self.y, np.tanh)
        self.assertAlmostEqual(self.prob.loss(t), want_t, delta=1e-13 * abs(want_t))

    def test_fixture_loss_matches_torch(self):
        with open(os.path.join(FIXTURES, "torch_mlp_expected.json")) as f:
            want = json.load(f)["f64"]
        p = minima.Problem(minima.load(MLP), minima.Data(np.load(MLP_X), np.load(MLP_Y)))
        loss, acc = p.loss(accuracy=True)
        self.assertAlmostEqual(loss, want["loss"], delta=1e-14)
        self.assertEqual(acc, want["accuracy"])

    def test_grad_against_finite_differences(self):
        g = self.prob.grad()
        loss, g2 = self.prob.grad(return_loss=True)
        np.testing.assert_array_equal(g, g2)
        self.assertEqual(loss, self.prob.loss())
        h = 1e-6
        fd = np.empty(self.P)
        for i in range(self.P):
            e = np.zeros(self.P)
            e[i] = h
            fd[i] = (self.prob.loss(self.theta + e) - self.prob.loss(self.theta - e)) / (2 * h)
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)

    def test_hvp_against_finite_differences(self):
        v = self.rng.standard_normal(self.P)
        hv = self.prob.hvp(v)
        h = 1e-5
        fd = (self.prob.grad(self.theta + h * v) - self.prob.grad(self.theta - h * v)) / (2 * h)
        np.testing.assert_allclose(hv, fd, rtol=1e-5, atol=1e-7)
        u = self.rng.standard_normal(self.P)
        self.assertAlmostEqual(u @ self.prob.hvp(v), v @ self.prob.hvp(u), delta=1e-12 * np.linalg.norm(hv))

    def test_hvp_shapes_and_buffers(self):
        V = self.rng.standard_normal((3, self.P))
        HV = self.prob.hvp(V)
        for i in range(3):
            np.testing.assert_array_equal(HV[i], self.prob.hvp(V[i]))
        out = np.empty(self.P)
        r = self.prob.hvp(V[0], out=out)
        self.assertIs(r, out)
        np.testing.assert_array_equal(out, HV[0])
        np.testing.assert_array_equal(self.prob.hvp(list(V[1])), HV[1])  # any sequence of numbers
        with self.assertRaises(minima.Error):
            self.prob.hvp(np.ones(self.P + 1))

    def test_hessian_and_ggn(self):
        H = self.prob.hessian()
        self.assertEqual(H.shape, (self.P, self.P))
        np.testing.assert_allclose(H, H.T, atol=0)
        v = self.rng.standard_normal(self.P)
        np.testing.assert_allclose(H @ v, self.prob.hvp(v), rtol=1e-10, atol=1e-12)
        self.assertGreaterEqual(v @ self.prob.ggnvp(v), -1e-12)

    def test_set_point(self):
        t = self.theta + 0.05
        self.prob.set_point(t)
        np.testing.assert_array_equal(self.prob.point, t)
        self.assertEqual(self.prob.loss(), self.prob.loss(t))
        np.testing.assert_array_equal(self.prob.model.params, self.theta)   # the model is not moved

    def test_data_loss_mse_with_targets(self):
        m = minima.Model.create("4-6-3", activation="tanh", seed=3)
        X = self.rng.standard_normal((10, 4))
        T = self.rng.standard_normal((10, 3))
        p = minima.Problem(m, minima.Data(X, targets=T, loss="mse"))
        theta = m.params
        W1, b1 = theta[:24].reshape(6, 4), theta[24:30]
        W2, b2 = theta[30:48].reshape(3, 6), theta[48:51]
        out = np.tanh(X @ W1.T + b1) @ W2.T + b2
        want = ((out - T) ** 2).mean()                    # PyTorch's MSELoss(): mean over all entries
        self.assertAlmostEqual(p.loss(), want, delta=1e-13 * want)


if __name__ == "__main__":
    unittest.main()
