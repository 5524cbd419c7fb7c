#!/usr/bin/python3
"""The workloads of neurep's benchmarks in the tools a researcher would
otherwise use, on the same data and the same number of threads:

  kernel   NTK kernel regression (input_bias, ridge relative to the mean
           diagonal) on the data neurep saved (run.save_data = true):
           NumPy + SciPy (cho_factor/cho_solve), and scikit-learn's
           KernelRidge with a precomputed kernel.
  taylor   one full-batch gradient step of the quadratic Taylor model
           (order 2, sigma = quadratic) in PyTorch, n x q inputs, m units.

Prints one JSON object per measurement. Threads: --threads (default 2),
applied to the BLAS through threadpoolctl and to PyTorch.
"""
import argparse
import json
import math
import sys
import time


def kernel_peers(args):
    import h5py
    import numpy as np
    import scipy.linalg
    from threadpoolctl import threadpool_limits

    with h5py.File(args.data, "r") as f:
        g = f[args.group] if args.group else f
        n = args.n or g["x_train"].shape[0]
        x, y = g["x_train"][:n], g["y_train"][:n]
        xt, ft = g["x_test"][()], g["f_test"][()]

    def ntk(a, b, same):
        gram = a @ b.T
        na, nb = np.einsum("ij,ij->i", a, a), np.einsum("ij,ij->i", b, b)
        nn = np.sqrt(np.outer(na, nb))
        t = np.clip(gram / nn, -1.0, 1.0)
        if same:
            np.fill_diagonal(t, 1.0)
        return gram * (np.pi - np.arccos(t)) / np.pi

    out = []
    with threadpool_limits(limits=args.threads):
        u = np.hstack([x, np.ones((n, 1))])
        ut = np.hstack([xt, np.ones((len(xt), 1))])
        t0 = time.perf_counter()
        k = ntk(u, u, True)
        t1 = time.perf_counter()
        shift = n * args.ridge * float(np.mean(np.diag(k)))
        k[np.diag_indices(n)] += shift
        c = scipy.linalg.cho_factor(k, lower=True, overwrite_a=True, check_finite=False)
        t2 = time.perf_counter()
        alpha = scipy.linalg.cho_solve(c, y, check_finite=False)
        kt = ntk(ut, u, False)
        pred = kt @ alpha
        t3 = time.perf_counter()
        err = float(np.mean((pred - ft) ** 2))
        out.append({"peer": "numpy+scipy", "n": n, "threads": args.threads, "seconds": t3 - t0,
                    "seconds_kernel": t1 - t0, "seconds_factor": t2 - t1, "seconds_predict": t3 - t2,
                    "factor_gflops": n ** 3 / 3 / (t2 - t1) * 1e-9, "test_error": err})
        del k, c, kt
        try:
            from sklearn.kernel_ridge import KernelRidge
        except ImportError:
            print("scikit-learn is not installed (python3-sklearn)", file=sys.stderr)
            return out
        t0 = time.perf_counter()
        k = ntk(u, u, True)
        shift = n * args.ridge * float(np.mean(np.diag(k)))
        model = KernelRidge(alpha=shift, kernel="precomputed").fit(k, y)
        del k
        pred = model.predict(ntk(ut, u, False))
        t1 = time.perf_counter()
        out.append({"peer": "sklearn KernelRidge", "n": n, "threads": args.threads, "seconds": t1 - t0,
                    "test_error": float(np.mean((pred - ft) ** 2))})
    return out


def taylor_peer(args):
    import torch

    torch.set_num_threads(args.threads)
    dtype = torch.float64 if args.precision == "double" else torch.float32
    n, q, m = args.n or 8192, args.q, args.m
    gen = torch.Generator().manual_seed(1)
    u = torch.randn(n, q, generator=gen, dtype=dtype)
    y = torch.randn(n, generator=gen, dtype=dtype)
    w0 = torch.randn(m, q, generator=gen, dtype=dtype) / math.sqrt(q)
    a = torch.ones(m, dtype=dtype)
    a[(m + 1) // 2:] = -1
    w = (0.1 * torch.randn(m, q, generator=gen, dtype=dtype) / math.sqrt(q)).requires_grad_(True)
    z0 = u @ w0.T
    s2 = torch.ones_like(z0)  # sigma'' of the quadratic activation
    times = []
    for _ in range(args.steps + 1):
        t0 = time.perf_counter()
        z = u @ w.T
        f = (s2 * z * z) @ a / (2 * math.sqrt(m))
        loss = 0.5 * torch.mean((f - y) ** 2)
        (g,) = torch.autograd.grad(loss, w)
        with torch.no_grad():
            w -= 0.01 * g
        times.append(time.perf_counter() - t0)
    sec = sorted(times[1:])[len(times[1:]) // 2]
    return [{"peer": "pytorch", "workload": "quad step", "n": n, "q": q, "m": m, "precision": args.precision,
             "threads": args.threads, "seconds_per_step": sec, "gflops": 4.0 * n * m * q / sec * 1e-9}]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("workload", choices=["kernel", "taylor"])
    p.add_argument("--data", help="kernel: a neurep data file (FILE.data/d<d>_seed<s>.h5)")
    p.add_argument("--group", default="", help="kernel: group inside --data")
    p.add_argument("--n", type=int, default=0, help="training points (default: all saved / 8192)")
    p.add_argument("--ridge", type=float, default=1e-6)
    p.add_argument("--q", type=int, default=1024)
    p.add_argument("--m", type=int, default=1024)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--precision", choices=["double", "single"], default="double")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    if args.workload == "kernel" and not args.data:
        p.error("kernel needs --data")
    rows = kernel_peers(args) if args.workload == "kernel" else taylor_peer(args)
    for r in rows:
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
