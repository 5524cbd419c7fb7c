"""neurep_analysis.load / load_curves: the DataFrames, on the committed campaign files
(docs/results/paper-p4) and on crafted ones."""

import glob
import math
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

import neurep_analysis
from neurep_analysis.frame import split_input, split_learner
from neurep_analysis.stats import aggregate, complexity
from tests.analysis import crafted

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CAMPAIGN = os.path.join(REPO, "docs", "results", "paper-p4")


def campaign(name):
    return os.path.join(CAMPAIGN, "configs", name)


class TestSplit(unittest.TestCase):
    def test_input_labels(self):
        s = split_input("h:relu:D=2*d^2:zca")
        self.assertEqual((s["representation"], s["activation"], s["D_rule"], s["whitening"],
                          s["infinite"], s["depth"]), ("h", "relu", "2*d^2", "zca", False, 1))
        s = split_input("h:step:inf:center")
        self.assertEqual((s["activation"], s["D_rule"], s["whitening"], s["infinite"]),
                         ("step", None, "center", True))
        s = split_input("h:relu:inf:depth=2")
        self.assertEqual((s["whitening"], s["depth"], s["infinite"]), ("none", 2, True))
        s = split_input("h:quadratic:D=(d+1)*(d+2):none:depth=3")
        self.assertEqual((s["D_rule"], s["whitening"], s["depth"]), ("(d+1)*(d+2)", "none", 3))
        self.assertEqual(split_input("x")["representation"], "x")

    def test_learner_labels(self):
        self.assertEqual(split_learner("kernel:ntk")["kernel"], "ntk")
        self.assertEqual(split_learner("taylor:order=2")["order"], "2")
        self.assertEqual(split_learner("taylor:order=full")["learner_kind"], "taylor")


@unittest.skipUnless(os.path.isdir(CAMPAIGN), "no committed campaign files")
class TestCommittedCampaign(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.df = neurep_analysis.load(sorted(glob.glob(os.path.join(CAMPAIGN, "configs", "*.h5"))))

    def test_columns(self):
        df = self.df
        for col in ("file", "learner", "input", "d", "n", "seed", "test_error", "train_error",
                    "validation_error", "activation", "D", "whitening", "infinite", "m",
                    "learning_rate", "regularizer", "candidate", "selected", "target",
                    "target_degrees", "target_p", "noise", "version", "git_revision", "created"):
            self.assertIn(col, df.columns)
        self.assertEqual(df["learner"].map(type).unique().tolist(), [str])   # decoded
        self.assertEqual(set(df["target_p"]), {4})
        self.assertEqual(df["file_status"].unique().tolist(), ["complete"])

    def test_input_split_and_D_as_a_number(self):
        df = self.df
        relu = df[df["input"] == "h:relu:D=2*d^2:zca"]
        self.assertTrue((relu["D"] == 2 * relu["d"] ** 2).all())
        self.assertEqual(set(relu["activation"]), {"relu"})
        self.assertEqual(set(relu["whitening"]), {"zca"})
        quad = df[df["activation"] == "quadratic"]
        self.assertTrue((quad["D"] == (quad["d"] + 1) * (quad["d"] + 2)).all())
        inf = df[df["infinite"]]
        self.assertEqual(set(inf["input"]), {"h:relu:inf:center", "h:step:inf:center"})
        self.assertTrue(inf["D"].isna().all())
        self.assertTrue(df.loc[df["input"] == "x", "D"].isna().all())

    def test_candidates_and_selected(self):
        df = self.df
        qx = df[(df["learner"] == "taylor:order=2") & (df["input"] == "x")]
        self.assertEqual(sorted(qx["learning_rate"].unique()), [0.03, 0.1])
        self.assertTrue((qx.groupby("d")["m"].apply(lambda m: set(m)) ==
                         qx.groupby("d")["d"].first().apply(lambda d: {4 * d, 16 * d})).all())
        self.assertEqual(sorted(qx["candidate"].unique()), [0, 1, 2, 3])
        # exactly one selected row per run (d, n, seed) in every file
        per_run = df.groupby(["file", "learner", "input", "d", "n", "seed"])["selected"].sum()
        self.assertEqual(set(per_run), {1})
        # the file's own choice where it made one; the only row of a single-ridge file
        chose = df["selected_in_file"] == 1
        self.assertTrue(df.loc[chose, "selected"].all())
        d24 = df[df["file"].str.endswith("ntk_x_d24.h5")]
        self.assertTrue(d24["selected"].all())
        # every selected row has the lowest validation error of its run
        for _, g in qx.groupby(["d", "n", "seed"]):
            sel = g[g["selected"]]
            self.assertEqual(float(sel["validation_error"].iloc[0]),
                             float(g["validation_error"].min()))

    def test_quad_on_x_at_d8_uses_the_selected_candidate(self):
        # issue 14: the old default (test-selected, candidates pooled) gave n_0.1 = 6164
        qx = self.df[(self.df["learner"] == "taylor:order=2") & (self.df["input"] == "x")]
        (row,) = complexity(qx, 0.1)
        self.assertEqual(row["per_d"][8]["text"], "1764")
        self.assertEqual(row["per_d"][8]["seeds"], 3)
        for p in aggregate(qx):
            self.assertEqual(p["n_runs"], 3)

    def test_load_curves(self):
        c = neurep_analysis.load_curves(campaign("quad_x.h5"))
        self.assertGreater(len(c), 1000)
        self.assertEqual(sorted(c["candidate"].unique()), [0, 1, 2, 3])
        self.assertFalse(c["m"].isna().any())          # every curve matched its row
        first = c.groupby("curve").first()
        self.assertEqual(sorted(first["learning_rate"].unique()), [0.03, 0.1])
        # one selected curve per run
        per_run = first.groupby(["d", "n", "seed"])["selected"].sum()
        self.assertEqual(set(per_run), {1})
        self.assertTrue((first["best_step"] <= first["steps_run"]).all())


@unittest.skipUnless(os.path.isdir(CAMPAIGN), "no committed campaign files")
class TestReadmeFigureScript(unittest.TestCase):
    def test_runs_from_any_folder(self):
        script = os.path.join(REPO, "docs", "examples", "readme_figure.py")
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "fig.png")
            env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
            proc = subprocess.run([sys.executable, script, out], cwd=tmp, env=env,
                                  capture_output=True, text=True, timeout=300)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            with open(out, "rb") as fh:
                self.assertEqual(fh.read(8), b"\x89PNG\r\n\x1a\n")


