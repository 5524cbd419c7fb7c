"""Which row of a point the analysis uses: the run's own (validation) choice by
default in every command, the test-set choice only behind --oracle and labelled
as such; and what the figures show (labels, limits, reference slopes, facets)."""

import csv
import io
import json
import os
import tempfile
import unittest
from unittest import mock

import matplotlib.pyplot as plt
import numpy as np

import neurep_analysis
from neurep_analysis import cli, plots
from neurep_analysis.stats import ORACLE_TEXT, aggregate, complexity
from tests.analysis import crafted
from tests.analysis.test_cli import run

NS = [64, 128, 256, 512]


def trap_rows(learner="kernel:ntk"):
    """3 seeds x 4 n x 2 settings. The run selects setting A (lower validation
    error); setting B has the LOWER test error everywhere. Any default that
    picks by test error reports B's numbers (0.01 x A's)."""
    rows = []
    for s in range(3):
        for n in NS:
            a = 16.0 / n * (1 + 0.1 * s)          # crosses 0.1 between 128 and 256
            extra = {}
            if learner.startswith("taylor"):
                extra = lambda c, lr: {"candidate": float(c), "m": 32.0, "learning_rate": lr,
                                       "best_step": 100.0, "steps_run": 200.0}
                ra = dict(crafted.row(8, n, s, a, learner=learner, ridge=0.0, selected=1.0,
                                      validation_error=0.1 * a), **extra(0, 0.03))
                rb = dict(crafted.row(8, n, s, a / 100, learner=learner, ridge=0.0, selected=0.0,
                                      validation_error=0.5), **extra(1, 0.1))
            else:
                ra = crafted.row(8, n, s, a, learner=learner, ridge=1e-6, selected=1.0,
                                 validation_error=0.1 * a)
                rb = crafted.row(8, n, s, a / 100, learner=learner, ridge=1e-2, selected=0.0,
                                 validation_error=0.5)
            rows += [ra, rb]
    return rows


class ChoiceCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()
        cls.dir = cls._tmp.name
        cls.kernel = os.path.join(cls.dir, "kernel.h5")
        cls.taylor = os.path.join(cls.dir, "taylor.h5")
        crafted.write(cls.kernel, trap_rows())
        crafted.write(cls.taylor, trap_rows("taylor:order=2"), learner_kind="taylor",
                      curves=[dict(crafted.curve(8, n, s), name="d8_n%d_s%d_c%d" % (n, s, c))
                              for n in NS for s in range(3) for c in range(2)])

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def p(self, name):
        return os.path.join(self.dir, name)


class TestDefaultsNeverUseTheTestSet(ChoiceCase):
    def test_library_default(self):
        for path in (self.kernel, self.taylor):
            df = neurep_analysis.load(path)
            pts = aggregate(df)
            self.assertEqual(len(pts), 4)
            for p in pts:
                self.assertEqual(p["n_runs"], 3)
                self.assertAlmostEqual(p["median"], 16.0 / p["n"] * 1.1)   # setting A
            (row,) = complexity(df, 0.1)
            self.assertGreater(row["per_d"][8]["n_eps"], 128)            # A crosses after 128
            oracle = aggregate(df, "oracle")
            self.assertAlmostEqual(oracle[0]["median"], 16.0 / 64 * 1.1 / 100)   # B

    def test_every_command_defaults_to_the_selected_rows(self):
        seen = []
        real = cli.aggregate

        def spy(data, choice="selected"):
            seen.append(choice)
            return real(data, choice)

        argvs = [["info", self.kernel], ["errors", self.kernel, "-o", self.p("e")],
                 ["complexity", self.kernel], ["complexity", self.kernel, "-o", self.p("c")],
                 ["summary", self.kernel], ["summary", self.kernel, "-o", self.p("s.json")]]
        with mock.patch.object(cli, "aggregate", spy), \
                mock.patch("neurep_analysis.stats.aggregate", spy):
            for argv in argvs:
                rc, _, err = run(*argv)
                self.assertEqual(rc, 0, (argv, err))
        self.assertTrue(seen)
        self.assertEqual(set(seen), {"selected"})

    def test_summary_numbers_and_chosen_setting(self):
        for path, chosen in ((self.kernel, "ridge 1e-06 x3"),
                             (self.taylor, "m 32, lr 0.03, reg 0 x3")):
            rc, out, err = run("summary", path)
            self.assertEqual(rc, 0, err)
            rows = list(csv.DictReader(io.StringIO(out)))
            self.assertEqual(len(rows), 4)
            for r in rows:
                self.assertEqual(r["choice"], "selected")
                self.assertEqual(r["chosen"], chosen)
                self.assertAlmostEqual(float(r["median"]), 16.0 / int(r["n"]) * 1.1)

    def test_info_prints_selected_medians_and_seeds(self):
        rc, out, err = run("info", self.taylor)
        self.assertEqual(rc, 0, err)
        self.assertIn("selected on each run's validation split", out)
        lines = [ln.split() for ln in out.splitlines() if ln.strip().startswith("taylor:order=2")]
        self.assertEqual(len(lines), 4)
        for ln in lines:
            self.assertEqual(ln[4], "3")                           # seeds, not seeds x candidates
            self.assertAlmostEqual(float(ln[5]), 16.0 / int(ln[3]) * 1.1, places=3)

    def test_curves_default_to_the_selected_candidate(self):
        got = {}

        def fake(curves, prefix, weight_norm, formats, labels, selected_only):
            got["curves"] = curves
            got["selected_only"] = selected_only
            return []

        with mock.patch.object(plots, "plot_curves", fake):
            rc, _, err = run("curves", self.taylor, "-o", self.p("cv"))
            self.assertEqual(rc, 0, err)
            self.assertTrue(got["selected_only"])
            self.assertEqual(set(got["curves"]["candidate"]), {0})
            rc, _, err = run("curves", self.taylor, "-o", self.p("cv"), "--all-candidates")
            self.assertEqual(set(got["curves"]["candidate"]), {0, 1})


