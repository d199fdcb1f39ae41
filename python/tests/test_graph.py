"""Graph models (a CNN: Conv2d, max-pooling, flatten, folded BatchNorm)
through the package: made with Model.create, from a state dict with an
architecture string, from a file with one; loss, gradient and products
checked against an independent NumPy forward pass, finite differences,
the symmetry of the Hessian, and (when PyTorch is installed) PyTorch."""

import json
import os
import tempfile
import unittest

import numpy as np

from support import FIXTURES, minima, torch_or_none

torch = torch_or_none()

ARCH = "1x8x8:conv4k3p1,relu,maxpool2,flatten,3"
ARCH_BN = "1x8x8:conv4k3p1,bn,relu,maxpool2,flatten,3"


def conv3x3_p1(x, w, b):
    """Conv2d(C_in, C_out, 3, padding=1) of x (n, C_in, H, W), PyTorch's
    cross-correlation, with w (C_out, C_in, 3, 3) and b (C_out)."""
    n, _, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    out = np.zeros((n, w.shape[0], H, W))
    for u in range(3):
        for v in range(3):
            out += np.einsum("nchw,oc->nohw", xp[:, :, u:u + H, v:v + W], w[:, :, u, v])
    return out + b[None, :, None, None]


def cnn_outputs(sd, x, lin="4"):
    """The outputs of ARCH's network on x (n, 1, 8, 8) from its state dict
    (conv '0', linear `lin`), in NumPy: an independent reference."""
    z = np.maximum(conv3x3_p1(x, sd["0.weight"], sd["0.bias"]), 0)
    n, c, H, W = z.shape
    z = z.reshape(n, c, H // 2, 2, W // 2, 2).max(axis=(3, 5))
    return z.reshape(n, -1) @ sd[lin + ".weight"].T + sd[lin + ".bias"]


def ce(z, y):
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(y)), y].mean()


def cnn_state_dict(params):
    """ARCH's parameters (PyTorch's parameters() order) as the state dict of
    Sequential(Conv2d(1, 4, 3, padding=1), ReLU(), MaxPool2d(2), Flatten(),
    Linear(64, 3))."""
    shapes = [("0.weight", (4, 1, 3, 3)), ("0.bias", (4,)), ("4.weight", (3, 64)), ("4.bias", (3,))]
    sd, o = {}, 0
    for name, shape in shapes:
        k = int(np.prod(shape))
        sd[name] = params[o:o + k].reshape(shape).copy()
        o += k
    assert o == params.size
    return sd


def data(n=24, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 1, 8, 8)), rng.integers(0, 3, n)


