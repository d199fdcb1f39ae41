"""Models: files, state dicts, parameters, rescaled copies."""

import json
import os
import tempfile
import unittest

import numpy as np

from support import MLP, MLP_X, MLP_Y, FIXTURES, minima, read_safetensors


class TestModel(unittest.TestCase):
    def setUp(self):
        with open(os.path.join(FIXTURES, "torch_mlp_expected.json")) as f:
            self.expected = json.load(f)

    def test_load_params_in_torch_order(self):
        m = minima.load(MLP)
        self.assertEqual(m.n_params, 123)
        np.testing.assert_array_equal(m.params, np.array(self.expected["params_f64"]))
        info = m.info()
        self.assertEqual(info["arch"], "5-8-6-3")
        self.assertEqual(info["n_params"], 123)

    def test_save_load_round_trip(self):
        m = minima.load(MLP)
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "m.safetensors")
            m.save(p)
            m2 = minima.load(p)
            np.testing.assert_array_equal(m2.params, m.params)
            self.assertEqual(m2.info()["arch"], m.info()["arch"])
            p32 = os.path.join(d, "m32.safetensors")
            m.save(p32, dtype="F32")
            np.testing.assert_array_equal(minima.load(p32).params, m.params.astype(np.float32))

    def test_from_state_dict_of_numpy_arrays(self):
        sd = read_safetensors(MLP)
        m = minima.Model.from_state_dict(sd)
        np.testing.assert_array_equal(m.params, minima.load(MLP).params)
        m2 = minima.Model.from_state_dict(sd, arch="5-8-6-3", activation="relu")
        np.testing.assert_array_equal(m2.params, m.params)
        self.assertEqual(m2.info()["activation"], "relu")

    def test_from_state_dict_arch_mismatch(self):
        sd = read_safetensors(MLP)
        with self.assertRaises(minima.Error) as c:
            minima.Model.from_state_dict(sd, arch="5-8-7-3")
        self.assertEqual(c.exception.status, "ESHAPE")
        self.assertIn("2.weight", str(c.exception))

    def test_set_params(self):
        m = minima.load(MLP)
        theta = m.params * 2
        m.set_params(theta)
        np.testing.assert_array_equal(m.params, theta)
        with self.assertRaises(minima.Error):
            m.set_params(theta[:-1])

    def test_rescale_preserves_the_function(self):
        m = minima.load(MLP)
        data = minima.Data(np.load(MLP_X), np.load(MLP_Y))
        base = minima.Problem(m, data).loss()
        r = m.rescale(alpha=[10, 0.5, 0.2])
        self.assertFalse(np.allclose(r.params, m.params))
        self.assertAlmostEqual(minima.Problem(r, data).loss(), base, delta=1e-12 * abs(base))
        c = r.canonical()
        self.assertAlmostEqual(minima.Problem(c, data).loss(), base, delta=1e-12 * abs(base))
        # The canonical point of the orbit does not depend on where on it we start.
        np.testing.assert_allclose(c.params, m.canonical().params, rtol=1e-9, atol=1e-12)
        n = m.rescale(neurons=(3, 1.0))
        self.assertAlmostEqual(minima.Problem(n, data).loss(), base, delta=1e-12 * abs(base))

    def test_create_is_seeded(self):
        a = minima.Model.create("4-6-3", seed=7)
        b = minima.Model.create("4-6-3", seed=7)
        np.testing.assert_array_equal(a.params, b.params)
        self.assertEqual(a.n_params, 4 * 6 + 6 + 6 * 3 + 3)

    def test_close(self):
        m = minima.load(MLP)
        p = minima.Problem(m, minima.Data(np.load(MLP_X), np.load(MLP_Y)))
        with self.assertRaises(minima.Error):
            m.close()                 # a live problem needs it
        p.close()
        m.close()
        with self.assertRaises(minima.Error):
            m.params


if __name__ == "__main__":
    unittest.main()
