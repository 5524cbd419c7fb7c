"""The command line's exponents with bootstrap and per-seed fits, --eps-share,
`predict` and `errors --theory`."""

import csv
import io
import json
import math
import os
import tempfile
import unittest

import numpy as np

from neurep_analysis.kernel_theory import Representation, Setting, noise_in_units, predicted_error
from tests.analysis import crafted
from tests.analysis.test_cli import NS, run


class Case(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()
        d = cls._tmp.name
        cls.kernel = os.path.join(d, "kernel.h5")
        crafted.write(cls.kernel, crafted.power_law_rows(2.0, [4, 8, 16], NS, seeds=3, rng_seed=1))
        cls.quad = os.path.join(d, "quad.h5")
        crafted.write(cls.quad, crafted.power_law_rows(1.5, [4, 8, 16], NS, seeds=3, rng_seed=2,
                                                       learner="taylor:order=2", ridge=math.nan),
                      learner_kind="taylor")
        # a kernel file whose errors are 1.25 x the theory's, at two ridges
        st = Setting("ntk", 8, False, degrees=(4,))
        rows = [crafted.row(8, n, s, 1.25 * st.error(n, r), ridge=r)
                for n in (64, 256, 1024) for s in range(3) for r in (1e-6, 1e-2)]
        cls.theory_file = os.path.join(d, "theory.h5")
        crafted.write(cls.theory_file, rows)
        cls.dir = d

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def assertBad(self, argv, *fragments):
        rc, out, err = run(*argv)
        self.assertEqual(rc, 2, err)
        lines = [ln for ln in err.strip().splitlines() if "warning:" not in ln]
        self.assertEqual(len(lines), 1, err)
        self.assertTrue(lines[0].startswith("neurep-analysis: error: "), err)
        for frag in fragments:
            self.assertIn(frag, lines[0])


class TestComplexity(Case):
    def test_default_report(self):
        rc, out, err = run("complexity", self.kernel)
        self.assertEqual(rc, 0, err)
        self.assertIn("bootstrap 95%", out)          # bootstrap by default
        self.assertIn("over 1000 resamplings", out)
        self.assertIn("d range (#d)", out)
        self.assertIn("4-16 (3)", out)
        self.assertIn("per-seed exponents", out)
        self.assertIn("seed 0 ", out)
        self.assertIn("warning: kernel:ntk on x: only 3 values of d", out)
        rc, out, err = run("complexity", self.kernel, "--bootstrap", "0")
        self.assertEqual(rc, 0, err)
        self.assertNotIn("bootstrap 95%", out)

    def test_eps_share_shows_both(self):
        rc, out, err = run("complexity", self.kernel, "--eps-share", "0.5", "--bootstrap", "100")
        self.assertEqual(rc, 0, err)
        self.assertIn("eps = 0.1 ", out)
        self.assertIn("eps(d) = 0.5 x share of Var f* in degree 4", out)
        eps8 = 0.5 * 8 * 9 / (12 * 41)
        self.assertIn("eps(8) = %.4g" % eps8, out)
        self.assertEqual(out.count("d range (#d)"), 2)   # two tables

    def test_json_and_files(self):
        rc, out, err = run("complexity", self.kernel, "--json", "--eps-share", "0.5",
                           "--bootstrap", "50")
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        self.assertEqual([r["eps_rule"] for r in doc], ["0.1", "0.5 x share of Var f* in degree 4"])
        self.assertEqual(len(doc[1]["per_seed"]), 3)
        self.assertEqual(doc[1]["bootstrap"]["requested"], 50)
        self.assertAlmostEqual(doc[1]["n_eps"][1]["eps"], 0.5 * 8 * 9 / (12 * 41))
        prefix = os.path.join(self.dir, "cx")
        rc, out, err = run("complexity", self.kernel, "--eps-share", "0.5", "--bootstrap", "50",
                           "-o", prefix, "--format", "png")
        self.assertEqual(rc, 0, err)
        for s in ("_complexity.csv", "_exponents.csv", "_complexity.json", "_complexity.png",
                  "_share_complexity.png"):
            self.assertTrue(os.path.isfile(prefix + s), s)
        with open(prefix + "_exponents.csv") as fh:
            fits = list(csv.DictReader(fh))
        self.assertEqual(len(fits), 2)
        self.assertTrue(fits[0]["seed_slopes"].startswith("0:"))
        self.assertIn("boot_dropped", fits[0])

    def test_bad_options(self):
        self.assertBad(["complexity", self.kernel, "--eps-share", "1.5"], "--eps-share")
        self.assertBad(["complexity", self.kernel, "--bootstrap", "-1"], "--bootstrap")


class TestPredict(Case):
    def test_values_are_the_modules(self):
        rc, out, err = run("predict", "--kernel", "ntk", "--d", "8", "--d", "12", "--n", "100",
                           "--n", "1000", "--ridge", "1e-3", "--input-bias", "--csv")
        self.assertEqual(rc, 0, err)
        rows = list(csv.DictReader(io.StringIO(out)))
        self.assertEqual(len(rows), 4)
        for r in rows:
            st = Setting("ntk", int(r["d"]), True, degrees=(4,))
            self.assertAlmostEqual(float(r["predicted"]), st.error(int(r["n"]), 1e-3), places=12)
        # table output, default ridge 0
        rc, out, err = run("predict", "--d", "8", "--n", "500")
        self.assertEqual(rc, 0, err)
        self.assertIn("%.4g" % Setting("ntk", 8, False, degrees=(4,)).error(500, 0.0), out)

    def test_noise_target_and_representation(self):
        rc, out, err = run("predict", "--kernel", "nngp", "--d", "6", "--n", "300",
                           "--degrees", "3", "1", "--coefficients", "1", "0.5", "--noise", "0.4",
                           "--unnormalized", "--representation", "relu", "--center", "--csv")
        self.assertEqual(rc, 0, err)
        (r,) = list(csv.DictReader(io.StringIO(out)))
        sigma = noise_in_units(0.4, [3, 1], [1.0, 0.5], 6, False)
        st = Setting("nngp", 6, False, Representation("relu", True, 1, True), [3, 1], [1.0, 0.5],
                     False, sigma)
        want = predicted_error(st.spectrum, st.energies, 300, 0.0, sigma)["error"]
        self.assertAlmostEqual(float(r["predicted"]), want, places=12)
        self.assertGreater(sigma, 0)

    def test_compare_with_a_file(self):
        rc, out, err = run("predict", "--compare", self.theory_file, "--csv")
        self.assertEqual(rc, 0, err)
        rows = list(csv.DictReader(io.StringIO(out)))
        self.assertEqual(len(rows), 6)
        for r in rows:
            self.assertAlmostEqual(float(r["ratio"]), 0.8, places=9)   # measured = 1.25 x theory
        rc, out, err = run("predict", "--compare", self.theory_file, "--n", "256")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.count("kernel:ntk"), 2)
        self.assertIn("ratio = predicted / measured", out)

    def test_n_eps_and_exponent(self):
        from neurep_analysis.kernel_theory import predicted_n_eps
        from neurep_analysis.theory import harmonic_shares
        rc, out, err = run("predict", "--d", "6", "--d", "8", "--d", "10", "--eps", "0.1",
                           "--ridge", "1e-4", "--csv")
        self.assertEqual(rc, 0, err)
        rows = list(csv.DictReader(io.StringIO(out)))
        self.assertEqual([r["d"] for r in rows], ["6", "8", "10"])
        for r in rows:
            st = Setting("ntk", int(r["d"]), False, degrees=(4,))
            n = float(r["n_eps"])
            # the crossing: the predicted error is eps there, above it just before
            self.assertAlmostEqual(st.error(n, 1e-4), 0.1, places=8)
            self.assertGreater(st.error(0.9 * n, 1e-4), 0.1)
        ns = [float(r["n_eps"]) for r in rows]
        self.assertTrue(ns[0] < ns[1] < ns[2])
        rc, out, err = run("predict", "--d", "6", "--d", "10", "--eps-share", "0.5")
        self.assertEqual(rc, 0, err)
        self.assertIn("exponent (least squares of log n_eps on log d over 2 d)", out)
        st = Setting("ntk", 10, False, degrees=(4,))
        eps = 0.5 * harmonic_shares([4], d=10)[4]
        self.assertIn("%.4g" % predicted_n_eps(st, eps), out)
        # a ridge so large that the error never reaches eps: not reached (NaN)
        self.assertTrue(math.isnan(predicted_n_eps(st, 0.01, ridge=1.0)))

    def test_bad_input(self):
        self.assertBad(["predict", "--eps", "0.1", "--n", "10"], "--d")
        self.assertBad(["predict", "--d", "8", "--eps", "0.1", "--eps-share", "0.5"], "--eps")
        self.assertBad(["predict", "--n", "100"], "--d")
        self.assertBad(["predict", "--d", "1", "--n", "100"], "--d")
        self.assertBad(["predict", "--d", "8", "--n", "100", "--ridge", "-1"], "--ridge")
        self.assertBad(["predict", "--d", "8", "--n", "100", "--degrees", "4", "2",
                        "--coefficients", "1"], "--coefficients")
        self.assertBad(["predict", "--compare", self.quad], "taylor")
        # with kernel rows beside, the Taylor lines are left out with a warning
        rc, out, err = run("predict", "--compare", self.quad, self.theory_file, "--allow-mixed",
                           "--csv")
        self.assertEqual(rc, 0, err)
        self.assertIn("warning: no theory curve for taylor:order=2", err)
        self.assertEqual(len(list(csv.DictReader(io.StringIO(out)))), 6)
        rc, _, _ = run("predict", "--kernel", "rbf", "--d", "8", "--n", "10")
        self.assertEqual(rc, 2)


