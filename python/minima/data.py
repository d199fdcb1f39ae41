"""minima.Data: a data set (inputs and labels or targets), held by the library."""

import ctypes
import weakref

import numpy as np

from . import _lib
from ._lib import Error, check, fn, text
from .model import as_float64

_EINVAL = _lib.STATUS_NAMES.index("EINVAL")
_ESHAPE = _lib.STATUS_NAMES.index("ESHAPE")


def _as_labels(y):
    if hasattr(y, "detach") and hasattr(y, "numpy"):            # a torch.Tensor
        y = y.detach().cpu().numpy()
    y = np.asarray(y)
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise Error(_EINVAL, "labels: expected class indices (integers), found fractional or "
                        "non-finite values; pass float targets as targets=", "Data")
    elif y.dtype.kind not in "iub":
        raise TypeError("labels: expected integer class indices, found dtype %s" % y.dtype)
    return np.ascontiguousarray(y, dtype=np.int64).reshape(-1)


class Data(_lib.Handle):
    """A data set: inputs X (n, d) with class labels y (cross-entropy, or
    MSE against one-hot targets) or float targets (n, d_target) for MSE.
    X may have more dimensions (n, 1, 28, 28): each example is flattened.
    Arrays may be NumPy arrays or torch tensors; the library copies them.
    loss: the loss a Problem on this data uses by default ("ce", "mse";
    None: the model's)."""
    _kind = "Data"
    _free = "dataset_free"

    def __init__(self, X, y=None, targets=None, loss=None, n_classes=0):
        if (y is None) == (targets is None):
            raise Error(_EINVAL, "Data: give exactly one of y (class labels) and targets "
                        "(float targets for MSE)", "Data")
        x = as_float64(X, "X")
        if x.ndim == 1:
            x = x.reshape(-1, 1)
        elif x.ndim > 2:
            x = x.reshape(x.shape[0], -1)
        n, d = x.shape
        labels = tgt = None
        d_target = 0
        if y is not None:
            labels = _as_labels(y)
            if labels.size != n:
                raise Error(_ESHAPE, "Data: %d inputs but %d labels" % (n, labels.size), "Data")
        else:
            tgt = as_float64(targets, "targets")
            tgt = tgt.reshape(n, -1) if tgt.ndim != 2 else tgt
            if tgt.shape[0] != n:
                raise Error(_ESHAPE, "Data: %d inputs but %d targets" % (n, tgt.shape[0]), "Data")
            d_target = tgt.shape[1]
        out = ctypes.c_void_p()
        check(fn.api_data_from_arrays(
            n, d, x.ctypes.data, labels.ctypes.data if labels is not None else None,
            int(n_classes), tgt.ctypes.data if tgt is not None else None, d_target,
            ctypes.byref(out)), "minima_api_data_from_arrays")
        self._h = out
        self.loss = loss
        self._users = weakref.WeakSet()

    @classmethod
    def load(cls, source, labels=None, subset=0, loss=None):
        """A data source as the command line names it: "fashion-mnist",
        "X.npy" (with labels="y.npy"), "synthetic:blobs:500", ...; subset:
        the first N examples (0: all)."""
        out = ctypes.c_void_p()
        code, msg = _lib.run_long(lambda: fn.api_data_load(
            text(source), text(labels), int(subset), ctypes.byref(out)), "minima_api_data_load")
        if code:
            raise Error(code, msg, "minima_api_data_load")
        self = cls.__new__(cls)
        self._h = out
        self.loss = loss
        self._users = weakref.WeakSet()
        return self

    @property
    def n(self):
        """The number of examples."""
        return int(fn.api_data_n(self.handle))

    @property
    def d(self):
        """The number of input features."""
        return int(fn.api_data_d(self.handle))

    def __len__(self):
        return self.n

    def __repr__(self):
        if not self._h:
            return "<minima.Data (closed)>"
        return "<minima.Data: %d examples of %d features>" % (self.n, self.d)
