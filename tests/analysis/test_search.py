"""Files of a search (sweep.target_error): load_complexity and the complexity
table from /complexity — each seed's n_eps, their median per d, the exponent
with the bootstrap over seeds — instead of a median curve over a grid of n."""

import math
import os
import tempfile
import unittest

import numpy as np

import neurep_analysis
from neurep_analysis.resultfile import NeurepError, NeurepWarning, load_many
from neurep_analysis.stats import complexity
from tests.analysis import crafted
from tests.analysis.test_cli import run as run_cli

# n_eps(0.1) = 10 f_s d^3 for seeds with factors f_s; n_eps(0.05) twice that.
FACTORS = [0.8, 1.0, 1.3]
DS = [6, 8, 10, 12]


def search_rows():
    out = []
    for d in DS:
        for s, f in enumerate(FACTORS):
            for t in (0.1, 0.05):
                n = 10 * f * d ** 3 * (0.1 / t)
                out.append(crafted.search_row(d, s, t, int(n / 1.1), int(n * 1.1) + 1, n))
    return out


def result_rows(cx):
    """The rows the search computed: its brackets' ends, with errors on the line through them."""
    rows = []
    for c in cx:
        for n, e in ((c["n_lo"], c["error_lo"]), (c["n_hi"], c["error_hi"])):
            if n and not any(r["d"] == c["d"] and r["seed"] == c["seed"] and r["n"] == n for r in rows):
                rows.append(crafted.row(c["d"], n, c["seed"], e))
    return rows


