"""Seed medians, n_eps, t quantiles and the power-law fit on crafted data."""

import math
import os
import tempfile
import unittest

import numpy as np

from neurep_analysis.resultfile import load_many
from neurep_analysis.stats import (aggregate, complexity, fit_power_law, format_n_eps, n_eps,
                            quantile, t_cdf, t_quantile)
from tests.analysis import crafted

NS = [int(round(x)) for x in np.geomspace(16, 2 ** 17, 14)]


class TestQuantile(unittest.TestCase):
    def test_matches_numpy_on_finite(self):
        rng = np.random.default_rng(1)
        for size in (1, 2, 5, 8):
            v = rng.normal(size=size)
            for q in (0.25, 0.5, 0.75):
                self.assertAlmostEqual(quantile(v, q), float(np.quantile(v, q)))

    def test_infinite_values(self):
        self.assertEqual(quantile([1.0, math.inf, math.inf], 0.5), math.inf)
        self.assertEqual(quantile([1.0, 2.0, math.inf], 0.5), 2.0)
        self.assertEqual(quantile([1.0, 2.0, math.inf], 0.75), math.inf)
        self.assertEqual(quantile([math.inf, math.inf], 0.25), math.inf)
        self.assertTrue(math.isnan(quantile([], 0.5)))


class TestNEps(unittest.TestCase):
    def test_interpolation_is_exact_on_a_power_law(self):
        ns = [100, 200, 400, 800]
        errs = [1000.0 / n for n in ns]      # crosses 0.1 ... never; scale
        errs = [30.0 / n for n in ns]        # 0.3, 0.15, 0.075: eps=0.1 at n=300
        v, flag = n_eps(ns, errs, 0.1)
        self.assertEqual(flag, "ok")
        self.assertAlmostEqual(v, 300.0, places=9)

    def test_flags(self):
        self.assertEqual(n_eps([10, 20], [0.05, 0.01], 0.1), (10.0, "below_at_min"))
        v, flag = n_eps([10, 20], [0.5, 0.2], 0.1)
        self.assertEqual(flag, "not_reached")
        self.assertTrue(math.isnan(v))
        self.assertEqual(format_n_eps(10.0, "below_at_min"), "< 10")
        self.assertEqual(format_n_eps(math.nan, "not_reached"), "not reached")

    def test_failed_point_before_crossing_gives_upper_bound(self):
        self.assertEqual(n_eps([10, 20, 40], [math.inf, math.inf, 0.05], 0.1), (40.0, "ok"))

    def test_first_crossing_and_unsorted_input(self):
        v, flag = n_eps([400, 100, 200, 800], [0.2, 1.0, 0.05, 0.01], 0.1)
        self.assertEqual(flag, "ok")
        self.assertTrue(100 < v < 200)


class TestT(unittest.TestCase):
    TABLE = {1: 12.7062, 2: 4.3027, 3: 3.1824, 4: 2.7764, 5: 2.5706, 10: 2.2281,
             20: 2.0860, 30: 2.0423, 100: 1.9840}

    def test_quantiles_match_tables(self):
        for dof, t in self.TABLE.items():
            self.assertAlmostEqual(t_quantile(0.975, dof), t, places=3)
        self.assertAlmostEqual(t_quantile(0.995, 1), 63.6567, places=2)
        self.assertAlmostEqual(t_quantile(0.95, 7), 1.8946, places=3)
        self.assertAlmostEqual(t_quantile(0.025, 4), -2.7764, places=3)

    def test_cdf(self):
        self.assertAlmostEqual(t_cdf(0.0, 3), 0.5)
        self.assertAlmostEqual(t_cdf(1.0, 1), 0.75)   # Cauchy


class TestFit(unittest.TestCase):
    def test_exact_line(self):
        ds = [4, 8, 16, 32]
        f = fit_power_law(ds, [5.0 * d ** 2.5 for d in ds])
        self.assertAlmostEqual(f["slope"], 2.5)
        self.assertAlmostEqual(math.exp(f["intercept"]), 5.0)
        self.assertAlmostEqual(f["ci_low"], 2.5)
        self.assertAlmostEqual(f["ci_high"], 2.5)
        self.assertEqual(f["dof"], 2)

    def test_two_points_have_no_interval(self):
        f = fit_power_law([4, 8], [16, 64])
        self.assertAlmostEqual(f["slope"], 2.0)
        self.assertTrue(math.isnan(f["ci_low"]))
        self.assertIn("undefined", f["note"])

    def test_one_point_no_fit(self):
        f = fit_power_law([4], [16])
        self.assertTrue(math.isnan(f["slope"]))

    def test_interval_matches_hand_computation(self):
        x = np.log([2.0, 4.0, 8.0, 16.0, 32.0])
        y = 1.0 + 2.0 * x + np.array([0.1, -0.2, 0.05, 0.15, -0.1])
        f = fit_power_law(np.exp(x), np.exp(y))
        A = np.vstack([np.ones_like(x), x]).T
        coef, res, _, _ = np.linalg.lstsq(A, y, rcond=None)
        se = math.sqrt(res[0] / 3 / ((x - x.mean()) ** 2).sum())
        self.assertAlmostEqual(f["slope"], coef[1])
        self.assertAlmostEqual(f["se"], se)
        self.assertAlmostEqual(f["ci_high"] - f["slope"], 3.1824 * se, places=3)


