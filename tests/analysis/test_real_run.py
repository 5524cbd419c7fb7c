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


if __name__ == "__main__":
    unittest.main()
