"""The same configuration gives the same results on 1, 2 and 4 ranks and on
the grids 1x4, 2x2 and 4x1 (relative 1e-10), bit-identical results on the
same grid, and --resume of a finished run recomputes nothing."""
import numpy as np

from common import Runner, parse_args, read_results

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


def main():
    r = Runner(parse_args())
    cfg = r.write("inv.toml", CONFIG)
    runs = {"np1": (1, []), "np2": (2, []), "np4": (4, []), "1x4": (4, ["--set", "run.grid=\"1x4\""]),
            "2x2": (4, ["--set", "run.grid=\"2x2\""]), "4x1": (4, ["--set", "run.grid=\"4x1\""]),
            "np2-again": (2, []), "cholesky-np1": (1, ["--set", "learner.solver=\"cholesky\""]),
            "cholesky-np4": (4, ["--set", "learner.solver=\"cholesky\"", "--set", "run.block=8"])}
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
            a, b = res[name][col], (res["cholesky-np1"] if name.startswith("cholesky") else ref)[col]
            rel = float(np.max(np.abs(a - b) / np.abs(b)))
            r.check(rel <= 1e-10, f"{name} {col} within 1e-10 of one rank (max rel {rel:.2e})")
    r.check(all(np.array_equal(res["np2"][c], res["np2-again"][c]) for c in ("test_error", "train_error")),
            "bit-identical on the same grid")
    rel = float(np.max(np.abs(res["cholesky-np1"]["test_error"] - ref["test_error"]) / ref["test_error"]))
    r.check(rel < 1e-6, f"Cholesky per ridge agrees with one eigendecomposition (max rel {rel:.2e})")

    # --resume of a finished run: nothing recomputed, rows unchanged.
    rc, _, err = r.run("run", cfg, "-o", "np2.h5", "--resume", np_=2)
    again = read_results(r.path("np2.h5"))
    r.check(rc == 0 and "d=" not in err, "resume of a finished run computes no point")
    r.check(np.array_equal(again["test_error"], res["np2"]["test_error"]), "and leaves the rows as they were")
    r.finish()


if __name__ == "__main__":
    main()