class TestOracleIsLabelled(ChoiceCase):
    def test_complexity_table_json_and_csv(self):
        rc, out, err = run("complexity", self.kernel, "--oracle", "-o", self.p("o"))
        self.assertEqual(rc, 0, err)
        self.assertIn(ORACLE_TEXT.upper(), out.splitlines()[0])
        self.assertIn("rows per point: " + ORACLE_TEXT, out)
        with open(self.p("o_exponents.csv")) as fh:
            self.assertEqual({r["choice"] for r in csv.DictReader(fh)}, {ORACLE_TEXT})
        with open(self.p("o_complexity.csv")) as fh:
            self.assertEqual({r["choice"] for r in csv.DictReader(fh)}, {ORACLE_TEXT})
        with open(self.p("o_complexity.json")) as fh:
            self.assertEqual({r["choice"] for r in json.load(fh)}, {ORACLE_TEXT})
        rc, out, err = run("complexity", self.kernel)
        self.assertNotIn("oracle", out)

    def test_summary(self):
        rc, out, err = run("summary", self.taylor, "--oracle")
        self.assertEqual(rc, 0, err)
        rows = list(csv.DictReader(io.StringIO(out)))
        self.assertEqual({r["choice"] for r in rows}, {ORACLE_TEXT})
        self.assertEqual({r["chosen"] for r in rows}, {"m 32, lr 0.1, reg 0 x3"})
        rc, out, err = run("summary", self.kernel, "--oracle", "-o", "-", "--format", "json")
        self.assertEqual(json.loads(out)["choice"], ORACLE_TEXT)

    def figure_texts(self, argv):
        texts = []
        real_save = plots.save

        def spy(fig, prefix, kind, formats=plots.FORMATS):
            for t in fig.findobj(lambda o: hasattr(o, "get_text")):
                texts.append(t.get_text())
            return real_save(fig, prefix, kind, formats)

        with mock.patch.object(plots, "save", spy):
            rc, _, err = run(*argv)
        self.assertEqual(rc, 0, err)
        return texts

    def test_figures(self):
        for argv in (["errors", self.kernel, "--oracle", "-o", self.p("fe")],
                     ["complexity", self.kernel, "--oracle", "-o", self.p("fc")]):
            texts = self.figure_texts(argv)
            self.assertTrue(any(ORACLE_TEXT in t for t in texts), (argv, texts))
        texts = self.figure_texts(["errors", self.kernel, "-o", self.p("fs")])
        self.assertFalse(any("oracle" in t for t in texts), texts)

    def test_deprecated_ridge_best_is_the_oracle(self):
        rc, out, err = run("summary", self.kernel, "--ridge", "best")
        self.assertEqual(rc, 0, err)
        self.assertIn("deprecated", err)
        self.assertEqual({r["choice"] for r in csv.DictReader(io.StringIO(out))}, {ORACLE_TEXT})
        rc, out, err = run("summary", self.kernel, "--ridge", "1e-2")
        self.assertEqual(rc, 0, err)
        self.assertAlmostEqual(float(next(csv.DictReader(io.StringIO(out)))["median"]),
                               16.0 / 64 * 1.1 / 100)

    def test_oracle_with_another_choice_is_refused(self):
        rc, _, err = run("summary", self.kernel, "--oracle", "--choice", "all")
        self.assertEqual(rc, 2)
        self.assertIn("--oracle", err)

    def test_choice_all_and_val(self):
        rc, out, err = run("summary", self.taylor, "--choice", "all")
        self.assertEqual(rc, 0, err)
        settings = {r["setting"] for r in csv.DictReader(io.StringIO(out))}
        self.assertEqual(settings, {"m 32, lr 0.03, reg 0", "m 32, lr 0.1, reg 0"})
        rc, out, err = run("summary", self.taylor, "--choice", "val")
        self.assertEqual({r["chosen"] for r in csv.DictReader(io.StringIO(out))},
                         {"m 32, lr 0.03, reg 0 x3"})

    def test_choice_all_follows_a_candidate_across_d(self):
        # width rule "2*d": m = 8 at d = 4 and 16 at d = 8 is one candidate, one line
        rows = [crafted.row(d, 64, s, 0.3, learner="taylor:order=2", ridge=0.0, candidate=float(c),
                            m=float(k * d), learning_rate=0.1, selected=float(c == 0))
                for d in (4, 8) for s in range(2) for c, k in enumerate((2, 4))]
        p = self.p("rule.h5")
        crafted.write(p, rows)
        lines = {pt["setting"] for pt in aggregate(neurep_analysis.load(p), "all")}
        self.assertEqual(lines, {"m 2d, lr 0.1, reg 0", "m 4d, lr 0.1, reg 0"})

    def test_no_choice_in_the_file_is_a_clear_error(self):
        p = self.p("nochoice.h5")
        crafted.write(p, [crafted.row(8, 64, s, e, ridge=r) for s in range(2)
                          for r, e in ((1e-6, 0.2), (1e-3, 0.1))])
        rc, _, err = run("complexity", p)
        self.assertEqual(rc, 2)
        self.assertIn("--choice all", err)
        self.assertEqual(len(err.strip().splitlines()), 1)


