"""The same configuration gives the same results on 1, 2 and 4 ranks and on
the grids 1x4, 2x2 and 4x1 (relative 1e-10), bit-identical results on the
same grid, and --resume of a finished run recomputes nothing."""
import os
import re

import numpy as np

from common import Runner, parse_args, read_results, run_checks

CONFIG = """
[data]
dim = 6
degrees = [3, 2]
coefficients = [1.0, 0.5]
noise = 0.1
n_test = 300
[learner]
kernel = "ntk-full"
input_bias = true
ridge = [1e-4, 1e-2]
[sweep]
n_train = [90, 250]
seeds = [0, 3]
[run]
block = 16
"""


CANDIDATES = """
[data]
dim = 5
degrees = [2]
n_test = 200
[learner]
kind = "taylor"
m     = [3, "2*d"]
learning_rate = [0.01, 0.05]
steps = 300
eval_every = 20
validation_fraction = 0.25
[sweep]
n_train = [120]
seeds = 2
"""


def candidate_checks(r):
    """Lists of settings: a row per candidate, the same on 1 and 4 ranks, and
    selected = 1 on the smallest validation error of each (d, n, seed)."""
    cfg = r.write("cand.toml", CANDIDATES)
    res = {}
    for np_ in (1, 4):
        rc, _, err = r.run("run", cfg, "-o", f"cand{np_}.h5", "-q", np_=np_)
        r.check(rc == 0, f"candidates on {np_} ranks (rc {rc}) {err.strip()[:200]}")
        res[np_] = read_results(r.path(f"cand{np_}.h5"))
    a, b = res[1], res[4]
    r.check(len(a["n"]) == 2 * 4, "a row per (seed, candidate)")
    rel = float(np.max(np.abs(a["test_error"] - b["test_error"]) / np.abs(a["test_error"])))
    r.check(rel <= 1e-10, f"candidates agree on 1 and 4 ranks (max rel {rel:.1e})")
    ok = True
    for seed in (0, 1):
        idx = np.nonzero(a["seed"] == seed)[0]
        best = idx[np.argmin(a["validation_error"][idx])]
        ok = ok and a["selected"][best] == 1 and a["selected"][idx].sum() == 1
    r.check(ok, "selected marks the smallest validation error of each seed")
    r.check(set(a["m"]) == {3.0, 10.0} and set(a["learning_rate"]) == {0.01, 0.05}, "the chosen values are in the table")


def main():
    r = Runner(parse_args())
    cfg = r.write("inv.toml", CONFIG)
    runs = {"np1": (1, []), "np2": (2, []), "np4": (4, []), "1x4": (4, ["--set", "run.grid=\"1x4\""]),
            "2x2": (4, ["--set", "run.grid=\"2x2\""]), "4x1": (4, ["--set", "run.grid=\"4x1\""]),
            "np2-again": (2, []), "cholesky-np1": (1, ["--set", "learner.solver=\"cholesky\""]),
            "cholesky-np4": (4, ["--set", "learner.solver=\"cholesky\"", "--set", "run.block=8"]),
            "eigen-np1": (1, ["--set", "learner.solver=\"eigen\""]),
            "eigen-np4": (4, ["--set", "learner.solver=\"eigen\"", "--set", "run.block=8"])}
    res = {}
    for name, (np_, extra) in runs.items():
        rc, _, err = r.run("run", cfg, "-o", f"{name}.h5", "-q", *extra, np_=np_)
        r.check(rc == 0, f"run {name} (rc {rc}) {err.strip()[:200]}")
        res[name] = read_results(r.path(f"{name}.h5"))
    ref = res["np1"]
    r.check(len(ref["test_error"]) == 2 * 2 * 2, "one row per (n, seed, ridge)")
    r.check(bool(np.all(ref["test_error"] < 1.0)), "the kernel learns something (errors below 1)")
    for name in runs:
        for col in ("test_error", "train_error"):
            base = next((b for b in ("cholesky-np1", "eigen-np1") if name.startswith(b[:-4])), "np1")
            a, b = res[name][col], res[base][col]
            rel = float(np.max(np.abs(a - b) / np.abs(b)))
            r.check(rel <= 1e-10, f"{name} {col} within 1e-10 of one rank (max rel {rel:.2e})")
    r.check(all(np.array_equal(res["np2"][c], res["np2-again"][c]) for c in ("test_error", "train_error")),
            "bit-identical on the same grid")
    # "auto" without leave-one-out is the Cholesky path: the eigen runs are the other method.
    r.check(bool(np.all(res["eigen-np1"]["status"] == "ok")), "the eigen path needs no jitter here")
    rel = float(np.max(np.abs(res["cholesky-np1"]["test_error"] - res["eigen-np1"]["test_error"])
                       / res["eigen-np1"]["test_error"]))
    r.check(0 < rel < 1e-6, f"Cholesky per ridge agrees with one eigendecomposition, and they are two computations "
                            f"(max rel {rel:.2e})")

    candidate_checks(r)

    # --resume of a finished run: nothing recomputed, the file not even rewritten.
    def stamp(path):
        st = os.stat(path)
        with open(path, "rb") as f:
            return st.st_ino, st.st_mtime_ns, f.read()
    before = stamp(r.path("np2.h5"))
    rc, _, err = r.run("run", cfg, "-o", "np2.h5", "--resume", np_=2)
    again = read_results(r.path("np2.h5"))
    point_lines = [l for l in err.splitlines() if re.match(r"\[\d+/\d+\] ", l)]
    r.check(rc == 0 and "complete, nothing to resume" in err and not point_lines,
            f"resume of a finished run computes no point (rc {rc}, {len(point_lines)} point lines: {err.strip()[:200]!r})")
    r.check(stamp(r.path("np2.h5")) == before, "and leaves the file as it was (same inode, mtime and bytes)")
    r.finish()


if __name__ == "__main__":
    run_checks(main)
