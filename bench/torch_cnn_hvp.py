#!/usr/bin/python3
"""PyTorch reference for bench_cnn: seconds per Hessian-vector product of a
network given by a minima architecture string, by double backprop over the
data in batches (PyHessian's way), in float64 or float32.

    torch_cnn_hvp.py ARCH --theta THETA.npy --x X.npy --y Y.npy [--v V.npy]
                     [--hv-out HV.npy] --threads T --dtype float64|float32
                     [--batch 1000] [--reps 5]
    torch_cnn_hvp.py ARCH --random N ...      (standalone: random images and
                                               labels, PyTorch's initialisation)

bench/bench_cnn runs it with the data, parameters (theta in parameters()
order, minima's order) and direction it used itself, and reads the one JSON
object printed on stdout. The module is built from ARCH by torch_arch.py;
X is (N, C*H*W) or (N, C, H, W) float64, Y the int64 labels, the loss
CrossEntropyLoss() (the mean over all N: batch losses weighted by their
size). With --hv-out the last product is written as float64 (P,) so the
caller can check that both computed the same thing.

Fairness: the thread count is set with torch.set_num_threads and
OMP_NUM_THREADS, and OMP_WAIT_POLICY=passive (unless the environment says
otherwise) so OpenMP threads do not spin between parallel regions; both are
set before torch is imported. Convolutions run through PyTorch's default
CPU paths: oneDNN (mkldnn) for float32 where available, its own
im2col + BLAS for float64 (oneDNN has no float64). The first product is
timed apart (allocator and oneDNN primitive creation), then the median of
--reps products."""
import argparse
import json
import os
import sys
import time


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("arch")
    ap.add_argument("--theta")
    ap.add_argument("--x")
    ap.add_argument("--y")
    ap.add_argument("--v")
    ap.add_argument("--hv-out")
    ap.add_argument("--random", type=int, default=0, metavar="N")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if not a.random and not (a.theta and a.x and a.y):
        ap.error("give --theta, --x and --y, or --random N")
    if a.reps < 1 or a.batch < 1 or a.threads < 1:
        ap.error("--reps, --batch and --threads must be at least 1")
    return a


A = parse_args()
# Before torch is imported: OpenMP reads these when it starts.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")
os.environ["OMP_NUM_THREADS"] = str(A.threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_arch  # noqa: E402


def main(a):
    torch.set_num_threads(a.threads)
    dtype = {"float64": torch.float64, "float32": torch.float32}[a.dtype]
    torch.manual_seed(a.seed)
    net, in_shape, out_shape = torch_arch.build(a.arch, bias=True)
    net = net.to(dtype)
    params = list(net.parameters())
    P = sum(p.numel() for p in params)
    if a.random:
        N = a.random
        X = torch.rand(N, *in_shape, dtype=dtype)
        Y = torch.randint(0, out_shape[0], (N,))
    else:
        theta = np.load(a.theta)
        if theta.shape != (P,):
            raise SystemExit("%s: expected %d parameters for %s, found shape %s"
                             % (a.theta, P, a.arch, theta.shape))
        with torch.no_grad():
            i = 0
            for p in params:
                p.copy_(torch.from_numpy(theta[i:i + p.numel()]).reshape(p.shape))
                i += p.numel()
        X = np.load(a.x)
        Y = np.load(a.y)
        N = X.shape[0]
        want = int(np.prod(in_shape))
        if X.size != N * want or Y.shape != (N,):
            raise SystemExit("%s, %s: expected (N, %d) inputs and (N,) labels, found %s and %s"
                             % (a.x, a.y, want, X.shape, Y.shape))
        X = torch.from_numpy(X.reshape(N, *in_shape)).to(dtype)
        Y = torch.from_numpy(Y.astype(np.int64))
    if a.v:
        vflat = np.load(a.v)
        if vflat.shape != (P,):
            raise SystemExit("%s: expected shape (%d,), found %s" % (a.v, P, vflat.shape))
        vflat = torch.from_numpy(vflat).to(dtype)
    else:
        vflat = torch.randn(P, dtype=dtype)
    v, i = [], 0
    for p in params:
        v.append(vflat[i:i + p.numel()].reshape(p.shape).contiguous())
        i += p.numel()
    crit = torch.nn.CrossEntropyLoss()
    batches = [(X[i:i + a.batch], Y[i:i + a.batch]) for i in range(0, N, a.batch)]

    def hvp():
        out = [torch.zeros_like(p) for p in params]
        for xb, yb in batches:
            loss = crit(net(xb), yb)
            g = torch.autograd.grad(loss, params, create_graph=True)
            hv = torch.autograd.grad(g, params, grad_outputs=v)
            w = xb.shape[0] / N
            for o, h in zip(out, hv):
                o.add_(h.detach(), alpha=w)
        return out

    t0 = time.perf_counter()
    hv = hvp()
    first = time.perf_counter() - t0
    times = []
    for _ in range(a.reps):
        t0 = time.perf_counter()
        hv = hvp()
        times.append(time.perf_counter() - t0)
    if a.hv_out:
        np.save(a.hv_out, torch.cat([h.reshape(-1) for h in hv]).double().numpy())
    print(json.dumps({
        "arch": a.arch, "dtype": a.dtype, "threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "n_params": P, "n_examples": N, "batch": a.batch, "data": "random" if a.random else a.x,
        "seconds_first_hvp": first, "seconds_per_hvp": sorted(times)[len(times) // 2],
        "seconds_all": times, "reps": a.reps,
        "mkldnn_available": torch.backends.mkldnn.is_available(),
        "mkldnn_enabled": bool(torch.backends.mkldnn.enabled),
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    sys.exit(main(A))