class TestGraph(unittest.TestCase):
    def setUp(self):
        self.model = minima.Model.create(ARCH, seed=3)
        self.X, self.y = data()
        self.prob = minima.Problem(self.model, minima.Data(self.X, self.y))

    def test_create(self):
        m = self.model
        self.assertEqual(m.n_params, 4 * 9 + 4 + 3 * 64 + 3)
        info = m.info()
        self.assertEqual(info["arch"], ARCH)
        self.assertFalse(info["is_mlp"])
        self.assertEqual([l["kind"] for l in info["layers"]], ["conv2d", "linear"])
        # the rescaling group: conv4 -> relu -> maxpool -> flatten (4 channel
        # classes) -> the output linear (fixed); no residual add, no fixed node
        self.assertEqual(info["symmetry"], {"n_classes": 4, "n_residual_classes": 0,
                                            "n_fixed_nodes": 0, "fixed_nodes": []})
        np.testing.assert_array_equal(minima.Model.create(ARCH, seed=3).params, m.params)

    def test_loss_and_outputs_against_numpy(self):
        sd = cnn_state_dict(self.model.params)
        want = cnn_outputs(sd, self.X)
        got = self.prob.outputs()
        self.assertEqual(got.shape, (len(self.y), 3))
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
        self.assertAlmostEqual(self.prob.loss(), ce(want, self.y), delta=1e-13)

    def test_grad_and_hvp(self):
        p = self.prob
        P = p.n_params
        loss, g = p.grad(return_loss=True)
        self.assertTrue(np.isfinite(loss) and np.all(np.isfinite(g)))
        rng = np.random.default_rng(1)
        theta = p.point
        h = 1e-6
        for _ in range(4):
            v = rng.standard_normal(P)
            fd = (p.loss(theta + h * v) - p.loss(theta - h * v)) / (2 * h)
            self.assertAlmostEqual(g @ v, fd, delta=1e-6 * max(1.0, abs(fd)))
        # the Hessian is symmetric: u.Hv = v.Hu
        for _ in range(3):
            u, v = rng.standard_normal(P), rng.standard_normal(P)
            hv, hu = p.hvp(v), p.hvp(u)
            self.assertTrue(np.all(np.isfinite(hv)) and np.all(np.isfinite(hu)))
            a, b = u @ hv, v @ hu
            self.assertLessEqual(abs(a - b), 1e-12 * max(abs(a), abs(b), np.abs(u).max() * np.abs(hv).max()))
        # H v against a central difference of the gradient
        v = rng.standard_normal(P)
        fd = (p.grad(theta + h * v) - p.grad(theta - h * v)) / (2 * h)
        np.testing.assert_allclose(p.hvp(v), fd, rtol=1e-5, atol=1e-6 * np.abs(fd).max())
        spec = p.spectrum(top=2, tol=1e-10)
        self.assertEqual(len(spec["top"]), 2)
        self.assertTrue(spec["converged"])

    def test_from_state_dict_of_numpy_arrays(self):
        sd = cnn_state_dict(self.model.params)
        m = minima.Model.from_state_dict(sd, arch=ARCH)
        np.testing.assert_array_equal(m.params, self.model.params)
        self.assertEqual(m.info()["arch"], ARCH)
        prob = minima.Problem(m, minima.Data(self.X, self.y))
        self.assertEqual(prob.loss(), self.prob.loss())
        # the tensors in any order in the dict: they are taken by module name
        m2 = minima.Model.from_state_dict(dict(reversed(list(sd.items()))), arch=ARCH)
        np.testing.assert_array_equal(m2.params, self.model.params)

    def test_from_state_dict_batchnorm_folded(self):
        sd = cnn_state_dict(self.model.params)
        rng = np.random.default_rng(2)
        gamma, beta = rng.uniform(0.5, 1.5, 4), rng.uniform(0, 0.5, 4)
        mean, var = rng.standard_normal(4) * 0.3, rng.uniform(0.5, 2, 4)
        # Sequential(Conv2d, BatchNorm2d, ReLU, MaxPool2d, Flatten, Linear)
        bn_sd = {"0.weight": sd["0.weight"], "0.bias": sd["0.bias"],
                 "1.weight": gamma, "1.bias": beta, "1.running_mean": mean, "1.running_var": var,
                 "1.num_batches_tracked": np.array(7, dtype=np.int64),
                 "5.weight": sd["4.weight"], "5.bias": sd["4.bias"]}
        m = minima.Model.from_state_dict(bn_sd, arch=ARCH_BN)
        s = gamma / np.sqrt(var + 1e-5)
        folded = {"0.weight": sd["0.weight"] * s[:, None, None, None],
                  "0.bias": (sd["0.bias"] - mean) * s + beta, "5.weight": sd["4.weight"], "5.bias": sd["4.bias"]}
        want = np.concatenate([folded[k].reshape(-1) for k in ("0.weight", "0.bias", "5.weight", "5.bias")])
        np.testing.assert_allclose(m.params, want, rtol=1e-15, atol=1e-16)
        prob = minima.Problem(m, minima.Data(self.X, self.y))
        np.testing.assert_allclose(prob.outputs(), cnn_outputs(folded, self.X, lin="5"), rtol=1e-12, atol=1e-14)
        with tempfile.TemporaryDirectory() as d:      # saved folded: loads back without an arch
            path = os.path.join(d, "folded.safetensors")
            m.save(path)
            np.testing.assert_array_equal(minima.load(path).params, m.params)

    def test_from_state_dict_errors(self):
        sd = cnn_state_dict(self.model.params)
        bad = dict(sd)
        bad["4.weight"] = np.zeros((3, 32))
        with self.assertRaises(minima.Error) as c:
            minima.Model.from_state_dict(bad, arch=ARCH)
        self.assertEqual(c.exception.status, "ESHAPE")
        self.assertIn("'4.weight'", str(c.exception))
        self.assertIn("[3, 64]", str(c.exception))          # what the architecture expects
        bad = dict(sd)
        bad["0.weight"] = np.zeros((4, 2, 3, 3))
        with self.assertRaises(minima.Error) as c:
            minima.Model.from_state_dict(bad, arch=ARCH)
        self.assertIn("'0.weight'", str(c.exception))
        # a 4-D weight without an arch: the library says to give one
        with self.assertRaises(minima.Error) as c:
            minima.Model.from_state_dict(sd)
        self.assertEqual(c.exception.status, "EUNSUPPORTED")
        self.assertIn("arch", str(c.exception))
        with self.assertRaises(minima.Error) as c:
            minima.Model.from_state_dict(sd, arch=ARCH, order="0,4")
        self.assertEqual(c.exception.status, "EINVAL")
        with self.assertRaises(minima.Error) as c:
            minima.Model.from_state_dict(sd, arch="1x8x8:conv4k3p1,relux,flatten,3")
        self.assertIn("relux", str(c.exception))
        with self.assertRaises(minima.Error) as c:
            minima.Model.from_state_dict(sd, arch="conv4")
        self.assertEqual(c.exception.status, "EINVAL")
        self.assertIn("SHAPE:LAYER", str(c.exception))
        missing = {k: v for k, v in sd.items() if not k.startswith("4.")}
        with self.assertRaises(minima.Error) as c:
            minima.Model.from_state_dict(missing, arch=ARCH)
        self.assertIn("linear", str(c.exception))

    def test_save_and_load(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "cnn.safetensors")
            self.model.save(p)
            back = minima.load(p)                       # the file records its graph
            np.testing.assert_array_equal(back.params, self.model.params)
            self.assertEqual(back.info()["arch"], ARCH)
            np.testing.assert_array_equal(minima.load(p, arch=ARCH).params, self.model.params)
            with self.assertRaises(minima.Error):
                minima.load(p, arch="1x8x8:conv4k3p1,relu,avgpool2,flatten,3")

    def test_load_pytorch_file_with_arch(self):
        with open(os.path.join(FIXTURES, "bn_expected.json")) as f:
            e = json.load(f)["cnn"]
        path = os.path.join(FIXTURES, "bn_cnn.safetensors")
        with self.assertRaises(minima.Error) as c:
            minima.load(path)
        self.assertEqual(c.exception.status, "EUNSUPPORTED")
        m = minima.load(path, arch=e["arch"])
        x = np.array(e["x"])
        prob = minima.Problem(m, minima.Data(x, np.zeros(len(x), dtype=np.int64), n_classes=3))
        np.testing.assert_allclose(prob.outputs(), np.array(e["outputs"]), rtol=1e-12, atol=1e-14)

    def test_audit(self):
        # the audit runs on the graph's group: stage-wise maps, per-channel draws
        r = self.prob.audit(["hessian_max"], decades=1)
        self.assertEqual(r["orbit"]["group"], "graph")
        self.assertEqual(r["n_not_equivalent"], 0)
        self.assertEqual(len(r["points"]), 1 + 2 + 2)
        self.assertGreater(r["measures"][0]["ratio"], 1.5)

    def outputs_of(self, model, X=None):
        X = self.X if X is None else X
        return minima.Problem(model, minima.Data(X, np.zeros(len(X), dtype=np.int64),
                                                 n_classes=3)).outputs()

    def assert_same_function(self, a, b, X=None):
        fa, fb = self.outputs_of(a, X), self.outputs_of(b, X)
        self.assertLessEqual(np.abs(fa - fb).max(), 1e-12 * np.abs(fa).max())
        self.assertGreater(np.abs(a.params - b.params).max(), 1e-3 * np.abs(a.params).max())

    def test_rescale_stage_wise(self):
        # ARCH has one stage (the conv's 4 channels): alpha = (a1, a2), a1 a2 = 1,
        # multiplies the conv's weights and bias by a1, the linear weights by
        # a2 = 1/a1, and leaves the output bias alone.
        m = self.model
        r = m.rescale(alpha=[4, 0.25])
        sd, sr = cnn_state_dict(m.params), cnn_state_dict(r.params)
        np.testing.assert_allclose(sr["0.weight"], 4 * sd["0.weight"], rtol=1e-15)
        np.testing.assert_allclose(sr["0.bias"], 4 * sd["0.bias"], rtol=1e-15)
        np.testing.assert_allclose(sr["4.weight"], 0.25 * sd["4.weight"], rtol=1e-15)
        np.testing.assert_array_equal(sr["4.bias"], sd["4.bias"])
        self.assert_same_function(m, r)
        np.testing.assert_array_equal(m.rescale(alpha=[4], derive_last=True).params, r.params)
        for bad in ([2, 2], [2, 0.5, 1], [2]):          # product != 1; count; count without derive_last
            with self.assertRaises(minima.Error) as c:
                m.rescale(alpha=bad)
            self.assertEqual(c.exception.status, "EINVAL")
        self.assertIn("1 stage", str(c.exception))

    def test_rescale_residual_graph(self):
        arch = "2x6x6:conv3k3p1,relu,res(conv3k3p1,relu,conv3k3p1),relu,gap,3"
        m = minima.Model.create(arch, seed=5)
        X = np.random.default_rng(2).standard_normal((10, 2, 6, 6))
        # two stages: the residual stream (stem and the block's last conv),
        # the block's inner conv
        r = m.rescale(alpha=[3, 0.5, 1 / 1.5])
        self.assert_same_function(m, r, X)
        n = m.rescale(alpha=[3, 0.5], derive_last=True, neurons=(7, 0.8))
        self.assert_same_function(m, n, X)
        self.assert_same_function(m, m.rescale(neurons="2:1.0"), X)
        with self.assertRaises(minima.Error) as c:
            m.rescale(alpha=[2, 0.5])
        self.assertIn("2 stages", str(c.exception))
        # canonical points: one per orbit, the same from m and from n
        for group in ("neuron", "layer"):
            c1, c2 = m.canonical(group=group), n.canonical(group=group)
            self.assertLessEqual(np.linalg.norm(c1.params), np.linalg.norm(m.params) * (1 + 1e-12))
            f1 = self.outputs_of(c1, X)
            self.assertLessEqual(np.abs(f1 - self.outputs_of(m, X)).max(), 1e-12 * np.abs(f1).max())
            if group == "neuron":
                np.testing.assert_allclose(c2.params, c1.params, rtol=1e-8, atol=1e-12)
        # over the stage-wise maps: the same point from two stage-wise points
        ca, cb = m.canonical(group="layer"), r.canonical(group="layer")
        np.testing.assert_allclose(cb.params, ca.params, rtol=1e-9, atol=1e-12)
        # the stage-wise minimum is above the per-class one
        self.assertGreaterEqual(np.linalg.norm(ca.params),
                                np.linalg.norm(m.canonical().params) * (1 - 1e-12))

    def test_rescale_tanh_graph_needs_no_force(self):
        m = minima.Model.create("1x8x8:conv4k3p1,tanh,conv3k3p1,relu,gap,3", seed=1)
        r = m.rescale(neurons=(1, 1.0))
        self.assert_same_function(m, r)

    def test_sharpness(self):
        r = self.prob.sharpness(["hessian_max", "normalized_sharpness", "path_norm", "worst_sharpness"],
                                seed=1)
        by = {e["name"]: e for e in r["measures"]}
        self.assertAlmostEqual(by["hessian_max"]["value"],
                               self.prob.spectrum(top=1, tol=1e-10)["top"][0]["eigenvalue"], delta=1e-6)
        self.assertGreater(by["normalized_sharpness"]["value"], 0)  # per filter and input channel
        self.assertGreater(by["path_norm"]["value"], 0)           # defined on graphs
        self.assertTrue(np.isfinite(by["worst_sharpness"]["value"]))


