"""Shared by the package's tests: the package itself (from this checkout),
the repository's fixtures, the command-line program, a safetensors reader,
and a small MLP written in NumPy as an independent reference."""

import json
import os
import struct
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
PYDIR = os.path.dirname(HERE)
REPO = os.path.dirname(PYDIR)
if PYDIR not in sys.path:
    sys.path.insert(0, PYDIR)

import minima  # noqa: E402  (the checkout's package, after the path above)

FIXTURES = os.environ.get("MINIMA_FIXTURES", os.path.join(REPO, "tests", "fixtures"))
MLP = os.path.join(FIXTURES, "torch_mlp_f64.safetensors")
MLP_X = os.path.join(FIXTURES, "torch_mlp_x.npy")
MLP_Y = os.path.join(FIXTURES, "torch_mlp_y.npy")


def cli_binary():
    """The command-line program: $MINIMA_BIN, else the build tree's, else None."""
    p = os.environ.get("MINIMA_BIN") or os.path.join(REPO, "build", "minima")
    return p if os.path.exists(p) else None


def cli_json(*args):
    """Runs `minima ARGS --json` and returns its parsed stdout."""
    env = dict(os.environ, MINIMA_NO_PROGRESS="1")
    r = subprocess.run([cli_binary(), *args, "--json"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=env, timeout=600)
    if r.returncode != 0:
        raise AssertionError("minima %s: exit %d\n%s" % (" ".join(args), r.returncode, r.stderr.decode()))
    return json.loads(r.stdout)


def without_seconds(x):
    """The dict or list x without its "seconds" entries (timings differ)."""
    if isinstance(x, dict):
        return {k: without_seconds(v) for k, v in x.items() if k != "seconds"}
    if isinstance(x, list):
        return [without_seconds(v) for v in x]
    return x


def read_safetensors(path):
    """A safetensors file as a dict of NumPy arrays (F64 and F32 only)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        body = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        dt = {"F64": "<f8", "F32": "<f4"}[t["dtype"]]
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(body[a:b], dtype=dt).reshape(t["shape"]).astype(np.float64)
    return out


def mlp_loss(theta, shapes, X, y, act=lambda z: np.maximum(z, 0)):
    """Mean cross-entropy of an MLP with parameters theta in PyTorch's
    parameters() order (W1 [out, in], b1, W2, b2, ...); shapes: the widths."""
    h, o = X, 0
    K = len(shapes) - 1
    for k in range(K):
        i, j = shapes[k], shapes[k + 1]
        W = theta[o:o + i * j].reshape(j, i)
        o += i * j
        b = theta[o:o + j]
        o += j
        h = h @ W.T + b
        if k < K - 1:
            h = act(h)
    h = h - h.max(axis=1, keepdims=True)
    logp = h - np.log(np.exp(h).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(y)), y].mean()


def small_problem(arch="4-6-3", n=30, seed=0, activation="tanh"):
    """A small MLP (tanh: smooth, so finite differences are clean) on random
    data, with its NumPy inputs."""
    rng = np.random.default_rng(seed)
    widths = [int(w) for w in arch.split("-")]
    X = rng.standard_normal((n, widths[0]))
    y = rng.integers(0, widths[-1], n)
    model = minima.Model.create(arch, activation=activation, seed=seed + 1)
    return minima.Problem(model, minima.Data(X, y)), X, y, widths


def torch_or_none():
    try:
        import torch
        return torch
    except Exception:
        return None
