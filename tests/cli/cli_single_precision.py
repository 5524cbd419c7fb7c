"""run.precision = "single" with kernel learners runs end to end on 2 ranks,
records its precision in /config, and gives the double run's test errors to
float accuracy (NTK with Cholesky, the eigen path with leave-one-out, the
empirical NTK, the infinite-width representation, and NTK on finite zca
features h whose whitening product runs in float; for the latter the saved
features h_train carry the precision and agree with the double ones to float
accuracy)."""
import os

import h5py
import numpy as np

from common import Runner, parse_args, read_results, run_checks

CONFIG = """
[data]
dim = 7
degrees = [4]
noise = 0.05
n_test = 300
[representation]
kind = "{rep}"
infinite = {infinite}
activation = "{activation}"
width = "96"
whiten = "{whiten}"
[learner]
kernel = "{kernel}"
input_bias = true
width = 64
ridge = {ridge}
ridge_selection = "{selection}"
[sweep]
n_train = [200, 500]
seeds = 1
[run]
block = 32
"""

CASES = [  # name, kernel, representation, ridges, ridge selection
    ("ntk", "ntk", "none", "[1e-3]", "none"),
    ("ntk-loo", "ntk", "none", "[1e-4, 1e-2]", "loo"),
    ("empirical-ntk", "empirical-ntk", "none", "[1e-3]", "none"),
    ("relu-inf", "ntk", "random", "[1e-3]", "none"),
    ("quadratic-zca", "ntk", "random-finite", "[1e-3]", "none"),
]
# representation -> (kind, infinite, activation, whiten)
REPRESENTATIONS = {"none": ("none", "true", "relu", "none"), "random": ("random", "true", "relu", "none"),
                   "random-finite": ("random", "false", "quadratic", "zca")}


def main():
    r = Runner(parse_args())
    for name, kernel, rep, ridge, selection in CASES:
        kind, infinite, activation, whiten = REPRESENTATIONS[rep]
        cfg = r.write(f"{name}.toml", CONFIG.format(kernel=kernel, rep=kind, infinite=infinite, activation=activation,
                                                    whiten=whiten, ridge=ridge, selection=selection))
        finite = infinite == "false"
        res, h = {}, {}
        for precision in ("double", "single"):
            out = r.path(f"{name}-{precision}.h5")
            extra = ["--set", "run.save_data=true"] if finite else []
            rc, _, err = r.run("run", cfg, "-o", out, "-q", "--set", f"run.precision={precision}", *extra, np_=2)
            r.check(rc == 0, f"{name} {precision}: neurep run (rc {rc}) {err.strip()[:200]}")
            if rc != 0:
                break
            with h5py.File(out, "r") as f:
                recorded = f["config"].attrs["run.precision"]
                recorded = recorded.decode() if isinstance(recorded, bytes) else str(recorded)
            r.check(recorded == precision, f"{name} {precision}: /config records run.precision = {recorded}")
            res[precision] = read_results(out)
            if finite:
                with h5py.File(os.path.join(out + ".data", "d7_seed0.h5"), "r") as f:
                    saved = f.attrs["precision"]
                    saved = saved.decode() if isinstance(saved, bytes) else str(saved)
                    r.check(saved == precision, f"{name} {precision}: the saved features record precision = {saved}")
                    h[precision] = np.asarray(f["h_train"])
        if len(res) < 2:
            continue
        if finite:  # the learner's inputs as saved: float-accurate, and not the double ones
            rel = np.max(np.abs(h["single"] - h["double"])) / np.max(np.abs(h["double"]))
            r.check(1e-10 < rel < 1e-4, f"{name}: saved h_train single vs double, max relative {rel:.1e}")
        d, s = res["double"], res["single"]
        r.check(all(st == "ok" for st in s["status"]), f"{name}: single-precision rows ok ({list(s['status'])})")
        for row in range(len(d["n"])):
            rel = abs(s["test_error"][row] - d["test_error"][row]) / d["test_error"][row]
            r.check(rel < 1e-3, f"{name} n={d['n'][row]} ridge={d['ridge'][row]:g}: single {s['test_error'][row]:.7f} "
                                f"vs double {d['test_error'][row]:.7f} (rel {rel:.1e})")
        if selection == "loo":
            r.check(list(s["selected"]) == list(d["selected"]), f"{name}: the same ridge selected by leave-one-out")
    r.finish()


if __name__ == "__main__":
    run_checks(main)