@unittest.skipIf(torch is None, "PyTorch (python3-torch) is not installed")
class TestTorchCNN(unittest.TestCase):
    def module(self):
        torch.manual_seed(5)
        nn = torch.nn
        net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                            nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 3))
        bn = net[1]
        with torch.no_grad():                   # statistics away from the defaults
            bn.weight.copy_(torch.rand(4) + 0.5)
            bn.bias.copy_(torch.rand(4) * 0.5)
            bn.running_mean.copy_(torch.randn(4) * 0.3)
            bn.running_var.copy_(torch.rand(4) * 1.5 + 0.5)
            bn.num_batches_tracked.fill_(11)
        return net.eval()

    def test_module_with_batchnorm(self):
        net = self.module()                     # float32, as PyTorch makes it
        X, y = data(32, seed=4)
        m = minima.Model.from_state_dict(net, arch=ARCH_BN)
        self.assertTrue(m.info()["nodes"][1]["bias"])   # folded: the conv gains a bias
        prob = minima.Problem(m, minima.Data(X, y))
        net = net.double()
        with torch.no_grad():
            z = net(torch.from_numpy(X))
            want = torch.nn.functional.cross_entropy(z, torch.from_numpy(y)).item()
        np.testing.assert_allclose(prob.outputs(), z.numpy(), rtol=1e-10, atol=1e-10 * z.abs().max().item())
        self.assertAlmostEqual(prob.loss(), want, delta=1e-10 * abs(want))
        # its state dict, as tensors, gives the same model
        np.testing.assert_array_equal(minima.Model.from_state_dict(net.state_dict(), arch=ARCH_BN).params,
                                      m.params)

    def test_module_without_batchnorm_autograd(self):
        torch.manual_seed(6)
        nn = torch.nn
        net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                            nn.Linear(64, 3)).double()
        X, y = data(16, seed=5)
        prob = minima.Problem(minima.Model.from_state_dict(net, arch=ARCH), minima.Data(X, y))
        params = list(net.parameters())
        np.testing.assert_array_equal(prob.model.params,
                                      torch.cat([q.detach().reshape(-1) for q in params]).numpy())
        loss = torch.nn.functional.cross_entropy(net(torch.from_numpy(X)), torch.from_numpy(y))
        self.assertAlmostEqual(prob.loss(), loss.item(), delta=1e-13 * loss.item())
        g = torch.cat([t.reshape(-1) for t in torch.autograd.grad(loss, params, create_graph=True)])
        np.testing.assert_allclose(prob.grad(), g.detach().numpy(), rtol=1e-11, atol=1e-14)
        v = np.random.default_rng(0).standard_normal(g.numel())
        hv = torch.autograd.grad(g @ torch.from_numpy(v), params)
        hv = torch.cat([t.reshape(-1) for t in hv]).numpy()
        np.testing.assert_allclose(prob.hvp(v), hv, rtol=1e-10, atol=1e-12 * np.abs(hv).max())


if __name__ == "__main__":
    unittest.main()
