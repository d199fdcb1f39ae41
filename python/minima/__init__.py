"""minima: the geometry of neural-network minima, from Python.

Pure Python over the shared library libminima.so through ctypes (no
compiled extension): exact float64 Hessian-vector products, Lanczos
spectra, traces, densities, sharpness measures and the audit of their
invariance under the rescalings that leave a network's function unchanged.

    import minima
    model = minima.Model.from_state_dict(net.state_dict())   # or minima.load("m.safetensors")
    data = minima.Data(X, y)                                 # NumPy arrays or torch tensors
    prob = minima.Problem(model, data)
    prob.spectrum(top=5)          # the dict of `minima spectrum --json`

Vectors are NumPy float64 arrays in PyTorch's parameters() order; results
of the command line's computations are dicts with its --json keys. Library
errors raise minima.Error with the library's message; Ctrl-C stops a long
call (KeyboardInterrupt) and leaves every object usable. The library is
found through MINIMA_LIBRARY, beside this package, in the repository's
build/ directory, or on the system's library path. docs/python.md has the
whole surface."""

from ._lib import Error, set_progress
from ._lib import path as library_path
from .model import Model, load
from .data import Data
from .problem import Problem
from .report import audit_table, spectrum_table

__version__ = "0.1.0"


def library_version():
    """The version of the loaded libminima, "MAJOR.MINOR.PATCH"."""
    from ._lib import fn
    v = fn.api_version()
    return v.decode() if isinstance(v, bytes) else v


__all__ = ["Error", "Model", "Data", "Problem", "load", "set_progress", "library_path",
           "library_version", "audit_table", "spectrum_table", "__version__"]