class Crafted(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.dir = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def table(self, rows, name="r.h5", **kw):
        p = os.path.join(self.dir, name)
        crafted.write(p, rows, **kw)
        return load_many([p])


class TestCraftedExponent(Crafted):
    def test_interval_is_calibrated(self):
        """In memory, 300 replicates per k: the 95% interval covers k about 95% of
        the time and the slope is unbiased, so a fixed-seed check is not luck."""
        ds = [4, 6, 8, 12, 16, 24]
        for k in (1.0, 2.0, 3.0):
            rng = np.random.default_rng(int(10 * k))
            slopes, covered = [], 0
            for _ in range(300):
                fd, fn = [], []
                for d in ds:
                    z = rng.normal(size=(5, 1)) * 0.15 + rng.normal(size=(5, len(NS))) * 0.05
                    err = np.minimum(1.0, 0.5 * d ** k / np.array(NS) * np.exp(z))
                    med = [quantile(err[:, j], 0.5) for j in range(len(NS))]
                    v, flag = n_eps(NS, med, 0.1)
                    self.assertEqual(flag, "ok")
                    fd.append(d)
                    fn.append(v)
                f = fit_power_law(fd, fn)
                slopes.append(f["slope"])
                covered += f["ci_low"] <= k <= f["ci_high"]
            self.assertAlmostEqual(np.mean(slopes), k, delta=0.02)
            self.assertGreater(covered / 300, 0.9)
            self.assertLess(covered / 300, 0.99)

    def test_fitted_interval_contains_crafted_exponent(self):
        """Through files and complexity(), fixed seeds.  A 95% interval misses
        1 time in 20 by design; test_interval_is_calibrated shows that rate,
        so these seeds are four ordinary draws, not a tuned pass."""
        ds = [4, 6, 8, 12, 16, 24]
        for k, rng_seed in ((1.0, 21), (2.0, 22), (3.0, 23), (2.5, 24)):
            rows = crafted.power_law_rows(k, ds, NS, seeds=5, rng_seed=rng_seed, c=0.5)
            t = self.table(rows, "k%g.h5" % k)
            (row,) = complexity(t, eps=0.1)
            f = row["fit"]
            self.assertEqual(f["n_points"], len(ds), row["per_d"])
            self.assertLessEqual(f["ci_low"], k, f)
            self.assertGreaterEqual(f["ci_high"], k, f)
            self.assertLess(f["ci_high"] - f["ci_low"], 0.6, f)
            for d, v in row["per_d"].items():   # n_eps ~ 10 c d^k
                self.assertAlmostEqual(math.log(v["n_eps"]), math.log(5 * d ** k), delta=0.5)

    def test_bootstrap_interval_contains_exponent(self):
        rows = crafted.power_law_rows(2.0, [4, 8, 16, 32], NS, seeds=7, rng_seed=5)
        (row,) = complexity(self.table(rows), eps=0.1, bootstrap=200)
        b = row["boot"]
        self.assertGreater(b["replicates"], 150)
        self.assertLessEqual(b["ci_low"], 2.0)
        self.assertGreaterEqual(b["ci_high"], 2.0)

    def test_two_groups_and_theory_column(self):
        ds = [4, 8, 16]
        rows = (crafted.power_law_rows(2.0, ds, NS, learner="taylor:order=2",
                                       input="h:step:D=2*d^2:zca", ridge=math.nan)
                + crafted.power_law_rows(4.0, ds, NS, c=0.01)
                + crafted.power_law_rows(3.0, ds, NS, learner="taylor:order=2",
                                         ridge=math.nan))
        res = complexity(self.table(rows), eps=0.1)
        got = {(r["learner"], r["input"]): r for r in res}
        self.assertEqual(got[("kernel:ntk", "x")]["theory"], 4)
        self.assertEqual(got[("taylor:order=2", "x")]["theory"], 3)
        self.assertEqual(got[("taylor:order=2", "h:step:D=2*d^2:zca")]["theory"], 2)
        for (_, _), r in got.items():
            self.assertEqual(r["p"], 4)
            self.assertLessEqual(r["fit"]["ci_low"], r["fit"]["ci_high"])

    def test_not_reached_and_below_at_min_are_not_fitted(self):
        rows = crafted.power_law_rows(2.0, [4, 8, 16, 32], [64, 128, 256, 512], seeds=3,
                                      c=0.5)
        (row,) = complexity(self.table(rows), eps=0.1)
        flags = {d: v["flag"] for d, v in row["per_d"].items()}
        self.assertEqual(flags[16], "not_reached")      # 5 d^2 = 1280 > 512
        self.assertEqual(flags[32], "not_reached")
        self.assertEqual(row["fit"]["d_used"], [4, 8])  # 80, 320 inside the grid
        self.assertIn("undefined", row["fit"]["note"])
        rows = crafted.power_law_rows(2.0, [2], [64, 128], seeds=3)
        (row,) = complexity(self.table(rows, "small.h5"), eps=0.1)
        self.assertEqual(row["per_d"][2]["flag"], "below_at_min")
        self.assertEqual(row["per_d"][2]["text"], "< 64")


class TestAggregate(Crafted):
    def test_diverged_counts_as_failure(self):
        rows = [crafted.row(8, 64, s, 0.01) for s in range(2)]
        rows += [crafted.row(8, 64, 2, math.nan, status="diverged"),
                 crafted.row(8, 64, 3, 0.02, status="diverged"),
                 crafted.row(8, 64, 4, math.inf)]
        (pt,) = aggregate(self.table(rows))
        self.assertEqual(pt["n_runs"], 5)
        self.assertEqual(pt["n_failed"], 3)
        self.assertEqual(pt["median"], math.inf)     # 3 of 5 failed: no success
        self.assertEqual(pt["q25"], 0.01 + 0.0)

    def test_ridge_selection(self):
        rows = []
        for s in range(3):
            rows.append(crafted.row(8, 64, s, 0.5, ridge=1e-6))
            rows.append(crafted.row(8, 64, s, 0.2, ridge=1e-3))
            rows.append(crafted.row(8, 128, s, 0.1, ridge=1e-6))
            rows.append(crafted.row(8, 128, s, 0.3, ridge=1e-3))
        t = self.table(rows)
        best = aggregate(t, "best")
        self.assertEqual([(p["n"], p["ridge"], p["median"]) for p in best],
                         [(64, 1e-3, 0.2), (128, 1e-6, 0.1)])
        self.assertEqual(len(aggregate(t, "all")), 4)
        fixed = aggregate(t, 1e-3)
        self.assertEqual([p["median"] for p in fixed], [0.2, 0.3])

    def test_ridge_by_validation_error(self):
        rows = []
        for s in range(3):
            rows.append(crafted.row(8, 64, s, 0.5, ridge=1e-6, validation_error=0.1))
            rows.append(crafted.row(8, 64, s, 0.2, ridge=1e-3, validation_error=0.9))
        (pt,) = aggregate(self.table(rows), "val")
        self.assertEqual(pt["ridge"], 1e-6)
        self.assertAlmostEqual(pt["validation_error_median"], 0.1)

    def test_selected_with_a_file_that_chose_nothing(self):
        # a file whose runs chose a ridge, and a single-ridge file without a selected column
        chose = [crafted.row(8, 64, s, e, ridge=r, selected=float(sel))
                 for s in range(3) for r, e, sel in ((1e-6, 0.5, 0), (1e-3, 0.2, 1))]
        single = [crafted.row(8, 64, s, 0.4, learner="kernel:nngp", ridge=1e-4) for s in range(3)]
        several = [crafted.row(8, 64, s, e, learner="kernel:linear", ridge=r)
                   for s in range(3) for r, e in ((1e-6, 0.7), (1e-3, 0.9))]
        paths = []
        for name, rows in (("a.h5", chose), ("b.h5", single), ("c.h5", several)):
            paths.append(os.path.join(self.dir, name))
            crafted.write(paths[-1], rows)
        pts = {p["learner"]: p for p in aggregate(load_many(paths, allow_mixed=True), "selected")}
        self.assertEqual(pts["kernel:ntk"]["median"], 0.2)
        self.assertEqual(pts["kernel:ntk"]["n_runs"], 3)
        self.assertEqual(pts["kernel:nngp"]["median"], 0.4)    # its one row per run is kept
        self.assertNotIn("kernel:linear", pts)                   # several ridges, none chosen: dropped

    def test_selected_point_where_every_candidate_diverged_is_a_failure(self):
        rows = [crafted.row(8, 64, s, 0.3, learner="taylor:order=2", ridge=0.0, candidate=float(c),
                            selected=float(c == 0)) for s in range(2) for c in range(2)]
        rows += [crafted.row(8, 64, 2, math.nan, learner="taylor:order=2", ridge=0.0, candidate=float(c),
                             selected=0.0, status="diverged") for c in range(2)]
        (pt,) = aggregate(self.table(rows), "selected")
        self.assertEqual(pt["n_runs"], 3)
        self.assertEqual(pt["n_failed"], 1)


if __name__ == "__main__":
    unittest.main()