class TestErrorsTheory(Case):
    def test_theory_curves_drawn(self):
        prefix = os.path.join(self.dir, "th")
        rc, out, err = run("errors", self.theory_file, "--theory", "--choice", "all", "-o", prefix,
                           "--format", "png")
        self.assertEqual(rc, 0, err)
        self.assertTrue(os.path.isfile(prefix + "_errors.png"))
        from neurep_analysis.predict import theory_curves
        from neurep_analysis.resultfile import load_many
        from neurep_analysis.stats import aggregate
        table = load_many([self.theory_file])
        st = Setting("ntk", 8, False, degrees=(4,))
        # a line per ridge: each curve at its ridge
        curves, notes = theory_curves(table, aggregate(table, "all"))
        self.assertEqual(notes, [])
        self.assertEqual(len(curves), 2)
        for key, per_d in curves.items():
            r = 1e-2 if "0.01" in key[2] else 1e-6
            ns, errs = per_d[8]
            self.assertAlmostEqual(ns[0], 64)
            self.assertAlmostEqual(ns[-1], 1024)
            self.assertAlmostEqual(errs[0], st.error(64, r), places=12)
            self.assertAlmostEqual(errs[-1], st.error(1024, r), places=12)
        # the oracle picks 1e-6 at every n here: the curve is at that ridge
        curves, _ = theory_curves(table, aggregate(table, "oracle"))
        (per_d,) = curves.values()
        self.assertAlmostEqual(per_d[8][1][0], st.error(64, 1e-6), places=12)

    def test_warns_for_learners_without_theory(self):
        prefix = os.path.join(self.dir, "thq")
        rc, out, err = run("errors", self.quad, self.kernel, "--theory", "-o", prefix,
                           "--format", "png")
        self.assertEqual(rc, 0, err)
        self.assertIn("warning: no theory curve for taylor:order=2", err)


if __name__ == "__main__":
    unittest.main()
