#!/usr/bin/python3
"""neurep's benchmark workloads in the tools a researcher would otherwise use,
on the same data and with the same number of threads (bench/run.sh):

  kernel          NTK kernel regression on the data neurep saved
                  (run.save_data = true): exactly neurep's kernel (input_bias,
                  t = <u,u'>/(|u||u'|) clipped, t = 1 on the diagonal), ridge
                  (n * lambda * mean diag K) and error (MSE / Var f*), with
                  --peer numpy  (NumPy + SciPy cho_factor/cho_solve, written
                                 as an expert would: in-place operations, two
                                 n x n arrays, K factored in place), or
                  --peer sklearn (scikit-learn KernelRidge on the precomputed
                                 kernel, as its documentation shows).
  taylor          one full-batch gradient step of the quadratic Taylor model
                  (order 2, sigma = quadratic: f = sum_r a_r (w_r.u)^2 / (2 sqrt m))
                  in PyTorch, with autograd (what users write) and with the
                  gradient written out (two matmuls); n x q inputs, m units.
  representation  random step features and zca whitening in NumPy/SciPy
                  (G = 1{X V^T + b >= 0}, Sigma, eigh, S^-1/2, applied).

Prints one JSON object per measurement, with the peak resident memory of
the process. Threads: --threads (default 2) for the BLAS (threadpoolctl) and
PyTorch; NumPy's elementwise operations are single-threaded by design.
Timings are the best of --repeats (kernel: 1, it is long).
"""
import argparse
import json
import math
import resource
import sys
import time


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def blas_info():
    from threadpoolctl import threadpool_info
    return [{k: i.get(k) for k in ("internal_api", "version", "architecture", "num_threads", "threading_layer")}
            for i in threadpool_info()]


def ntk(a, b, same):
    """neurep's `ntk` kernel <u,u'> kappa0(t), with two n x nb arrays."""
    import numpy as np
    g = a @ b.T
    na, nb = np.einsum("ij,ij->i", a, a), np.einsum("ij,ij->i", b, b)
    if same:
        np.fill_diagonal(g, na)  # t = 1 exactly on the diagonal, as neurep
    t = np.sqrt(np.multiply.outer(na, nb))
    np.divide(g, t, out=t)
    np.clip(t, -1.0, 1.0, out=t)
    np.arccos(t, out=t)
    np.subtract(np.pi, t, out=t)
    g *= t
    g /= np.pi
    return g


def kernel_peer(args):
    import h5py
    import numpy as np
    import scipy.linalg
    from threadpoolctl import threadpool_limits

    with h5py.File(args.data, "r") as f:
        g = f[args.group] if args.group else f
        n = args.n or g["x_train"].shape[0]
        x, y = g["x_train"][:n], g["y_train"][:n]
        xt, ft = g["x_test"][()], g["f_test"][()]
    u = np.hstack([x, np.ones((n, 1))])
    ut = np.hstack([xt, np.ones((len(xt), 1))])
    row = {"bench": "peer_kernel", "n": n, "n_test": len(xt), "d": x.shape[1], "threads": args.threads,
           "ridge": args.ridge}
    with threadpool_limits(limits=args.threads, user_api="blas"):
        if args.peer == "numpy":
            row["peer"] = "numpy+scipy"
            t0 = time.perf_counter()
            k = ntk(u, u, True)
            shift = n * args.ridge * float(np.mean(np.diag(k)))
            k[np.diag_indices(n)] += shift
            t1 = time.perf_counter()
            # K is symmetric: its transpose is the same matrix in Fortran order,
            # which LAPACK factors in place (a C-ordered K would be copied first).
            c = scipy.linalg.cho_factor(k.T, lower=False, overwrite_a=True, check_finite=False)
            t2 = time.perf_counter()
            alpha = scipy.linalg.cho_solve(c, y, check_finite=False)
            t3 = time.perf_counter()
            del k, c
            pred = ntk(ut, u, False) @ alpha
            t4 = time.perf_counter()
            row.update(seconds=t4 - t0, seconds_kernel=t1 - t0, seconds_factor=t2 - t1, seconds_solve=t3 - t2,
                       seconds_predict=t4 - t3, factor_gflops=n ** 3 / 3 / (t2 - t1) * 1e-9)
        else:
            from sklearn.kernel_ridge import KernelRidge
            row["peer"] = "sklearn KernelRidge"
            t0 = time.perf_counter()
            k = ntk(u, u, True)
            shift = n * args.ridge * float(np.mean(np.diag(k)))
            t1 = time.perf_counter()
            model = KernelRidge(alpha=shift, kernel="precomputed").fit(k, y)
            t2 = time.perf_counter()
            del k
            pred = model.predict(ntk(ut, u, False))
            t3 = time.perf_counter()
            row.update(seconds=t3 - t0, seconds_kernel=t1 - t0, seconds_fit=t2 - t1, seconds_predict=t3 - t2)
        row["test_error"] = float(np.mean((pred - ft) ** 2)) / args.target_variance
        row["blas"] = blas_info()
    row["peak_rss_bytes"] = peak_rss_bytes()
    return [row]


