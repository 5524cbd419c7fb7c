"""Floors that are floors (issue 14): the linear learner (learner.kind =
"linear", alpha . h + c by an exact least-squares solve) on a random
representation gives the same rows on 1, 2 and 4 ranks and the fit of NumPy's
lstsq on the saved features; its bad input (fewer points than unknowns, keys
of other learners) exits 2 with one line and writes nothing. A Quad model run
with learner.require_converged is "ok" when its optimisation converged and
"not-converged" when it was stopped after a few steps (the rule on
synthetic curves is in test_taylor), its refit row takes the candidate's verdict, and
the analysis counts a not-converged row as failed, never as a floor."""
import csv
import os
import subprocess

import h5py
import numpy as np

from common import Runner, parse_args, read_results, run_checks

LINEAR = """
[data]
dim = 6
degrees = [4]
n_test = 300
[representation]
kind = "random"
activation = "step"
width = "2*d^2"
[learner]
kind = "linear"
[sweep]
n_train = [100, 800]
seeds = 2
[run]
block = 16
save_data = true
"""

QUAD = """
[data]
dim = 6
degrees = [2]
n_test = 500
[learner]
kind = "taylor"
order = 2
m = 16
input_bias = true
learning_rate = 0.05
momentum = 0.9
steps = 3000
eval_every = 20
validation_fraction = 0.25
patience = 10
require_converged = true
[sweep]
n_train = [1000]
seeds = 3
"""


def summary(r, path):
    """The analysis' summary of a results file, as CSV rows."""
    out = r.path(os.path.basename(path) + ".csv")
    env = dict(os.environ, PYTHONPATH=os.path.join(r.source, "analysis"))
    p = subprocess.run(["/usr/bin/python3", "-m", "neurep_analysis", "summary", path, "-o", out],
                       capture_output=True, text=True, env=env)
    r.check(p.returncode == 0, f"analysis summary of {os.path.basename(path)} (rc {p.returncode}) {p.stderr.strip()[:200]}")
    with open(out) as f:
        return list(csv.DictReader(f))


