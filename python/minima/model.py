"""minima.Model: a network and its parameters, held by the library."""

import ctypes
import json
import os
import re
import weakref

import numpy as np

from . import _lib
from ._lib import Error, check, fn, text
from ._request import request

_ESHAPE = _lib.STATUS_NAMES.index("ESHAPE")
_EINVAL = _lib.STATUS_NAMES.index("EINVAL")


def as_float64(a, what):
    """A C-contiguous float64 NumPy array of a, copied only when a is not one
    already (a torch tensor is detached and moved to the CPU first)."""
    if hasattr(a, "detach") and hasattr(a, "numpy"):          # a torch.Tensor
        a = a.detach().cpu().double().numpy()
    try:
        return np.ascontiguousarray(a, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise TypeError("%s: expected an array of numbers, found %s (%s)" % (what, type(a).__name__, e))


def _natural_key(s):
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", s) if t]


_ACTIVATIONS = {"ReLU": "relu", "Tanh": "tanh", "LeakyReLU": "leaky_relu"}


def _module_activation(module):
    """The activation of a torch nn.Module's layers, from its submodules'
    classes (no import of torch): "relu", "tanh", "leaky_relu:SLOPE", or
    None when it has none or several kinds."""
    found = set()
    for m in module.modules():
        kind = _ACTIVATIONS.get(type(m).__name__)
        if kind == "leaky_relu":
            kind = "leaky_relu:%r" % float(getattr(m, "negative_slope", 0.01))
        if kind:
            found.add(kind)
    return found.pop() if len(found) == 1 else None


def _mlp_order(arch, shapes):
    """The layer order an MLP arch "784-128-10" gives the "<layer>.weight"
    tensors (their names in natural order), after checking every width."""
    if not re.fullmatch(r"\s*\d+(\s*-\s*\d+)+\s*", arch):
        raise Error(_EINVAL, "arch '%s': expected the widths of a multilayer perceptron (784-128-10) "
                    "or the general form SHAPE:LAYER,... (1x28x28:conv8k3p1,relu,maxpool2,flatten,10; "
                    "docs/model-files.md)" % arch, "Model.from_state_dict")
    widths = [int(w) for w in arch.split("-")]
    layers = sorted((n[:-len(".weight")] for n, s in shapes.items()
                     if n.endswith(".weight") and len(s) == 2), key=_natural_key)
    if len(layers) != len(widths) - 1:
        raise Error(_ESHAPE, "arch '%s' has %d layers, the state dict %d weight matrices (%s)"
                    % (arch, len(widths) - 1, len(layers), ", ".join(layers)), "Model.from_state_dict")
    for k, name in enumerate(layers):
        want = (widths[k + 1], widths[k])
        found = tuple(shapes[name + ".weight"])
        if found != want:
            raise Error(_ESHAPE, "arch '%s': %s.weight has shape %s, expected %s (layer %d)"
                        % (arch, name, list(found), list(want), k), "Model.from_state_dict")
        bias = shapes.get(name + ".bias")
        if bias is not None and tuple(bias) != (widths[k + 1],):
            raise Error(_ESHAPE, "arch '%s': %s.bias has shape %s, expected [%d]"
                        % (arch, name, list(bias), widths[k + 1]), "Model.from_state_dict")
    return ",".join(layers)


def _is_graph_arch(arch):
    """Whether arch is the general form "SHAPE:LAYER,..." (it has a ':')."""
    return arch is not None and ":" in arch


class Model(_lib.Handle):
    """A network with its parameters: a multilayer perceptron (linear
    layers and one activation between them) or a graph of layers (Conv2d,
    pooling, flatten, residual additions, folded BatchNorm), described by
    an architecture string such as "1x28x28:conv8k3p1,relu,maxpool2,flatten,10"
    (docs/model-files.md). Make one with minima.load, Model.from_state_dict
    or Model.create; release it with close() or a `with` block (or leave it
    to the garbage collector). Rescaling (rescale, canonical) works on both:
    on a graph through its group of channel classes and stages."""
    _kind = "Model"
    _free = "model_free"

    def __init__(self, handle):
        """Takes ownership of a minima_model * (use the class methods)."""
        self._h = handle
        self._users = weakref.WeakSet()       # live problems that need this model

    # ---- making one ----------------------------------------------------

    @classmethod
    def _made(cls, function, call):
        out = ctypes.c_void_p()
        check(call(ctypes.byref(out)), function)
        return cls(out)

    @classmethod
    def load(cls, path, activation=None, order=None, arch=None):
        """A model file (safetensors), as `minima info` reads it. activation:
        None (the file's, else relu) or "relu", "tanh", "leaky_relu[:SLOPE]";
        order: None or the layer names in the order they run ("a,b,c" or a
        list); arch: None or the architecture of a state dict that records
        no graph (a PyTorch CNN: "1x28x28:conv8k3p1,bn,relu,maxpool2,flatten,10",
        as the command line's --arch; BatchNorm after `bn` is folded), or
        the MLP widths "784-128-10". A file minima wrote records its graph
        and needs no arch. order and arch cannot both be given."""
        if order is not None and not isinstance(order, str):
            order = ",".join(order)
        return cls._made("minima_api_model_load", lambda out: fn.api_model_load(
            text(os.fspath(path)), text(activation), text(order), text(arch), out))

    @classmethod
    def from_state_dict(cls, sd, arch=None, activation=None, order=None, loss=None):
        """A model from named tensors: a PyTorch state dict, a dict of NumPy
        arrays, or a torch nn.Module itself (its state_dict(), and its
        activation when activation is None and it has one kind), the
        tensors as a safetensors file would hold them.

        arch: None, the MLP widths ("784-128-10"), or the general form
        "SHAPE:LAYER,..." of any other network (docs/model-files.md):
          - None or widths: an MLP of "<layer>.weight" [out, in] and
            "<layer>.bias" [out]; widths are checked here and order the
            layers by their names in natural order;
          - "1x28x28:conv8k3p1,bn,relu,maxpool2,flatten,10": the tensors
            fill the architecture's Linear and Conv2d nodes module by
            module (PyTorch's names and shapes, every shape checked by the
            library, an error naming the tensor); a `bn` after a layer
            folds the BatchNorm module after it (weight, bias, running_mean,
            running_var; num_batches_tracked is skipped), as evaluation
            mode computes it. The activations are the architecture's.
        order: the layer names of an MLP in the order they run (not with a
        general arch); activation: "relu", "tanh", "leaky_relu[:SLOPE]"
        (None: the module's, else relu, noted as assumed); loss: "ce"
        (default) or "mse". Nothing is written to a file; the values are
        copied (as float64: integer buffers such as num_batches_tracked
        are converted too)."""
        if hasattr(sd, "state_dict") and callable(sd.state_dict):
            if activation is None and not _is_graph_arch(arch):    # a general arch names its own
                activation = _module_activation(sd)
            sd = sd.state_dict()
        if not hasattr(sd, "items"):
            raise TypeError("from_state_dict: expected a dict of arrays or tensors, or an "
                            "nn.Module, found %s" % type(sd).__name__)
        names, arrays = [], []
        for name, t in sd.items():
            names.append(str(name))
            arrays.append(as_float64(t, "state dict entry '%s'" % name))
        if order is not None and not isinstance(order, str):
            order = ",".join(order)
        graph_arch = None
        if _is_graph_arch(arch):
            graph_arch = arch                 # the library fills and checks it
        elif arch is not None and order is None:
            order = _mlp_order(arch, {n: a.shape for n, a in zip(names, arrays)})
        n = len(arrays)
        c_names = (ctypes.c_char_p * n)(*[text(s) for s in names])
        ndims = (ctypes.c_int * n)(*[a.ndim for a in arrays])
        shapes = np.array([d for a in arrays for d in a.shape], dtype=np.int64)
        values = (ctypes.c_void_p * n)(*[a.ctypes.data for a in arrays])
        return cls._made("minima_api_model_from_tensors", lambda out: fn.api_model_from_tensors(
            n, c_names, ndims, shapes.ctypes.data if shapes.size else None, values,
            text(order), text(graph_arch), text(activation), text(loss), out))

    @classmethod
    def create(cls, arch, bias=True, activation=None, seed=0):
        """A new model, initialised as PyTorch's nn.Linear and nn.Conv2d
        would be with this seed: an MLP "784-128-10" (activation between
        the layers: None is relu) or any network in the general form
        "1x8x8:conv4k3p1,relu,maxpool2,flatten,3" (its activations are
        the architecture's). bias: every layer with a bias, or none."""
        return cls._made("minima_api_model_create", lambda out: fn.api_model_create(
            text(arch), 1 if bias else 0, text(activation), int(seed), out))

    # ---- what it holds -------------------------------------------------

    @property
    def n_params(self):
        """The number of parameters P."""
        return int(fn.api_model_n_params(self.handle))

    @property
    def params(self):
        """A copy of the parameters, float64, in PyTorch's parameters() order."""
        theta = np.empty(self.n_params)
        check(fn.api_model_get_params(self.handle, theta.ctypes.data), "minima_api_model_get_params")
        return theta

    @params.setter
    def params(self, theta):
        self.set_params(theta)

    def set_params(self, theta):
        """Replaces the parameters with theta (P values, copied). A Problem
        made earlier keeps its own point: see Problem.set_point."""
        theta = as_float64(theta, "theta").reshape(-1)
        if theta.size != self.n_params:
            raise Error(_ESHAPE, "set_params: expected %d values, found %d" % (self.n_params, theta.size),
                        "Model.set_params")
        check(fn.api_model_set_params(self.handle, theta.ctypes.data), "minima_api_model_set_params")

    def info(self):
        """`minima info --json` of the model, as a dict."""
        out = ctypes.c_void_p()
        check(fn.api_model_info(self.handle, ctypes.byref(out)), "minima_api_model_info")
        return json.loads(_lib.take_string(out))

    def __repr__(self):
        if not self._h:
            return "<minima.Model (closed)>"
        return "<minima.Model: %d parameters>" % self.n_params

    # ---- writing it, and its equivalent copies -----------------------------

    def save(self, path, dtype="F64"):
        """Writes the model as safetensors ("F64" or "F32"), atomically."""
        check(fn.api_model_save(self.handle, text(os.fspath(path)), text(dtype)), "minima_api_model_save")

    def rescale(self, alpha=None, neurons=None, canonical=None, derive_last=None, force=None, **kw):
        """A copy computing the same function (`minima rescale`): alpha, the
        per-layer factors (their product 1, or one fewer with derive_last);
        neurons, random per-neuron factors as (seed, spread) or "SEED:SPREAD";
        canonical=True for the minimum-norm point of the orbit (group="layer":
        over the layer-wise maps only); force=True to rescale a
        non-homogeneous (tanh) perceptron anyway. On a graph alpha holds one
        factor per stage and one for the output node, neurons one random
        factor per free channel class (docs/symmetry.md)."""
        if isinstance(neurons, (tuple, list)):
            seed, spread = neurons
            neurons = "%d:%r" % (int(seed), float(spread))
        req = request(alpha=alpha, neurons=neurons, canonical=canonical,
                      derive_last=derive_last, force=force, **kw)
        return Model._made("minima_api_model_rescale", lambda out: fn.api_model_rescale(
            self.handle, text(req), out))

    def canonical(self, **kw):
        """The minimum-norm representative of the model's rescaling orbit."""
        return self.rescale(canonical=True, **kw)


def load(path, activation=None, order=None, arch=None):
    """A model file: minima.load("m.safetensors"), or a PyTorch CNN's state
    dict with its architecture, minima.load("cnn.safetensors",
    arch="1x28x28:conv8k3p1,relu,maxpool2,flatten,10") (see Model.load)."""
    return Model.load(path, activation=activation, order=order, arch=arch)
