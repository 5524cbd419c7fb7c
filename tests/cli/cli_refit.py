"""learner.refit: once the validation split has chosen a Taylor model's
candidate (learning rate here) and step count, the refit row is that
candidate trained on all n points for the chosen number of steps: the same
numbers, bit for bit, as a run of those settings without a validation split.
The candidates' rows are those of a run without refit, the refit row is the
selected one, and the keys are checked (exit status 2, one line naming the
key, nothing written)."""
import os

import numpy as np

from common import Runner, parse_args, read_results

CONFIG = """
[data]
dim = 6
degrees = [2]
n_test = 300
noise = 0.5
[learner]
kind = "taylor"
order = 2
m = 16
learning_rate = [0.05, 0.1]
momentum = 0.5
steps = 2000
eval_every = 20
validation_fraction = 0.25
patience = 5
output_bias = true
refit = true
[sweep]
n_train = [40, 80]
seeds = 2
"""

# A kernel learner's configuration with one more [learner] key ({}).
KERNEL = """
[data]
dim = 6
degrees = [2]
n_test = 300
[sweep]
n_train = [40]
seeds = 1
[learner]
kind = "kernel"
{}
"""


def main():
    r = Runner(parse_args())
    cfg = r.write("refit.toml", CONFIG)
    rc, _, err = r.run("run", cfg, "-o", "refit.h5", "-q", np_=2)
    r.check(rc == 0, f"run with refit (rc {rc}) {err.strip()[:200]}")
    res = read_results(r.path("refit.h5"))
    refit = res["refit"] == 1
    r.check(refit.sum() == 4 and (~refit).sum() == 8, f"one refit row per (n, seed) beside the 2 candidates ({refit})")
    r.check(np.array_equal(res["selected"] == 1, refit), "the refit rows, and only they, are selected")
    early = 0
    for i in np.nonzero(refit)[0]:
        n, seed = res["n"][i], res["seed"][i]
        cand = (~refit) & (res["n"] == n) & (res["seed"] == seed)
        best = np.nonzero(cand)[0][np.argmin(res["validation_error"][cand])]
        r.check(res["candidate"][i] == res["candidate"][best] and res["learning_rate"][i] == res["learning_rate"][best]
                and res["validation_error"][i] == res["validation_error"][best]
                and res["steps_run"][i] == res["best_step"][best],
                f"n = {n}, seed {seed}: the refit is candidate {res['candidate'][best]:g} (lowest validation error) "
                f"for its chosen {res['best_step'][best]:g} steps")
        early += res["best_step"][best] < 2000
        # The same settings without a validation split, for the chosen number of steps: all n points.
        rc, _, err = r.run("run", cfg, "-o", f"plain_{n}_{seed}.h5", "-q", "--set", "learner.refit=false",
                           "--set", "learner.validation_fraction=0.0", "--set", "learner.patience=0",
                           "--set", f"learner.learning_rate={res['learning_rate'][i]!r}",
                           "--set", f"learner.steps={int(res['best_step'][best])}",
                           "--set", f"sweep.n_train=[{n}]", "--set", f"sweep.seeds=[{seed}]", np_=2)
        plain = read_results(r.path(f"plain_{n}_{seed}.h5"))
        r.check(rc == 0 and all(plain[k][0] == res[k][i] for k in ("test_error", "train_error", "output_bias")),
                f"n = {n}, seed {seed}: the refit row equals training on all n without a split bit for bit "
                f"(test {res['test_error'][i]:.6g} vs {plain['test_error'][0] if rc == 0 else 'rc %d' % rc}) {err.strip()[:200]}")
    r.check(early > 0, f"the validation split stopped {early} of the chosen candidates before the last step")
    # The candidates themselves are those of a run without refit.
    rc, _, err = r.run("run", cfg, "-o", "norefit.h5", "-q", "--set", "learner.refit=false", np_=2)
    base = read_results(r.path("norefit.h5"))
    r.check(rc == 0 and "refit" not in base and
            all(np.array_equal(base[k], res[k][~refit]) for k in ("n", "seed", "candidate", "test_error", "validation_error")),
            "the candidate rows equal those of the run without refit, which has no refit column")
    # Bad input: the key named, exit status 2, nothing written. The two keys
    # belong to the Taylor models: in a kernel learner's file they are errors.
    for label, conf, sets, needle in (
            ("no validation split", cfg, ["learner.validation_fraction=0.0", "learner.learning_rate=0.05"], "learner.refit:"),
            ("a kernel learner", r.write("k1.toml", KERNEL.format("refit = true")), [], "learner.refit:"),
            ("offset on a kernel learner", r.write("k2.toml", KERNEL.format("output_bias = true")), [],
             "learner.output_bias:")):
        args = ["run", conf, "-o", "bad.h5", "-q"]
        for s in sets:
            args += ["--set", s]
        rc, out, err = r.run(*args)
        lines = err.strip().splitlines()
        r.check(rc == 2 and len(lines) == 1 and needle in lines[0] and not os.path.exists(r.path("bad.h5")),
                f"{label}: exit 2 and one line naming {needle} (rc {rc}: {err.strip()[:200]})")
    rc, out, _ = r.run("check", "--help-config")
    r.check(rc == 0 and "output_bias" in out and "refit" in out, "--help-config documents output_bias and refit")
    r.finish()


if __name__ == "__main__":
    main()