def main():
    r = Runner(parse_args())

    # The linear learner on 1, 2 and 4 ranks.
    cfg = r.write("linear.toml", LINEAR)
    res = {}
    for np_ in (1, 2, 4):
        rc, _, err = r.run("run", cfg, "-o", f"linear{np_}.h5", "-q", np_=np_)
        r.check(rc == 0, f"linear learner on {np_} rank(s) (rc {rc}) {err.strip()[:200]}")
        res[np_] = read_results(r.path(f"linear{np_}.h5"))
    one = res[1]
    r.check(list(one["learner"]) == ["linear"] * 4, f"learner column {list(one['learner'])}")
    r.check(list(one["status"][one["n"] == 100]) == ["few-samples"] * 2,
            f"n = 100 < 10 (D + 1) = 730: few-samples ({list(one['status'])})")
    r.check(set(one["status"][one["n"] == 800]) <= {"ok", "rank-deficient"}, f"n = 800: a floor ({list(one['status'])})")
    r.check(np.all(one["rank"] <= 73) and np.all(one["rank"] > 60), f"rank of [h 1] {one['rank']}")
    for np_ in (2, 4):
        for col in ("test_error", "train_error", "output_bias"):
            rel = np.max(np.abs(res[np_][col] - one[col]) / np.abs(one[col]))
            r.check(rel < 1e-10, f"{np_} ranks: {col} as on 1 rank (rel {rel:.1e})")
        r.check(list(res[np_]["status"]) == list(one["status"]) and np.array_equal(res[np_]["rank"], one["rank"]),
                f"{np_} ranks: the same statuses and ranks")
    with h5py.File(r.path("linear1.h5"), "r") as f:
        for i in np.nonzero(one["n"] == 800)[0]:
            n, seed = int(one["n"][i]), int(one["seed"][i])
            g = f[f"data/d6_seed{seed}"]
            h, y = g["h_train"][:n], g["y_train"][:n]
            a = np.hstack([h, np.ones((n, 1))])
            x, _, rank, _ = np.linalg.lstsq(a, y, rcond=None)
            pred = np.hstack([g["h_test"][()], np.ones((len(g["f_test"]), 1))]) @ x
            test, train = np.mean((pred - g["f_test"][()]) ** 2), np.mean((a @ x - y) ** 2)
            r.check(abs(train - one["train_error"][i]) <= 1e-10 * train and abs(test - one["test_error"][i]) <= 1e-8 * test,
                    f"seed {seed}: NumPy lstsq train {train:.12f} test {test:.12f} vs neurep "
                    f"{one['train_error'][i]:.12f} {one['test_error'][i]:.12f}")
            r.check(rank == one["rank"][i], f"seed {seed}: NumPy's rank {rank} vs neurep's {one['rank'][i]}")

    # Bad input: exit 2, one line naming the key, nothing written.
    bad = {
        "fewer points than unknowns": (LINEAR.replace("n_train = [100, 800]", "n_train = [72]"), "sweep.n_train"),
        "a kernel key with the linear learner": (LINEAR.replace('kind = "linear"', 'kind = "linear"\nridge = [1e-3]'),
                                                 "learner.ridge"),
        "require_converged without a validation split": (QUAD.replace("validation_fraction = 0.25", ""),
                                                         "learner.require_converged"),
        "require_converged with a kernel": (LINEAR.replace('kind = "linear"', 'kind = "kernel"\nrequire_converged = true'),
                                            "learner.require_converged"),
    }
    for what, (text, key) in bad.items():
        path = r.write("bad.toml", text)
        rc, out, err = r.run("run", path, "-o", "bad.h5", "-q")
        lines = err.strip().splitlines()
        r.check(rc == 2 and len(lines) == 1 and key in lines[0] and not os.path.exists(r.path("bad.h5")),
                f"{what}: exit 2, one line naming {key}, nothing written (rc {rc}: {err.strip()[:200]})")

    # Quad with require_converged: converged (noise-free, trained to ~0), stopped after 20 steps.
    cfg = r.write("quad.toml", QUAD)
    runs = {"converged": [], "few steps": ["--set", "learner.steps=20", "--set", "learner.eval_every=2"],
            "few steps, refit": ["--set", "learner.steps=20", "--set", "learner.eval_every=2", "--set", "learner.refit=true"]}
    quad = {}
    for what, extra in runs.items():
        out = r.path(what.replace(" ", "_").replace(",", "") + ".h5")
        rc, _, err = r.run("run", cfg, "-o", out, "-q", *extra, np_=2)
        r.check(rc == 0, f"Quad, {what} (rc {rc}) {err.strip()[:200]}")
        quad[what] = (out, read_results(out))
    conv = quad["converged"][1]
    r.check(list(conv["status"]) == ["ok"] * 3 and np.all(conv["test_error"] < 1e-6),
            f"converged: ok, test errors ~0 ({list(conv['status'])}, {conv['test_error']})")
    few = quad["few steps"][1]
    r.check(list(few["status"]) == ["not-converged"] * 3 and np.all(np.isfinite(few["test_error"])),
            f"20 steps: not-converged, errors still recorded ({list(few['status'])}, {few['test_error']})")
    refit = quad["few steps, refit"][1]
    r.check(list(refit["status"][refit["refit"] == 1]) == ["not-converged"] * 3,
            f"the refit rows take the candidate's verdict ({list(refit['status'])})")

    # The analysis: a not-converged row is a failure (+inf), never a floor.
    rows = summary(r, quad["few steps"][0])
    r.check(len(rows) == 1 and rows[0]["n_failed"] == "3" and float(rows[0]["median"]) == float("inf")
            and "not-converged" in rows[0]["status"], f"summary of the not-converged runs: {rows}")
    rows = summary(r, quad["converged"][0])
    r.check(len(rows) == 1 and rows[0]["n_failed"] == "0" and float(rows[0]["median"]) < 1e-6,
            f"summary of the converged runs: {rows}")
    rows = summary(r, r.path("linear1.h5"))
    r.check(len(rows) == 2 and all(row["n_failed"] == "0" for row in rows) and rows[0]["learner"] == "linear",
            f"summary of the linear floors: {rows}")
    r.finish()


if __name__ == "__main__":
    run_checks(main)
