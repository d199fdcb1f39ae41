"""Library errors become minima.Error with the library's message."""

import os
import unittest

import numpy as np

from support import MLP, FIXTURES, minima


class TestErrors(unittest.TestCase):
    def test_missing_file(self):
        with self.assertRaises(minima.Error) as c:
            minima.load("/nonexistent/model.safetensors")
        e = c.exception
        self.assertEqual(e.status, "EIO")
        self.assertIn("/nonexistent/model.safetensors", str(e))
        self.assertEqual(e.function, "minima_api_model_load")

    def test_malformed_file(self):
        with self.assertRaises(minima.Error) as c:
            minima.load(os.path.join(FIXTURES, "torch_mlp_x.npy"))
        self.assertIn(c.exception.status, ("EFORMAT", "EIO", "EUNSUPPORTED"))
        self.assertTrue(str(c.exception))

    def test_data_does_not_fit_model(self):
        m = minima.load(MLP)                                # 5 inputs
        d = minima.Data(np.zeros((4, 7)), np.zeros(4, dtype=np.int64))
        with self.assertRaises(minima.Error) as c:
            minima.Problem(m, d)
        self.assertEqual(c.exception.status, "ESHAPE")
        self.assertTrue(str(c.exception))

    def test_bad_request_key(self):
        m = minima.load(MLP)
        p = minima.Problem(m, minima.Data(np.zeros((4, 5)), np.zeros(4, dtype=np.int64)))
        with self.assertRaises(minima.Error) as c:
            p.spectrum(no_such_option=1)
        self.assertEqual(c.exception.status, "EINVAL")
        self.assertIn("no_such_option", str(c.exception))

    def test_bad_label(self):
        with self.assertRaises(minima.Error):
            minima.Data(np.zeros((3, 2)), np.array([0.5, 1, 2]))

    def test_unknown_measure(self):
        m = minima.load(MLP)
        p = minima.Problem(m, minima.Data(np.zeros((4, 5)), np.zeros(4, dtype=np.int64)))
        with self.assertRaises(minima.Error) as c:
            p.sharpness(["no_such_measure"])
        self.assertIn("no_such_measure", str(c.exception))

    def test_error_is_an_exception_with_status(self):
        e = minima.Error(1, "message", "f")
        self.assertEqual((e.status, e.code, str(e)), ("EINVAL", 1, "message"))


if __name__ == "__main__":
    unittest.main()