class Search(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.path = os.path.join(self._tmp.name, "search.h5")
        self.cx = search_rows()
        crafted.write(self.path, result_rows(self.cx), complexity=self.cx)

    def tearDown(self):
        self._tmp.cleanup()

    def test_load_complexity(self):
        df = neurep_analysis.load_complexity(self.path)
        self.assertEqual(len(df), len(self.cx))
        self.assertEqual(list(df.columns), ["file", "d", "seed", "learner", "input", "target", "n_lo",
                                            "n_hi", "error_lo", "error_hi", "n_eps", "points", "status"])
        self.assertEqual(set(df["status"]), {"reached"})
        self.assertEqual(df["learner"].iloc[0], "kernel:ntk")
        self.assertTrue((df["n_lo"] <= df["n_eps"]).all() and (df["n_eps"] <= df["n_hi"]).all())
        # a grid file has no /complexity: no rows
        grid = os.path.join(self._tmp.name, "grid.h5")
        crafted.write(grid, [crafted.row(8, 256, 0, 0.2)])
        self.assertEqual(len(neurep_analysis.load_complexity(grid)), 0)

    def test_complexity_uses_the_search(self):
        for eps in (0.1, 0.05):
            (row,) = complexity(load_many([self.path]), eps, bootstrap=200)
            self.assertTrue(row.get("search"))
            for d in DS:  # the median seed's n_eps (factor 1.0), not a median curve
                self.assertAlmostEqual(row["per_d"][d]["n_eps"], 10 * d ** 3 * (0.1 / eps), delta=1e-6)
                self.assertEqual(row["per_d"][d]["flag"], "ok")
                self.assertEqual(row["per_d"][d]["seeds"], 3)
            self.assertAlmostEqual(row["fit"]["slope"], 3.0, places=9)
            self.assertEqual(row["fit"]["d_used"], DS)
            # every seed has the same slope 3: so has every bootstrap replicate
            self.assertAlmostEqual(row["boot"]["ci_low"], 3.0, places=9)
            self.assertAlmostEqual(row["boot"]["ci_high"], 3.0, places=9)
            self.assertEqual(row["boot"]["replicates"], 200)
            self.assertEqual([ps["seed"] for ps in row["per_seed"]], [0, 1, 2])
            for ps in row["per_seed"]:
                self.assertAlmostEqual(ps["slope"], 3.0, places=9)

    def test_not_reached_seeds_count_as_infinite(self):
        cx = [c for c in self.cx if not (c["d"] == 12 and c["target"] == 0.05)]
        for s, st in ((0, "floor"), (1, "n_max"), (2, "reached")):
            cx.append(crafted.search_row(12, s, 0.05, 20000, 0, math.nan, st) if st != "reached"
                      else crafted.search_row(12, s, 0.05, 30000, 33000, 31000.0))
        crafted.write(self.path, result_rows(cx), complexity=cx)
        (row,) = complexity(load_many([self.path]), 0.05, bootstrap=0)
        self.assertEqual(row["per_d"][12]["flag"], "not_reached")  # two of three seeds not reached
        self.assertTrue(math.isnan(row["per_d"][12]["n_eps"]))
        self.assertEqual(row["fit"]["d_used"], [6, 8, 10])
        self.assertEqual(row["per_d"][12]["search"], {0: "floor", 1: "n_max", 2: "reached"})

    def test_eps_must_be_a_searched_target(self):
        with self.assertRaises(NeurepError) as e:
            complexity(load_many([self.path]), 0.2)
        self.assertIn("0.2", str(e.exception))
        self.assertIn("target_error", str(e.exception))

    def test_a_d_without_a_finished_search_is_named_as_such(self):
        # a running file: rows at d = 12 but no /complexity row there yet
        cx = [c for c in self.cx if c["d"] != 12]
        crafted.write(self.path, result_rows(self.cx), complexity=cx)
        with self.assertWarns(NeurepWarning) as w:
            rows = complexity(load_many([self.path]), 0.1)
        self.assertIn("d = 12: no search has finished at this d yet", str(w.warning))
        self.assertTrue(rows and all(12 not in r["per_d"] for r in rows), rows)  # left out
        self.assertTrue(all(r["per_d"] for r in rows))  # the other d are there

    def test_cli_complexity(self):
        rc, out, err = run_cli("complexity", self.path, "--eps", "0.1", "--bootstrap", "50")
        self.assertEqual(rc, 0, err)
        self.assertIn("searched n", out)
        self.assertIn("3.00", out)
        self.assertIn("%.4g" % (10 * 12 ** 3), out)  # n_eps at d = 12
        rc, _, err = run_cli("complexity", self.path, "--eps", "0.3")
        self.assertEqual(rc, 2)
        self.assertIn("target_error", err)
        self.assertEqual(len(err.strip().splitlines()), 1)


def share_eps(d, share=0.5):
    """eps(d) = share x the degree-4 share of Var f* at d, as the runners write it ('%.6g')."""
    from neurep_analysis.theory import harmonic_shares
    return float("%.6g" % (share * harmonic_shares([4], [1.0], d)[4]))


class PerDFiles(unittest.TestCase):
    """One file per d (as campaign paper-2 writes them), each searched for the targets
    [0.1, 0.05, 0.5 x share(d)]; n_eps(0.1) = 10 f_s d^3, n_eps(0.05) = 20 f_s d^3 and
    n_eps at the share threshold = 7 f_s d^2.5 (a different exponent, so a wrong target
    would show)."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.paths = []
        for d in DS:
            cx = []
            for s, f in enumerate(FACTORS):
                for t, n in ((0.1, 10 * f * d ** 3), (0.05, 20 * f * d ** 3),
                             (share_eps(d), 7 * f * d ** 2.5)):
                    cx.append(crafted.search_row(d, s, t, int(n / 1.1), int(n * 1.1) + 1, n))
            path = os.path.join(self._tmp.name, "ntk_x_d%d.h5" % d)
            crafted.write(path, result_rows(cx), complexity=cx, dim=d)
            self.paths.append(path)

    def tearDown(self):
        self._tmp.cleanup()

    def test_eps_share_uses_each_d_s_target(self):
        (row,) = complexity(load_many(self.paths), None, bootstrap=200, eps_share=0.5)
        self.assertTrue(row.get("search"))
        for d in DS:
            self.assertAlmostEqual(row["per_d"][d]["n_eps"], 7 * d ** 2.5, delta=1e-6)
            self.assertAlmostEqual(row["per_d"][d]["eps"], share_eps(d), delta=1e-6)
            self.assertEqual(row["per_d"][d]["seeds"], 3)
        self.assertAlmostEqual(row["fit"]["slope"], 2.5, places=9)
        self.assertEqual(row["fit"]["d_used"], DS)
        self.assertAlmostEqual(row["boot"]["ci_low"], 2.5, places=9)
        self.assertAlmostEqual(row["boot"]["ci_high"], 2.5, places=9)
        self.assertEqual([ps["seed"] for ps in row["per_seed"]], [0, 1, 2])
        for ps in row["per_seed"]:
            self.assertAlmostEqual(ps["slope"], 2.5, places=9)

    def test_absolute_eps_across_files(self):
        for eps, c in ((0.1, 10), (0.05, 20)):
            (row,) = complexity(load_many(self.paths), eps, bootstrap=50)
            self.assertEqual(sorted(row["per_d"]), DS)
            for d in DS:
                self.assertAlmostEqual(row["per_d"][d]["n_eps"], c * d ** 3, delta=1e-6)
            self.assertAlmostEqual(row["fit"]["slope"], 3.0, places=9)

    def test_a_d_without_the_share_target_is_an_error(self):
        # d = 10 searched 0.1 and 0.05 only
        d = 10
        cx = []
        for s, f in enumerate(FACTORS):
            for t in (0.1, 0.05):
                n = 10 * f * d ** 3 * (0.1 / t)
                cx.append(crafted.search_row(d, s, t, int(n / 1.1), int(n * 1.1) + 1, n))
        crafted.write(self.paths[DS.index(d)], result_rows(cx), complexity=cx, dim=d)
        with self.assertRaises(NeurepError) as e:
            complexity(load_many(self.paths), None, bootstrap=0, eps_share=0.5)
        msg = str(e.exception)
        self.assertIn("d = 10", msg)
        self.assertIn("%.6g" % share_eps(d), msg)
        self.assertIn("[0.1, 0.05]", msg)
        rc, out, err = run_cli("complexity", *self.paths, "--eps-share", "0.5", "--bootstrap", "0")
        self.assertEqual(rc, 2)
        self.assertEqual(len(err.strip().splitlines()), 1)
        self.assertIn("d = 10", err)

    def test_cli_eps_share(self):
        rc, out, err = run_cli("complexity", *self.paths, "--eps", "0.1", "--eps-share", "0.5",
                               "--bootstrap", "50")
        self.assertEqual(rc, 0, err)
        self.assertIn("3.00", out)  # the --eps 0.1 table
        self.assertIn("2.50", out)  # the share table
        self.assertIn("eps(12) = %.4g" % share_eps(12), out)
        self.assertIn("%.4g" % (7 * 12 ** 2.5), out)


class SearchFigures(unittest.TestCase):
    """What the figures draw of a search: the median line joins only the n computed for at
    least half of the seeds; n_eps vs d gives the bootstrap interval and marks a d whose
    median was not reached."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self._tmp.cleanup()

    def capture(self, fn, *args, **kw):
        from unittest import mock
        from neurep_analysis import plots
        figs = []
        with mock.patch.object(plots, "save", lambda fig, *a, **k: figs.append(fig) or []):
            fn(*args, **kw)
        return figs[0]

    def test_bisection_points_are_not_joined(self):
        import matplotlib.pyplot as plt
        from neurep_analysis import plots
        from neurep_analysis.stats import aggregate
        # every seed on the ladder 64 ... 512; seed 0 alone at 300, seed 1 alone at 400
        rows = [crafted.row(8, n, s, 20.0 / n) for n in (64, 128, 256, 512) for s in range(4)]
        rows += [crafted.row(8, 300, 0, 0.001), crafted.row(8, 400, 1, 0.5)]
        path = os.path.join(self._tmp.name, "s.h5")
        crafted.write(path, rows)
        fig = self.capture(plots.plot_errors, aggregate(neurep_analysis.load(path)), "x")
        lines = [ln for ln in fig.axes[0].get_lines() if ln.get_linestyle() == "-"]
        self.assertEqual([list(ln.get_xdata()) for ln in lines], [[64, 128, 256, 512]])
        apart = [ln for ln in fig.axes[0].get_lines() if ln.get_linestyle() == "None"]
        self.assertEqual(sorted(x for ln in apart for x in ln.get_xdata()), [300, 400])
        texts = [t.get_text() for t in fig.legends[0].get_texts()]
        self.assertTrue(any("fewer than half of the seeds" in t for t in texts), texts)
        plt.close(fig)

    def test_complexity_figure_bootstrap_and_not_reached(self):
        import matplotlib.pyplot as plt
        from neurep_analysis import plots
        cx = [c for c in search_rows() if not (c["d"] == 12 and c["target"] == 0.1)]
        for s in range(3):   # at d = 12 two of three seeds stop at a floor
            cx.append(crafted.search_row(12, s, 0.1, 40000, 0, math.nan, "floor") if s < 2
                      else crafted.search_row(12, s, 0.1, 15000, 18000, 17000.0))
        path = os.path.join(self._tmp.name, "search.h5")
        crafted.write(path, result_rows(cx), complexity=cx)
        (row,) = complexity(load_many([path]), 0.1, bootstrap=100)
        self.assertEqual(row["per_d"][12]["flag"], "not_reached")
        fig = self.capture(plots.plot_complexity, [row], "x")
        texts = [t.get_text() for t in fig.legends[0].get_texts()]
        b = row["boot"]
        self.assertTrue(any("[%.2f, %.2f] bootstrap" % (b["ci_low"], b["ci_high"]) in t
                            for t in texts), texts)
        self.assertTrue(any("not reached at this d" in t for t in texts), texts)
        marks = [ln for ln in fig.axes[0].get_lines() if ln.get_marker() == "^"]
        self.assertEqual([(list(m.get_xdata()), list(m.get_ydata())) for m in marks],
                         [([12], [row["per_d"][12]["n_max"]])])
        plt.close(fig)


if __name__ == "__main__":
    unittest.main()