class TestFigures(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.dir = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def capture(self, fn, *args, **kw):
        figs = []
        with mock.patch.object(plots, "save", lambda fig, *a, **k: figs.append(fig) or []):
            fn(*args, **kw)
        return figs[0]

    def points(self, rows, **kw):
        p = os.path.join(self.dir, "f%d.h5" % len(os.listdir(self.dir)))
        crafted.write(p, rows, **kw)
        return p

    def test_limits_from_the_data_and_clamped_points_marked(self):
        rows = [crafted.row(8, n, s, 0.5 * 64 / n) for n in NS for s in range(3)]
        df = neurep_analysis.load(self.points(rows))
        fig = self.capture(plots.plot_errors, aggregate(df), "x")
        lo, hi = fig.axes[0].get_ylim()
        self.assertGreater(lo, 0.02)           # not a fixed 1e-6: the data span 0.06-0.5
        self.assertLess(hi, 1.0)
        texts = [t.get_text() for t in fig.legends[0].get_texts()]
        self.assertFalse(any("below the axis" in t for t in texts))
        plt.close(fig)
        rows = [crafted.row(8, n, s, 0.5 if n < 512 else 1e-28) for n in NS for s in range(3)]
        df = neurep_analysis.load(self.points(rows))
        fig = self.capture(plots.plot_errors, aggregate(df), "x")
        lo, _ = fig.axes[0].get_ylim()
        self.assertGreater(lo, 1e-7)
        texts = [t.get_text() for t in fig.legends[0].get_texts()]
        self.assertTrue(any("below the axis" in t for t in texts), texts)
        plt.close(fig)

    def test_labels(self):
        rows = [crafted.row(8, n, s, 0.5 * 64 / n, learner="taylor:order=2",
                            input="h:quadratic:D=(d+1)*(d+2):zca") for n in NS for s in range(3)]
        pts = aggregate(neurep_analysis.load(self.points(rows)))
        fig = self.capture(plots.plot_errors, pts, "x")
        texts = [t.get_text() for t in fig.legends[0].get_texts()]
        self.assertIn("Quad on h(x) quadratic, D = (d+1)(d+2), zca", texts)
        plt.close(fig)
        fig = self.capture(plots.plot_errors, pts, "x", labels=["taylor:order=2 on *=Quad, φ = t²"])
        texts = [t.get_text() for t in fig.legends[0].get_texts()]
        self.assertIn("Quad, φ = t²", texts)
        plt.close(fig)

    def test_complexity_reference_slopes_and_target_facets(self):
        rows = crafted.power_law_rows(4.0, [4, 8, 16], [int(x) for x in np.geomspace(16, 2 ** 17, 14)],
                                      c=0.01)
        a = self.points(rows)
        b = self.points(rows, degrees=(3,))
        df = neurep_analysis.load([a, b], allow_mixed=True)
        res = complexity(df, 0.1)
        self.assertEqual(len(res), 2)                         # a line per target, not pooled
        self.assertEqual(sorted(r["p"] for r in res), [3, 4])
        fig = self.capture(plots.plot_complexity, res, "x")
        self.assertEqual(len([ax for ax in fig.axes if ax.get_visible()]), 2)   # a panel each
        texts = [t.get_text() for ax in fig.axes for t in ax.texts]
        self.assertIn("$\\propto d^{4}$", texts)
        self.assertIn("$\\propto d^{3}$", texts)
        plt.close(fig)
        pts = aggregate(df)
        fig = self.capture(plots.plot_errors, pts, "x")
        self.assertEqual(len([ax for ax in fig.axes if ax.get_visible()]), 6)   # 2 targets x 3 d
        plt.close(fig)


if __name__ == "__main__":
    unittest.main()
