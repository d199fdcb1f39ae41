"""minima.Problem: a model's loss on a data set, with its derivatives and
the command line's computations (spectrum, trace, density, sharpness,
audit) on it."""

import ctypes
import json

import numpy as np

from . import _lib
from . import _request
from ._lib import Error, check, fn, text
from .data import Data
from .model import Model, as_float64

_EINVAL = _lib.STATUS_NAMES.index("EINVAL")
_ESHAPE = _lib.STATUS_NAMES.index("ESHAPE")


class Problem(_lib.Handle):
    """The mean loss of `model` on `data`, as PyTorch computes it, with its
    gradient and exact Hessian-vector products in float64. Vectors are
    NumPy float64 arrays of P entries in PyTorch's parameters() order.

    The problem's point (where products and, by default, loss and gradient
    are taken) is the model's parameters when it was made; set_point moves
    it. The problem keeps the model and the data alive.

    loss: "ce" or "mse" (None: the data's loss, else the model's); batch:
    examples per internal batch (0: 1000, the command line's default)."""
    _kind = "Problem"
    _free = "net_free"

    def __init__(self, model, data, loss=None, batch=0):
        if not isinstance(model, Model):
            raise TypeError("Problem: model must be a minima.Model, found %s" % type(model).__name__)
        if not isinstance(data, Data):
            raise TypeError("Problem: data must be a minima.Data, found %s" % type(data).__name__)
        if loss is None:
            loss = data.loss
        out = ctypes.c_void_p()
        check(fn.api_problem(model.handle, data.handle, text(loss), int(batch), ctypes.byref(out)),
              "minima_api_problem")
        self._h = out
        self.model = model            # the net reads both: they must outlive it
        self.data = data
        model._users.add(self)
        data._users.add(self)
        self._P = int(fn.net_n_params(out))

    # ---- life ------------------------------------------------------------

    def close(self):
        """Releases the problem now (its model and data can then close)."""
        if self._h:
            _lib.Handle.close(self)
            self.model._users.discard(self)
            self.data._users.discard(self)

    def __repr__(self):
        if not self._h:
            return "<minima.Problem (closed)>"
        return "<minima.Problem: %d parameters, %d examples>" % (self._P, self.n_examples)

    # ---- sizes and the point -------------------------------------------

    @property
    def n_params(self):
        return self._P

    @property
    def n_examples(self):
        return int(fn.net_n_examples(self.handle))

    @property
    def n_products(self):
        """Curvature products computed since the problem was made."""
        return int(fn.net_n_products(self.handle))

    def _vector(self, v, what):
        v = as_float64(v, what)
        if v.ndim != 1 or v.size != self._P:
            raise Error(_ESHAPE, "%s: expected a vector of %d values, found shape %s"
                        % (what, self._P, list(v.shape)), "Problem")
        return v

    @property
    def point(self):
        """A copy of the point where curvature is taken."""
        p = fn.net_point(self.handle)
        return np.ctypeslib.as_array(ctypes.cast(p, ctypes.POINTER(ctypes.c_double)),
                                     shape=(self._P,)).copy()

    def set_point(self, theta):
        """Moves the point to theta (P finite values)."""
        theta = self._vector(theta, "theta")
        check(fn.net_set_point(self.handle, theta.ctypes.data), "minima_net_set_point")

    # ---- loss and derivatives --------------------------------------------

    def _theta(self, theta):
        if theta is None:
            return None, None
        t = self._vector(theta, "theta")
        return t, t.ctypes.data

    def loss(self, theta=None, accuracy=False):
        """The mean loss at theta (None: the point); with accuracy=True the
        pair (loss, accuracy), accuracy NaN when the data has no labels."""
        t, tp = self._theta(theta)
        value, acc = ctypes.c_double(), ctypes.c_double()
        check(fn.net_loss(self.handle, tp, ctypes.byref(value), ctypes.byref(acc) if accuracy else None),
              "minima_net_loss")
        return (value.value, acc.value) if accuracy else value.value

    def outputs(self, theta=None):
        """The network's outputs (logits for "ce") on every example at theta
        (None: the point), (N, d_K) float64: what the PyTorch module
        returns on the data (in evaluation mode: BatchNorm is folded)."""
        t, tp = self._theta(theta)
        shape = self.model.info()["nodes"][-1]["shape"]
        d = int(np.prod([int(s) for s in shape.split("x")]))
        out = np.empty((self.n_examples, d))
        check(fn.net_outputs(self.handle, tp, out.ctypes.data), "minima_net_outputs")
        return out

    def grad(self, theta=None, return_loss=False):
        """The gradient of the loss at theta (None: the point), and the loss
        too with return_loss=True."""
        t, tp = self._theta(theta)
        g = np.empty(self._P)
        value = ctypes.c_double()
        check(fn.net_gradient(self.handle, tp, ctypes.byref(value), g.ctypes.data), "minima_net_gradient")
        return (value.value, g) if return_loss else g

    def _product(self, f, name, v, out):
        v = as_float64(v, "v")
        if v.ndim == 2:                                   # (k, P): one product per row
            if v.shape[1] != self._P:
                raise Error(_ESHAPE, "%s: expected vectors of %d values, found shape %s"
                            % (name, self._P, list(v.shape)), "Problem")
            res = np.empty_like(v) if out is None else out
            for i in range(v.shape[0]):
                res[i] = self._product(f, name, v[i], None)
            return res
        v = self._vector(v, "v")
        if out is None:
            out = np.empty(self._P)
        elif not (isinstance(out, np.ndarray) and out.dtype == np.float64 and out.flags.c_contiguous
                  and out.shape == (self._P,)):
            raise Error(_ESHAPE, "%s: out must be a C-contiguous float64 array of %d values"
                        % (name, self._P), "Problem")
        if np.shares_memory(v, out):
            v = v.copy()
        check(f(self.handle, v.ctypes.data, out.ctypes.data), name)
        return out

    def hvp(self, v, out=None):
        """The exact Hessian-vector product H v at the point. v: (P,) or
        (k, P) for k products; out: an optional (P,) array to write into.
        The NumPy buffers go to the library as they are (no copy when v is
        C-contiguous float64)."""
        return self._product(fn.net_hvp, "minima_net_hvp", v, out)

    def ggnvp(self, v, out=None):
        """The generalised Gauss-Newton product G v (positive semidefinite)."""
        return self._product(fn.net_ggnvp, "minima_net_ggnvp", v, out)

    def hessian(self):
        """The dense Hessian (P, P) at the point, from P products (small
        networks: P up to a few thousand)."""
        h = np.empty((self._P, self._P))
        self._long(lambda: fn.net_hessian(self.handle, h.ctypes.data), "minima_net_hessian")
        return h

    # ---- the command line's computations -------------------------------------

    def _long(self, call, function):
        code, msg = _lib.run_long(call, function)
        if code:
            raise Error(code, msg, function)

    def _json(self, function, call):
        """call(out) -> status; the JSON text in out, as a dict."""
        out = ctypes.c_void_p()
        try:
            code, msg = _lib.run_long(lambda: call(ctypes.byref(out)), function)
        except KeyboardInterrupt:
            _lib.take_string(out.value)           # a result finished as Ctrl-C came
            raise
        result = _lib.take_string(out.value) if out.value else None
        partial = json.loads(result) if result else None
        if code:
            raise Error(code, msg, function, partial)
        return partial

    def spectrum(self, top=None, bottom=None, tol=None, **kw):
        """`minima spectrum --json` as a dict: the top (and bottom)
        eigenvalues of the Hessian with their residuals. Keywords are the
        command's options (None: its default): top, bottom, tol, basis,
        max_products, trace, trace_method, trace_rtol, trace_max, density,
        slq_steps, slq_draws, exact, levels, layers, ggn, float32, seed."""
        req = _request.request(top=top, bottom=bottom, tol=tol, **kw)
        return self._json("minima_api_spectrum",
                          lambda out: fn.api_spectrum(self.handle, text(req), out))

    def trace(self, method=None, rtol=None, max_probes=None, seed=None, top=0, **kw):
        """The Hessian's trace (XTrace by default; method "hutch++",
        "hutchinson", "exact", or "xnystrace" with ggn=True): the dict of `minima spectrum --top 0 --trace --json`; the
        estimate is result["trace"]["estimate"]."""
        return self.spectrum(top=top, trace=True, trace_method=method, trace_rtol=rtol,
                             trace_max=max_probes, seed=seed, **kw)

    def density(self, steps=None, draws=None, seed=None, top=0, **kw):
        """The spectral density by stochastic Lanczos quadrature: the dict of
        `minima spectrum --top 0 --density --json` (result["density"] holds
        "grid" and "values")."""
        return self.spectrum(top=top, density=True, slq_steps=steps, slq_draws=draws, seed=seed, **kw)

    def sharpness(self, measures=None, seed=0, settings=None, **measure_settings):
        """`minima sharpness --json` as a dict. measures: a list of names,
        "a,b", or None for all. Each measure's settings as a keyword named
        after it, a dict or "k=v,k=v" (sharpness(["dinh_sharpness"],
        dinh_sharpness={"eps": 1e-2})), or all of them as settings=."""
        s = dict(settings or {}) if not isinstance(settings, str) else settings
        if measure_settings:
            if isinstance(s, str):
                raise TypeError("sharpness: give settings either as a string or as keywords")
            s.update(measure_settings)
        return self._json("minima_api_sharpness", lambda out: fn.api_sharpness(
            self.handle, text(_request.measures(measures)), text(_request.settings(s)), int(seed), out))

    def audit(self, measures=None, settings=None, **kw):
        """`minima audit --json` as a dict: each measure along the model's
        rescaling orbit, with its verdict. measures as for sharpness;
        settings: {measure: {key: value}}; keywords are the command's
        options (decades, step, neuron_draws, spread, seed, canonical, ...)."""
        req = _request.request(**kw)
        return self._json("minima_api_audit", lambda out: fn.api_audit(
            self.handle, text(_request.measures(measures)), text(_request.settings(settings)),
            text(req), out))
