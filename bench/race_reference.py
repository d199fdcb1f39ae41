#!/usr/bin/python3
"""The PyTorch side of bench_race: what a careful PyTorch user runs for the
curvature of a network, timed on the same model, data and thread count as
minima (docs/performance.md).

    OMP_WAIT_POLICY=passive race_reference.py MODEL.safetensors X.npy Y.npy JOBS.json
                            [--threads T] [--dtypes float64,float32] [--batch B] [--seed S]

MODEL is a ReLU MLP as minima writes it (safetensors, read by hand: the
`safetensors` package is not in Debian), X.npy the inputs (N, d) and Y.npy
the int64 labels. JOBS.json is a list of jobs, each an object with "id" and
"method" plus the method's settings:

    hvp        reps                 seconds per product (median of reps)
    eigsh      which (LA|SA), k, tol, max_products
                                    scipy.sparse.linalg.eigsh (ARPACK) over a
                                    LinearOperator of Hessian-vector products
    power      tol, max_iter        PyHessian's power iteration (k = 1)
    deflated   k, tol, max_iter     PyHessian's eigenvalues(top_n=k): power
                                    iteration against the vectors found so far
    hutchinson rtol, min_samples, max_products
    hutchpp    rtol, sketch, min_samples, max_products
                                    Hutchinson / Hutch++ (Rademacher probes)
                                    until the relative standard error <= rtol
    slq        steps, draws         PyHessian's density (Lanczos with full
                                    reorthogonalization from Rademacher starts)

Every job runs once per dtype. The products are PyHessian's: per batch, the
gradient with create_graph, then the gradient of <g, v>, weighted by the
batch's share of the data. ARPACK always iterates in float64; in float32 the
vector is cast to float32 for the product and back. Time and product counts
cover the method only; the float64 residual ||H x - lambda x|| / |lambda| of
every returned pair is computed afterwards with float64 products that are
neither timed nor counted.

Prints one JSON object on stdout; with torch or scipy missing, an object
with "error" and exit status 3. Set OMP_WAIT_POLICY=passive (and
OMP_NUM_THREADS) BEFORE Python starts: PyTorch's OpenMP threads otherwise
spin between products and take the cores the BLAS's threads need."""
import argparse
import json
import re
import struct
import sys
import time

try:
    import numpy as np
    import torch
    import scipy
    from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh
except ImportError as e:  # the C side prints minima's columns only
    print(json.dumps({"error": "the reference needs numpy, torch and scipy (Debian: "
                      "python3-torch, python3-scipy): %s" % e}))
    sys.exit(3)


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt = {"F64": np.float64, "F32": np.float32}[info["dtype"]]
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(data[b:e], dtype=dt).reshape(info["shape"])
    return out


def natural_key(s):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


class Hessian:
    """Hessian-vector products of the mean cross-entropy of a ReLU MLP, as
    flat float64 numpy vectors in parameters() order (minima's order)."""

    def __init__(self, tensors, X, Y, dtype, batch):
        names = sorted({k.rsplit(".", 1)[0] for k in tensors}, key=natural_key)
        layers = []
        for i, name in enumerate(names):
            w = torch.tensor(np.array(tensors[name + ".weight"]), dtype=dtype)
            lin = torch.nn.Linear(w.shape[1], w.shape[0],
                                  bias=(name + ".bias") in tensors).to(dtype)
            with torch.no_grad():
                lin.weight.copy_(w)
                if lin.bias is not None:
                    lin.bias.copy_(torch.tensor(np.array(tensors[name + ".bias"]), dtype=dtype))
            layers.append(lin)
            if i < len(names) - 1:
                layers.append(torch.nn.ReLU())
        self.net = torch.nn.Sequential(*layers)
        self.params = list(self.net.parameters())
        self.shapes = [p.shape for p in self.params]
        self.sizes = [p.numel() for p in self.params]
        self.n = sum(self.sizes)
        self.dtype = dtype
        self.npdtype = np.float64 if dtype == torch.float64 else np.float32
        Xt = torch.tensor(X, dtype=dtype)
        Yt = torch.tensor(Y.astype(np.int64))
        N = Xt.shape[0]
        self.batches = [(Xt[i:i + batch], Yt[i:i + batch], min(batch, N - i) / N)
                        for i in range(0, N, batch)]
        self.crit = torch.nn.CrossEntropyLoss()
        self.count = 0
        self.apply_list([torch.zeros_like(p) for p in self.params])   # warm-up, not timed
        self.count = 0

    def apply_list(self, v):
        """PyHessian's dataloader_hv_product on a list of tensors."""
        out = [torch.zeros_like(p) for p in self.params]
        for xb, yb, w in self.batches:
            loss = self.crit(self.net(xb), yb)
            g = torch.autograd.grad(loss, self.params, create_graph=True)
            hv = torch.autograd.grad(g, self.params, grad_outputs=v, only_inputs=True)
            for o, h in zip(out, hv):
                o.add_(h.detach(), alpha=w)
        self.count += 1
        return out

    def to_list(self, x):
        t = torch.from_numpy(np.ascontiguousarray(x, dtype=self.npdtype))
        return [c.view(s) for c, s in zip(torch.split(t, self.sizes), self.shapes)]

    def __call__(self, x):
        """H x for a flat numpy vector; float64 out."""
        out = self.apply_list(self.to_list(np.ravel(x)))
        return torch.cat([o.reshape(-1) for o in out]).numpy().astype(np.float64)


