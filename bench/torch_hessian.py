#!/usr/bin/python3
"""PyTorch reference for bench_spectrum: Hessian-vector products by double
backprop over the data in batches, power iteration and Hutchinson's trace,
the way PyHessian computes them (Yao et al. 2020).

    torch_hessian.py MODEL.safetensors X.npy Y.npy --threads T --dtype float64|float32
                     [--batch B] [--hvp-reps R] [--hutchinson N] [--power-tol X]

Reads the safetensors file by hand (the `safetensors` package is not in
Debian), builds nn.Sequential(Linear, ReLU, ..., Linear) with those weights
and prints one JSON object on stdout. Run it with OMP_WAIT_POLICY=passive so
PyTorch's OpenMP threads do not spin while the BLAS's threads compute."""
import argparse
import json
import struct
import sys
import time

import numpy as np
import torch


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt = {"F64": np.float64, "F32": np.float32}[info["dtype"]]
        b, e = info["data_offsets"]
        tensors[name] = np.frombuffer(data[b:e], dtype=dt).reshape(info["shape"])
    return tensors


def natural_key(s):
    import re
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("x")
    ap.add_argument("y")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dtype", default="float64")
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--hvp-reps", type=int, default=5)
    ap.add_argument("--hutchinson", type=int, default=100)
    ap.add_argument("--power-tol", type=float, default=1e-3)
    ap.add_argument("--power-max", type=int, default=100)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dtype = {"float64": torch.float64, "float32": torch.float32}[a.dtype]
    torch.manual_seed(0)

    t = load_safetensors(a.model)
    names = sorted({k.rsplit(".", 1)[0] for k in t}, key=natural_key)
    layers = []
    for i, name in enumerate(names):
        w = torch.tensor(np.array(t[name + ".weight"]), dtype=dtype)
        lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=(name + ".bias") in t).to(dtype)
        with torch.no_grad():
            lin.weight.copy_(w)
            if lin.bias is not None:
                lin.bias.copy_(torch.tensor(np.array(t[name + ".bias"]), dtype=dtype))
        layers.append(lin)
        if i < len(names) - 1:
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers)
    X = torch.tensor(np.load(a.x), dtype=dtype)
    Y = torch.tensor(np.load(a.y).astype(np.int64))
    params = [p for p in net.parameters()]
    crit = torch.nn.CrossEntropyLoss()
    N = X.shape[0]
    batches = [(X[i:i + a.batch], Y[i:i + a.batch]) for i in range(0, N, a.batch)]

    def hvp(v):
        # PyHessian's dataloader_hv_product: per batch, grads with
        # create_graph, then the gradient of <g, v>; weighted by batch size.
        out = [torch.zeros_like(p) for p in params]
        for xb, yb in batches:
            loss = crit(net(xb), yb)
            g = torch.autograd.grad(loss, params, create_graph=True)
            hv = torch.autograd.grad(g, params, grad_outputs=v, only_inputs=True)
            w = xb.shape[0] / N
            for o, h in zip(out, hv):
                o.add_(h.detach(), alpha=w)
        return out

    def dot(a_, b_):
        return sum((x * y).sum() for x, y in zip(a_, b_)).item()

    def normalize(v):
        s = dot(v, v) ** 0.5
        return [x / (s + 1e-6) for x in v]

    # seconds per product
    v = [torch.randn_like(p) for p in params]
    hvp(v)
    times = []
    for _ in range(a.hvp_reps):
        t0 = time.perf_counter()
        hvp(v)
        times.append(time.perf_counter() - t0)
    times.sort()
    sec_hvp = times[len(times) // 2]

    # PyHessian's power iteration: relative change of the Rayleigh quotient
    t0 = time.perf_counter()
    v = normalize([torch.randn_like(p) for p in params])
    eig = None
    it = 0
    for it in range(1, a.power_max + 1):
        hv = hvp(v)
        tmp = dot(hv, v)
        v = normalize(hv)
        if eig is not None and abs(eig - tmp) / (abs(eig) + 1e-6) < a.power_tol:
            break  # PyHessian returns the previous quotient
        eig = tmp
    sec_power = time.perf_counter() - t0
    # its residual ||Hv - lambda v|| / |lambda| at the returned vector
    hv = hvp(v)
    lam = dot(hv, v)
    res = sum(((h - lam * x) ** 2).sum() for h, x in zip(hv, v)).item() ** 0.5

    # Hutchinson with Rademacher probes, a fixed number of samples
    t0 = time.perf_counter()
    samples = []
    for _ in range(a.hutchinson):
        z = [torch.randint_like(p, high=2) * 2 - 1 for p in params]
        samples.append(dot(hvp(z), z))
    sec_trace = time.perf_counter() - t0
    s = np.array(samples)
    print(json.dumps({
        "dtype": a.dtype, "threads": a.threads, "n_params": sum(p.numel() for p in params),
        "n_examples": N, "seconds_per_hvp": sec_hvp,
        "power": {"eigenvalue": eig, "iterations": it, "seconds": sec_power,
                  "relative_residual": res / abs(lam)},
        "trace": {"estimate": float(s.mean()), "stderr": float(s.std(ddof=1) / len(s) ** 0.5),
                  "samples": len(s), "seconds": sec_trace},
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    sys.exit(main())
