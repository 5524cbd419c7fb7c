"""Exponents: bootstrap over seeds (jointly across d), per-seed fits, thresholds from theory."""

import os
import tempfile
import unittest

import numpy as np

from neurep_analysis.resultfile import load_many
from neurep_analysis.stats import complexity, fit_power_law
from neurep_analysis.theory import harmonic_shares
from tests.analysis import crafted

NS = [int(round(x)) for x in np.geomspace(16, 2 ** 17, 14)]


def rows_with_seed_factors(ds, ns, factors, k=2.0, c=0.5, exponents=None):
    """error = min(1, c f_s d^k_s / n): seed s is f_s times harder at every d (same factor)."""
    out = []
    for d in ds:
        for s, f in enumerate(factors):
            ks = k if exponents is None else exponents[s]
            for n in ns:
                out.append(crafted.row(d, n, s, min(1.0, c * f * d ** ks / n)))
    return out


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


class TestBootstrap(Crafted):
    def test_default_is_on(self):
        rows = crafted.power_law_rows(2.0, [4, 8, 16, 32], NS, seeds=5, rng_seed=3)
        (row,) = complexity(self.table(rows))
        self.assertIn("boot", row)
        self.assertEqual(row["boot"]["requested"], 1000)
        self.assertLessEqual(row["boot"]["ci_low"], row["fit"]["slope"])
        self.assertGreaterEqual(row["boot"]["ci_high"], row["fit"]["slope"])

    def test_seeds_are_resampled_jointly_across_d(self):
        """A seed that is harder by the same factor at every d moves n_eps(d) by that
        factor at every d, which leaves the slope unchanged: resampling whole seeds
        gives every replicate the exact slope, whereas resampling seeds
        independently per d (the old bootstrap) mixes factors across d and widens
        the interval ([1.15, 2.75] here with the old code)."""
        factors = [0.5, 1.0, 2.0, 4.0, 0.25]
        rows = rows_with_seed_factors([4, 8, 16, 32], NS, factors)
        (row,) = complexity(self.table(rows), bootstrap=300)
        b = row["boot"]
        self.assertEqual(b["replicates"], 300)
        self.assertAlmostEqual(b["ci_low"], 2.0, places=9)
        self.assertAlmostEqual(b["ci_high"], 2.0, places=9)

    def test_interval_reflects_seed_to_seed_spread(self):
        # seeds with different exponents: the interval spans part of their range
        exps = [1.6, 1.8, 2.0, 2.2, 2.4, 2.0, 1.9]
        rows = rows_with_seed_factors([4, 8, 16, 32], NS, [1.0] * len(exps), exponents=exps)
        (row,) = complexity(self.table(rows), bootstrap=500)
        b = row["boot"]
        self.assertLess(b["ci_low"], 2.0)
        self.assertGreater(b["ci_high"], 2.0)
        self.assertGreater(b["ci_low"], 1.6)
        self.assertLess(b["ci_high"], 2.4)

    def test_dropped_replicates_are_counted(self):
        # seed 2 never reaches eps at d = 32 within the sweep: replicates that
        # draw it twice there have no n_eps at d = 32 and are dropped
        rows = rows_with_seed_factors([4, 8, 16, 32], NS[:12], [1.0, 1.0, 1e4])
        (row,) = complexity(self.table(rows), bootstrap=200)
        b = row["boot"]
        self.assertGreater(b["dropped"], 0)
        self.assertEqual(b["dropped"] + b["replicates"], 200)
        self.assertTrue(any("dropped" in note for note in row["notes"]), row["notes"])
        self.assertTrue(any("3 seeds" in note for note in row["notes"]), row["notes"])


class TestPerSeedAndNotes(Crafted):
    def test_per_seed_fits(self):
        exps = [1.5, 2.0, 2.5]
        rows = rows_with_seed_factors([4, 8, 16, 32], NS, [1.0] * 3, exponents=exps)
        (row,) = complexity(self.table(rows), bootstrap=0)
        self.assertNotIn("boot", row)
        got = {ps["seed"]: ps for ps in row["per_seed"]}
        self.assertEqual(sorted(got), [0, 1, 2])
        for s, k in enumerate(exps):
            self.assertAlmostEqual(got[s]["slope"], k, places=9)
            self.assertEqual(got[s]["d_used"], [4, 8, 16, 32])

    def test_fewer_than_four_d_warns(self):
        rows = crafted.power_law_rows(2.0, [4, 8, 16], NS, seeds=5, rng_seed=4)
        (row,) = complexity(self.table(rows), bootstrap=50)
        self.assertEqual(row["fit"]["d_used"], [4, 8, 16])
        self.assertTrue(any("only 3 values of d" in note for note in row["notes"]), row["notes"])
        rows = crafted.power_law_rows(2.0, [4, 8, 16, 32], NS, seeds=5, rng_seed=4)
        (row,) = complexity(self.table(rows, "four.h5"), bootstrap=50)
        self.assertFalse(any("values of d" in note for note in row["notes"]), row["notes"])


class TestEpsShare(Crafted):
    def test_threshold_follows_the_top_degree_share(self):
        ds = [4, 8, 16, 32]
        rows = rows_with_seed_factors(ds, NS, [1.0, 1.0, 1.0], k=3.0, c=0.1)
        t = self.table(rows)
        (row,) = complexity(t, eps_share=0.5, bootstrap=0)
        want_d, want_n = [], []
        for d in ds:
            eps = 0.5 * d * (d + 1) / ((d + 4) * (4 * d + 9))   # degree-4 share of t^4
            self.assertAlmostEqual(row["per_d"][d]["eps"], eps, places=12)
            self.assertAlmostEqual(eps, 0.5 * harmonic_shares([4], d=d)[4], places=12)
            # error = c d^3 / n exactly, so the log-log interpolation is exact
            self.assertAlmostEqual(row["per_d"][d]["n_eps"] / (0.1 * d ** 3 / eps), 1, places=9)
            want_d.append(d)
            want_n.append(0.1 * d ** 3 / eps)
        self.assertAlmostEqual(row["fit"]["slope"], fit_power_law(want_d, want_n)["slope"], places=9)
        # the share grows with d, so the relative threshold gives a smaller exponent than eps = 0.1
        (absolute,) = complexity(t, eps=0.1, bootstrap=0)
        self.assertAlmostEqual(absolute["fit"]["slope"], 3.0, places=9)
        self.assertLess(row["fit"]["slope"], 3.0)
        self.assertIn("share", row["eps_rule"])

    def test_bad_share(self):
        from neurep_analysis.resultfile import NeurepError
        rows = rows_with_seed_factors([4, 8], NS, [1.0])
        with self.assertRaises(NeurepError):
            complexity(self.table(rows), eps_share=0.0)


if __name__ == "__main__":
    unittest.main()