def residuals(H64, vals, vecs):
    """||H x - lambda x|| / |lambda| with float64 products (not counted)."""
    c = H64.count
    r = []
    for lam, x in zip(vals, vecs):
        x = np.asarray(x, dtype=np.float64)
        x = x / np.linalg.norm(x)
        r.append(float(np.linalg.norm(H64(x) - lam * x) / max(abs(lam), 1e-300)))
    H64.count = c
    return r


def job_hvp(H, H64, j, rng):
    v = rng.standard_normal(H.n)
    H(v)
    t = []
    for _ in range(int(j.get("reps", 3))):
        t0 = time.perf_counter()
        H(v)
        t.append(time.perf_counter() - t0)
    t.sort()
    return {"seconds": t[len(t) // 2], "products": 1}


def job_eigsh(H, H64, j, rng):
    which, k, tol = j.get("which", "LA"), int(j.get("k", 1)), float(j["tol"])
    maxp = int(j.get("max_products", 10000))
    ncv = min(H.n, max(2 * k + 1, 20))          # eigsh's default basis
    op = LinearOperator((H.n, H.n), matvec=H, dtype=np.float64)
    v0 = rng.standard_normal(H.n)
    H.count = 0
    converged = True
    t0 = time.perf_counter()
    try:
        vals, vecs = eigsh(op, k=k, which=which, tol=tol, v0=v0, ncv=ncv,
                           maxiter=max(1, maxp // max(1, ncv - k)))
    except ArpackNoConvergence as e:
        converged = False
        vals, vecs = e.eigenvalues, e.eigenvectors
    sec = time.perf_counter() - t0
    prods = H.count
    order = np.argsort(vals)[::-1] if which == "LA" else np.argsort(vals)
    vals = [float(vals[i]) for i in order]
    vecs = [vecs[:, i] for i in order]
    return {"seconds": sec, "products": prods, "eigenvalues": vals, "converged": converged,
            "ncv": ncv, "residuals": residuals(H64, vals, vecs)}


def power_deflated(H, k, tol, max_iter, rng):
    """PyHessian's hessian.eigenvalues(maxIter, tol, top_n=k)."""
    def dot(a, b):
        return sum(float((x * y).sum()) for x, y in zip(a, b))

    def normalize(v):
        s = dot(v, v) ** 0.5
        return [x / (s + 1e-6) for x in v]

    def orth(v, basis):
        for u in basis:
            c = dot(v, u)
            v = [x - c * y for x, y in zip(v, u)]
        return normalize(v)

    vals, vecs, iters, conv = [], [], [], []
    for _ in range(k):
        v = normalize([torch.from_numpy(rng.standard_normal(p.numel())).to(H.dtype).view(p.shape)
                       for p in H.params])
        eig, done, it = None, False, 0
        for it in range(1, max_iter + 1):
            v = orth(v, vecs)
            hv = H.apply_list(v)
            tmp = dot(hv, v)
            v = normalize(hv)
            if eig is not None and abs(eig - tmp) / (abs(eig) + 1e-6) < tol:
                done = True
                break                      # PyHessian returns the previous quotient
            eig = tmp
        vals.append(eig if eig is not None else tmp)
        vecs.append(v)
        iters.append(it)
        conv.append(done)
    return vals, vecs, iters, conv


def job_power(H, H64, j, rng):
    k = int(j.get("k", 1))
    H.count = 0
    t0 = time.perf_counter()
    vals, vecs, iters, conv = power_deflated(H, k, float(j.get("tol", 1e-3)),
                                             int(j.get("max_iter", 100)), rng)
    sec = time.perf_counter() - t0
    flat = [torch.cat([x.reshape(-1) for x in v]).numpy() for v in vecs]
    return {"seconds": sec, "products": H.count, "eigenvalues": [float(x) for x in vals],
            "iterations": iters, "converged": all(conv), "residuals": residuals(H64, vals, flat)}


def rademacher(rng, n):
    return rng.integers(0, 2, n).astype(np.float64) * 2 - 1


def hutch_loop(H, rtol, min_s, max_p, rng, base, Q):
    """Hutchinson on the complement of range(Q) (all of it when Q is None),
    added to base, until the standard error <= rtol |estimate|."""
    s = []
    est, se = base, float("inf")
    while H.count < max_p:
        z = rademacher(rng, H.n)
        if Q is not None:
            z = z - Q @ (Q.T @ z)
        s.append(float(z @ H(z)))
        if len(s) >= 2:
            a = np.array(s)
            est, se = base + float(a.mean()), float(a.std(ddof=1) / len(a) ** 0.5)
            if len(s) >= min_s and se <= rtol * abs(est):
                return est, se, len(s), True
    return est, se, len(s), False


def job_hutchinson(H, H64, j, rng):
    H.count = 0
    t0 = time.perf_counter()
    est, se, ns, ok = hutch_loop(H, float(j["rtol"]), int(j.get("min_samples", 10)),
                                 int(j.get("max_products", 1000)), rng, 0.0, None)
    return {"seconds": time.perf_counter() - t0, "products": H.count, "estimate": est,
            "std_error": se, "samples": ns, "converged": ok}


def job_hutchpp(H, H64, j, rng):
    sk = min(int(j.get("sketch", 30)), H.n)
    H.count = 0
    t0 = time.perf_counter()
    Y = np.empty((H.n, sk))
    for i in range(sk):
        Y[:, i] = H(rademacher(rng, H.n))
    Q, _ = np.linalg.qr(Y)
    base = float(sum(Q[:, i] @ H(Q[:, i]) for i in range(sk)))
    est, se, ns, ok = hutch_loop(H, float(j["rtol"]), int(j.get("min_samples", 10)),
                                 int(j.get("max_products", 1000)), rng, base, Q)
    return {"seconds": time.perf_counter() - t0, "products": H.count, "estimate": est,
            "std_error": se, "samples": ns, "converged": ok}


def job_slq(H, H64, j, rng):
    """PyHessian's density(iter, n_v): per draw a Rademacher start, Lanczos
    with full reorthogonalization, the tridiagonal's eigenvalues as nodes
    and their first eigenvector components squared as weights."""
    steps, draws = int(j.get("steps", 100)), int(j.get("draws", 1))
    H.count = 0
    t0 = time.perf_counter()
    nodes, weights = [], []
    for _ in range(draws):
        v = torch.from_numpy(rademacher(rng, H.n)).to(H.dtype)
        v = v / v.norm()
        V, alphas, betas = [v], [], []
        for i in range(steps):
            w = torch.cat([x.reshape(-1) for x in H.apply_list(
                [c.view(s) for c, s in zip(torch.split(V[-1], H.sizes), H.shapes)])])
            a = float(w @ V[-1])
            alphas.append(a)
            if i == steps - 1:
                break
            w = w - a * V[-1] - (betas[-1] * V[-2] if betas else 0)
            for u in V:                               # PyHessian's full reorthogonalization
                w = w - float(w @ u) * u
            b = float(w.norm())
            if b < 1e-12:
                break
            betas.append(b)
            V.append(w / b)
        T = np.diag(alphas) + np.diag(betas[:len(alphas) - 1], 1) + np.diag(betas[:len(alphas) - 1], -1)
        ev, U = np.linalg.eigh(T)
        nodes.append(ev.tolist())
        weights.append((U[0, :] ** 2).tolist())
    return {"seconds": time.perf_counter() - t0, "products": H.count,
            "nodes": nodes, "weights": weights}


JOBS = {"hvp": job_hvp, "eigsh": job_eigsh, "power": job_power, "deflated": job_power,
        "hutchinson": job_hutchinson, "hutchpp": job_hutchpp, "slq": job_slq}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("x")
    ap.add_argument("y")
    ap.add_argument("jobs")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dtypes", default="float64,float32")
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    with open(a.jobs) as f:
        jobs = json.load(f)
    tensors = load_safetensors(a.model)
    X, Y = np.load(a.x), np.load(a.y)
    H64 = Hessian(tensors, X, Y, torch.float64, a.batch)
    out = {"threads": a.threads, "n_params": H64.n, "n_examples": int(X.shape[0]),
           "torch": torch.__version__, "scipy": scipy.__version__, "results": []}
    for dt in a.dtypes.split(","):
        H = H64 if dt == "float64" else Hessian(tensors, X, Y, torch.float32, a.batch)
        for j in jobs:
            rng = np.random.default_rng(a.seed)
            r = JOBS[j["method"]](H, H64, j, rng)
            r.update({"id": j["id"], "method": j["method"], "dtype": dt})
            out["results"].append(r)
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
