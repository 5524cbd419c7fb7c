"""An independent NumPy implementation of kernel regression on the data neurep
saves (run.save_data = true) agrees with neurep's test errors to 1e-8, and
with its validation errors and ridge choice (ridge_selection = "validation")."""
import h5py
import numpy as np

from common import Runner, parse_args, read_results, run_checks

CONFIG = """
[data]
dim = 7
degrees = [4]
noise = 0.05
n_test = 400
[learner]
kernel = "{kernel}"
input_bias = true
ridge = {ridge}
{selection}
[sweep]
n_train = [150, 400]
seeds = 2
[run]
save_data = true
block = 32
"""


def kappa0(t):
    return (np.pi - np.arccos(t)) / np.pi


def kappa1(t):
    return (np.sqrt(np.maximum(0.0, 1 - t * t)) + t * (np.pi - np.arccos(t))) / np.pi


def kernel(kind, a, b):
    g = a @ b.T
    na, nb = np.sum(a * a, axis=1), np.sum(b * b, axis=1)
    nn = np.sqrt(np.outer(na, nb))
    t = np.clip(g / nn, -1, 1)
    if a is b:
        np.fill_diagonal(t, 1.0)
        np.fill_diagonal(g, na)
    return {"ntk": g * kappa0(t), "ntk-full": nn * (t * kappa0(t) + kappa1(t)),
            "nngp": nn * kappa1(t), "linear": g}[kind]


def main():
    r = Runner(parse_args())
    validation = 'ridge_selection = "validation"\nvalidation_fraction = 0.25'
    for kind, ridge, selection in (("ntk", "[1e-3]", ""), ("nngp", "[1e-3]", ""),
                                   ("ntk", "[1e-5, 1e-3, 1e-1]", validation)):
        tag = kind + ("-validation" if selection else "")
        cfg = r.write(f"np-{tag}.toml", CONFIG.format(kernel=kind, ridge=ridge, selection=selection))
        out = r.path(f"np-{tag}.h5")
        rc, _, err = r.run("run", cfg, "-o", out, "-q", np_=2)
        r.check(rc == 0, f"{kind}: neurep run with save_data (rc {rc}) {err.strip()[:200]}")
        res = read_results(out)
        with h5py.File(out, "r") as f:
            for row in range(len(res["n"])):
                n, seed, ridge = int(res["n"][row]), int(res["seed"][row]), float(res["ridge"][row])
                g = f[f"data/d7_seed{seed}"]
                x, y = g["x_train"][:n], g["y_train"][:n]
                xt, ft = g["x_test"][()], g["f_test"][()]
                u = np.hstack([x, np.ones((n, 1))])
                ut = np.hstack([xt, np.ones((len(xt), 1))])
                k = kernel(kind, u, u)
                lam = n * ridge * np.mean(np.diag(k))
                alpha = np.linalg.solve(k + lam * np.eye(n), y)
                pred = kernel(kind, ut, u) @ alpha
                err_np = np.mean((pred - ft) ** 2)
                rel = abs(err_np - res["test_error"][row]) / err_np
                r.check(rel <= 1e-8, f"{kind} n={n} seed={seed}: NumPy {err_np:.10f} vs neurep "
                                     f"{res['test_error'][row]:.10f} (rel {rel:.1e})")
                if selection:  # refit on the first n - v points, scored on the last v
                    v = int(np.floor(0.25 * n))
                    kf = k[: n - v, : n - v]
                    lam = (n - v) * ridge * np.mean(np.diag(kf))
                    alpha = np.linalg.solve(kf + lam * np.eye(n - v), y[: n - v])
                    val_np = np.mean((k[n - v:, : n - v] @ alpha - y[n - v:]) ** 2)
                    val = res["validation_error"][row]
                    r.check(abs(val_np - val) <= 1e-8 * val_np, f"validation n={n} seed={seed} ridge={ridge}: NumPy "
                                                                f"{val_np:.10f} vs neurep {val:.10f}")
                r.check(g["x_train"].shape == (400, 7) and g["y_train"].shape == (400,), "x_train is n_max x d, row-major")
                r.check(np.allclose(np.linalg.norm(x, axis=1), np.sqrt(7)), "inputs lie on the sphere of radius sqrt(d)")
        if selection:  # per (n, seed) exactly the ridge with the smallest validation error is selected
            for n, seed in set(zip(res["n"], res["seed"])):
                rows = [i for i in range(len(res["n"])) if res["n"][i] == n and res["seed"][i] == seed]
                best = min(rows, key=lambda i: res["validation_error"][i])
                r.check([res["selected"][i] for i in rows] == [1.0 if i == best else 0.0 for i in rows],
                        f"validation n={n} seed={seed}: selected {[res['selected'][i] for i in rows]}")
    r.finish()


if __name__ == "__main__":
    run_checks(main)