class TestCrafted(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.dir = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def test_noise_and_target_columns(self):
        p = os.path.join(self.dir, "a.h5")
        crafted.write(p, [crafted.row(8, 64, 0, 0.2)], noise=0.5, degrees=(2, 4),
                      coefficients=(1.0, 0.5))
        df = neurep_analysis.load(p)
        self.assertEqual(df["noise"].iloc[0], 0.5)
        self.assertEqual(df["target_degrees"].iloc[0], "2, 4")
        self.assertEqual(df["target_coefficients"].iloc[0], "1, 0.5")
        self.assertEqual(df["target_p"].iloc[0], 4)
        self.assertIn("noise 0.5", df["target"].iloc[0])
        self.assertTrue(df["selected"].iloc[0])      # the single row of its run
        self.assertEqual(df["candidate"].iloc[0], -1)

    def test_several_rows_without_a_choice_are_not_selected(self):
        p = os.path.join(self.dir, "b.h5")
        crafted.write(p, [crafted.row(8, 64, 0, e, ridge=r) for r, e in ((1e-6, 0.2), (1e-3, 0.1))])
        df = neurep_analysis.load(p)
        self.assertFalse(df["selected"].any())

    def test_all_failed_run_counts_its_first_row(self):
        p = os.path.join(self.dir, "c.h5")
        rows = [crafted.row(8, 64, 0, math.nan, learner="taylor:order=2", candidate=float(c),
                            selected=0.0, status="diverged", ridge=0.0) for c in range(2)]
        crafted.write(p, rows)
        df = neurep_analysis.load(p)
        self.assertEqual(df["selected"].tolist(), [True, False])
        self.assertTrue(df["failed"].all())
        self.assertEqual(df["regularizer"].tolist(), [0.0, 0.0])
        self.assertTrue(np.isnan(df["ridge"].where(df["learner_kind"] == "kernel")).all())


if __name__ == "__main__":
    unittest.main()
