"""A tiny real run of the neurep binary, analysed end to end.

Runs only when NEUREP_BIN names the executable (CTest can set it to the
built target); skipped otherwise.  NEUREP_MPIEXEC, if set (e.g.
"mpirun -np 2 --oversubscribe"), is put in front of the command.
"""

import os
import shlex
import subprocess
import tempfile
import unittest

import neurep_analysis
from neurep_analysis.resultfile import load, load_many
from neurep_analysis.stats import aggregate, complexity
from tests.analysis.test_cli import run as run_cli

TINY_CONFIG = """\
[data]
dim = 4
input = "sphere"
degrees = [2]
coefficients = [1.0]
n_test = 200

[representation]
kind = "none"

[learner]
kind = "kernel"
kernel = "ntk"
ridge = [1e-6, 1e-3]
ridge_selection = "loo"

[sweep]
dims = [4, 6]
n_train = [32, 64]
seeds = 2

[run]
seed = 2020
"""


def neurep_bin():
    path = os.environ.get("NEUREP_BIN")
    return path if path and os.path.exists(path) else None


def real_run(workdir, config_text=TINY_CONFIG, sets=(), timeout=600):
    """Run `$NEUREP_BIN run cfg -o workdir/r.h5 --set ...` and return the file path.

    Raises unittest.SkipTest when NEUREP_BIN is not set, AssertionError
    (with the program's output) when the run fails.
    """
    binary = neurep_bin()
    if binary is None:
        raise unittest.SkipTest("NEUREP_BIN not set (or missing): no real run")
    cfg = os.path.join(workdir, "tiny.toml")
    with open(cfg, "w") as fh:
        fh.write(config_text)
    out = os.path.join(workdir, "r.h5")
    cmd = shlex.split(os.environ.get("NEUREP_MPIEXEC", "")) + [binary, "run", cfg, "-o", out]
    for s in sets:
        cmd += ["--set", s]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError("neurep run failed (%d): %s\n%s\n%s" % (
            proc.returncode, " ".join(cmd), proc.stdout[-2000:], proc.stderr[-2000:]))
    return out