def taylor_peer(args):
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    dtype = torch.float64 if args.precision == "double" else torch.float32
    n, q, m = args.n or 8192, args.q, args.m
    gen = torch.Generator().manual_seed(1)
    u = torch.randn(n, q, generator=gen, dtype=torch.float64)
    u /= u.norm(dim=1, keepdim=True) / math.sqrt(q)  # on the sphere of radius sqrt(q), as neurep's inputs
    u = u.to(dtype)
    y = torch.randn(n, generator=gen, dtype=dtype)
    a = torch.ones(m, dtype=dtype)
    a[(m + 1) // 2:] = -1
    w_init = 0.1 * torch.randn(m, q, generator=gen, dtype=dtype) / math.sqrt(q)
    # a_r sigma''(z0_ir) / sqrt m: sigma'' = 1 for sigma(t) = t^2/2, one number per unit, so an
    # expert keeps one scale per unit and broadcasts it (as neurep does), not an n x m matrix.
    cache = a / math.sqrt(m)
    lr = 1e-3
    flops = 4.0 * n * m * q

    def autograd_step(w):
        z = u @ w.T
        f = 0.5 * (cache * z * z).sum(dim=1)
        loss = 0.5 * torch.mean((f - y) ** 2)
        (g,) = torch.autograd.grad(loss, w)
        with torch.no_grad():
            w -= lr * g

    def manual_step(w):
        z = u @ w.T
        f = 0.5 * (cache * z * z).sum(dim=1)
        c = (f - y) / n
        z.mul_(cache).mul_(c[:, None])  # E = c_i a_r sigma'' z_ir / sqrt m
        g = z.T @ u
        w -= lr * g

    rows = []
    with threadpool_limits(limits=args.threads, user_api="blas"):
        for name, step, grad in (("pytorch autograd", autograd_step, True), ("pytorch manual", manual_step, False)):
            w = w_init.clone().requires_grad_(grad)
            step(w)  # warm-up
            best = math.inf
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                for _ in range(args.steps):
                    step(w)
                best = min(best, (time.perf_counter() - t0) / args.steps)
            rows.append({"bench": "peer_taylor_step", "peer": name, "order": "2", "n": n, "q": q, "m": m,
                         "precision": args.precision, "threads": args.threads, "step_seconds": best,
                         "step_gflops": flops / best * 1e-9, "torch": torch.__version__,
                         "blas": blas_info()})
        # The machine's rate for the same two products in PyTorch (matmul only).
        z = torch.empty(n, m, dtype=dtype)
        wq = w_init.clone()
        best = math.inf
        for _ in range(args.repeats + 1):
            t0 = time.perf_counter()
            torch.matmul(u, wq.T, out=z)
            g = z.T @ u
            best = min(best, time.perf_counter() - t0)
        rows.append({"bench": "peer_taylor_step", "peer": "pytorch matmuls only", "order": "2", "n": n, "q": q,
                     "m": m, "precision": args.precision, "threads": args.threads, "step_seconds": best,
                     "step_gflops": flops / best * 1e-9, "torch": torch.__version__})
    for r in rows:
        r["peak_rss_bytes"] = peak_rss_bytes()
    return rows


def representation_peer(args):
    import numpy as np
    import scipy.linalg
    from threadpoolctl import threadpool_limits

    d, dd, n = args.d, args.width, args.n or 8192
    nu = args.unlabeled or 4 * dd
    rng = np.random.default_rng(1)

    def inputs(k):
        x = rng.standard_normal((k, d))
        return x * (math.sqrt(d) / np.linalg.norm(x, axis=1, keepdims=True))

    v = rng.standard_normal((dd, d)) / math.sqrt(d)
    b = rng.standard_normal(dd)
    x_unl, x = inputs(nu), inputs(n)
    rows = []
    with threadpool_limits(limits=args.threads, user_api="blas"):
        def features(xx):
            g = xx @ v.T
            g += b
            return (g >= 0).astype(np.float64)

        t = {}
        t0 = time.perf_counter()
        g_unl = features(x_unl)
        t["features_unlabeled"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        mu = g_unl.mean(axis=0)
        g_unl -= mu
        sigma = g_unl.T @ g_unl / nu
        w, z = scipy.linalg.eigh(sigma, overwrite_a=True, check_finite=False)
        ridge = 1e-3 * w.sum() / dd
        s_half = (z / np.sqrt(np.maximum(w + ridge, 1e-300))) @ z.T
        t["whitening_estimate"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        g = features(x)
        t["features_train"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        g -= mu
        h = g @ s_half
        t["whitening_apply"] = time.perf_counter() - t0
        del h
    for phase, sec in t.items():
        rows.append({"bench": "peer_representation", "peer": "numpy+scipy", "phase": phase, "d": d, "D": dd, "n": n,
                     "n_unlabeled": nu, "threads": args.threads, "seconds": sec, "peak_rss_bytes": peak_rss_bytes()})
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("workload", choices=["kernel", "taylor", "representation"])
    p.add_argument("--peer", choices=["numpy", "sklearn"], default="numpy", help="kernel: which peer")
    p.add_argument("--data", help="kernel: a neurep data file (OUT.data/d<d>_seed<s>.h5)")
    p.add_argument("--group", default="", help="kernel: group inside --data")
    p.add_argument("--n", type=int, default=0, help="training points (default: all saved / 8192)")
    p.add_argument("--ridge", type=float, default=1e-6, help="kernel: lambda, relative to the mean diagonal")
    p.add_argument("--target-variance", type=float, default=1.0, help="kernel: Var f* (1 when normalised)")
    p.add_argument("--q", type=int, default=1024)
    p.add_argument("--m", type=int, default=1024)
    p.add_argument("--d", type=int, default=32)
    p.add_argument("--width", type=int, default=2048)
    p.add_argument("--unlabeled", type=int, default=0)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--precision", choices=["double", "single"], default="double")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    if args.workload == "kernel" and not args.data:
        p.error("kernel needs --data")
    rows = {"kernel": kernel_peer, "taylor": taylor_peer, "representation": representation_peer}[args.workload](args)
    for r in rows:
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    sys.exit(main())