class TestRealRun(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()
        cls.dir = cls._tmp.name
        try:
            cls.file = real_run(cls.dir, sets=["sweep.n_train=[64,128]"])
        except BaseException:
            cls._tmp.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def test_file_is_complete_and_readable(self):
        rf = load(self.file)
        self.assertEqual(rf.status, "complete")
        self.assertEqual(rf.attrs["software"], "neurep")
        self.assertEqual(rf.degrees(), [2])
        self.assertEqual(sorted(set(rf.columns["n"].tolist())), [64, 128])
        self.assertEqual(sorted(set(rf.columns["d"].tolist())), [4, 6])
        # 2 dims x 2 n x 2 seeds x 2 ridges
        self.assertEqual(rf.nrows, 16)
        self.assertEqual(set(rf.columns["learner"]), {"kernel:ntk"})
        self.assertEqual(set(rf.columns["input"]), {"x"})

    def test_errors_are_fractions_of_var_f(self):
        pts = aggregate(load_many([self.file]))
        self.assertEqual(len(pts), 4)
        for p in pts:
            # degree-2 target, n >= 64 > d^2, best of two ridges: a kernel
            # learner must beat predicting the mean (error 1) by far; an error
            # of many Var f* means the C++ kernel solve or the scaling is wrong
            self.assertGreaterEqual(p["median"], 0.0)
            self.assertLess(p["median"], 2.0, "test error %g x Var f* at d=%d n=%d"
                            % (p["median"], p["d"], p["n"]))

    def test_selected_ridge_is_the_default(self):
        df = neurep_analysis.load(self.file)
        self.assertEqual(len(df), 16)
        self.assertEqual(int(df["selected"].sum()), 8)     # one ridge per (d, n, seed)
        pts = aggregate(df)
        for p in pts:
            rows = df[(df.d == p["d"]) & (df.n == p["n"]) & df.selected]
            self.assertEqual(sorted(p["values"].tolist()), sorted(rows["test_error"].tolist()))

    def test_neurep_info_counts_seeds(self):
        out = subprocess.run([neurep_bin(), "info", self.file], capture_output=True, text=True,
                             timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = [ln.split() for ln in out.stdout.splitlines()
                 if ln.strip().startswith("kernel:ntk")]
        self.assertEqual(len(lines), 4, out.stdout)         # one line per (d, n), not per ridge
        for ln in lines:
            self.assertEqual(ln[4], "2", out.stdout)        # 2 seeds
        self.assertIn("selected on its validation split", out.stdout)

    def test_commands_run(self):
        prefix = os.path.join(self.dir, "real")
        for argv in (["info", self.file], ["errors", self.file, "-o", prefix],
                     ["complexity", self.file, "--eps", "0.5", "-o", prefix],
                     ["summary", self.file, "-o", prefix + ".json"]):
            rc, _, err = run_cli(*argv)
            self.assertEqual(rc, 0, (argv, err))
        for name in ("real_errors.png", "real_errors.pdf", "real_complexity.csv",
                     "real.json"):
            self.assertGreater(os.path.getsize(os.path.join(self.dir, name)), 0)
        rows = complexity(load_many([self.file]), eps=0.5)
        self.assertEqual(rows[0]["theory"], 2)


TAYLOR_CONFIG = """\
[data]
dim = 4
degrees = [2]
n_test = 200

[representation]
kind = "none"

[learner]
kind = "taylor"
order = 2
width = ["2*d"]
learning_rate = [0.03, 0.1]
steps = 60
eval_every = 20
validation_fraction = 0.25

[sweep]
dims = [4]
n_train = [32]
seeds = 3

[run]
seed = 2020
"""


class TestRealTaylorCandidates(unittest.TestCase):
    """3 seeds x 2 candidates: `neurep info` and the analysis count 3 seeds, and
    use the candidate each run selected, never the one with the best test error."""

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()
        try:
            cls.file = real_run(cls._tmp.name, TAYLOR_CONFIG)
        except BaseException:
            cls._tmp.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def test_info_and_loader(self):
        out = subprocess.run([neurep_bin(), "info", self.file], capture_output=True, text=True,
                             timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        (line,) = [ln.split() for ln in out.stdout.splitlines()
                   if ln.strip().startswith("taylor:order=2")]
        self.assertEqual(line[4], "3", out.stdout)          # seeds, not seeds x candidates
        df = neurep_analysis.load(self.file)
        self.assertEqual(len(df), 6)
        self.assertEqual(sorted(df["learning_rate"].unique().tolist()), [0.03, 0.1])
        self.assertEqual(int(df["selected"].sum()), 3)
        self.assertTrue((df["m"] == 8).all())
        (pt,) = aggregate(df)
        self.assertEqual(pt["n_runs"], 3)
        self.assertEqual(sorted(pt["values"].tolist()),
                         sorted(df.loc[df.selected, "test_error"].tolist()))
        curves = neurep_analysis.load_curves(self.file)
        self.assertEqual(sorted(curves["candidate"].unique().tolist()), [0, 1])
        self.assertTrue(curves["validation_error"].notna().any())
        self.assertEqual(int(curves.groupby("curve")["selected"].first().sum()), 3)


KERNEL_CONFIG = """\
[data]
dim = 6
input = "sphere"
degrees = [4]
n_test = 300

[representation]
%s

[learner]
kind = "kernel"
kernel = "ntk"
input_bias = true
ridge = [1e-3]

[sweep]
dims = [6]
n_train = [96]
seeds = 1

[run]
seed = 2020
save_data = true
"""


class TestTheoryKernelIsTheBinarys(unittest.TestCase):
    """The kernel the theory (kernel_theory.kernel_function) predicts with is the one the
    binary fits with: kernel ridge regression in numpy with it, on the run's own saved data
    (run.save_data), gives the run's test error to 1e-8 relative, for the NTK on x and on
    the infinite-width step and ReLU representations (centred, with input bias); the
    uncentred representation kernel does not."""

    def test_numpy_krr_with_the_theory_kernel_gives_the_runs_error(self):
        import h5py
        import numpy as np
        from neurep_analysis.kernel_theory import Representation, kernel_function
        d, n, ridge = 6, 96, 1e-3
        for kind, act in (("none", None), ("random", "step"), ("random", "relu")):
            rep_text = ('kind = "none"' if kind == "none" else
                        'kind = "random"\nactivation = "%s"\ninfinite = true\nwhiten = "center"' % act)
            with tempfile.TemporaryDirectory() as tmp:
                path = real_run(tmp, KERNEL_CONFIG % rep_text)
                with h5py.File(path, "r") as f:
                    measured = float(f["results/test_error"][0])
                    g = f["data/d6_seed0"]
                    x, y = g["x_train"][:n], g["y_train"][:n]
                    xt, ft = g["x_test"][:], g["f_test"][:]

            def krr_error(center):
                rep = None if kind == "none" else Representation(act, True, 1, center)
                h = kernel_function("ntk", d, True, rep)
                k = h(np.clip(x @ x.T / d, -1, 1))
                np.fill_diagonal(k, h(np.asarray(1.0)))
                a = np.linalg.solve(k + n * ridge * h(np.asarray(1.0)) * np.eye(n), y)
                return float(np.mean((h(np.clip(xt @ x.T / d, -1, 1)) @ a - ft) ** 2))
            self.assertTrue(0 < measured < 1, (kind, act, measured))
            self.assertAlmostEqual(krr_error(True) / measured, 1.0, places=8, msg=(kind, act))
            if kind != "none":
                self.assertGreater(abs(krr_error(False) / measured - 1), 1e-3, msg=(kind, act))


if __name__ == "__main__":
    unittest.main()
