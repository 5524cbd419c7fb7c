"""The claim table (neurep_analysis.claims, `neurep-analysis claims`): the exponent
of crafted searches with n_eps = c d^p, the verdict rule (consistent, contradicted,
not measurable here, fewer than four d), the counts of searches and of rows that
did not converge, the floor table and the claims file's errors."""

import math
import os
import tempfile
import unittest

from neurep_analysis import claims as cl
from tests.analysis import crafted
from tests.analysis.test_cli import run as run_cli
from tests.analysis.test_search import result_rows, share_eps

SEEDS = 5
DS = [8, 12, 16, 20]


def wobble(s, d):
    """A seed's factor at d: not the same at every d, so the per-seed slopes and the
    bootstrap interval have a width (within 10 % of 1)."""
    return 1.0 + 0.1 * math.sin(3.0 * s + 0.7 * d)


def search_file(path, d, n_of, stopped=(), learner="kernel:ntk", input="x", status_of=None,
                toml=None):
    """A file of one d searched for [0.1, 0.05, 0.5 x share(d)]; n_eps(target) = n_of(target, d)
    times the seed's wobble; the seeds in `stopped` stopped at a floor for every target."""
    cx = []
    for s in range(SEEDS):
        for t, key in ((0.1, 0.1), (0.05, 0.05), (share_eps(d), "share")):
            n = n_of(key, d) * wobble(s, d)
            if s in stopped:
                cx.append(crafted.search_row(d, s, t, int(n * 2), 0, math.nan, "floor",
                                             learner=learner, input=input))
            else:
                cx.append(crafted.search_row(d, s, t, int(n / 1.1), int(n * 1.1) + 1, n,
                                             learner=learner, input=input))
    rows = result_rows(cx)
    for r in rows:
        r["learner"], r["input"] = learner, input
        if status_of:
            r["status"] = status_of(r)
    crafted.write(path, rows, complexity=cx, dim=d, toml=toml and toml(d))
    return path


def quartic(key, d):   # n_eps = c d^4 at 0.1 and 0.05, c d^2.5 at the share threshold
    return {0.1: 0.05, 0.05: 0.1, "share": 0.4}[key] * d ** (4 if key != "share" else 2.5)


SPEC = """
[[claim]]
learner = "NTK"
input = "x"
target = "(b.x)^4"
theory = %s
parts = "1a"
configs = ["ntk_x"]

[[claim]]
learner = "linear floor"
input = "h"
target = "(b.x)^4"
kind = "floor"
parts = "3"
configs = ["lstsq_h_relu_c2"]

[[claim]]
learner = "Quad"
input = "x"
target = "(b.x)^4"
theory = 3
parts = "2"
configs = ["quad_x"]
"""


class Claims(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.dir = self._tmp.name
        os.makedirs(os.path.join(self.dir, "part1a"))

    def tearDown(self):
        self._tmp.cleanup()

    def spec(self, theory=4):
        path = os.path.join(self.dir, "claims_%s.toml" % theory)
        with open(path, "w") as fh:
            fh.write(SPEC % theory)
        return cl.load_spec(path)

    def files(self, ds=DS, stopped=None, name="ntk_x", **kw):
        return [search_file(os.path.join(self.dir, "part1a", "%s_d%d.h5" % (name, d)), d, quartic,
                            (stopped or {}).get(d, ()), **kw) for d in ds]

    def entry(self, entries, config):
        (e,) = [e for e in entries if e["config"] == config]
        return e

    def test_exponent_and_consistent(self):
        entries, unknown = cl.measure(self.spec(4), self.files(), bootstrap=200)
        self.assertEqual(unknown, [])
        e = self.entry(entries, "ntk_x")
        self.assertEqual(e["d"], DS)
        self.assertEqual(e["seeds"], list(range(SEEDS)))
        t01, t005, share = e["thresholds"]
        for t in (t01, t005):
            self.assertAlmostEqual(t["slope"], 4.0, delta=0.1)
            self.assertLess(t["ci_low"], t["ci_high"])      # the wobble gives the interval a width
            self.assertTrue(t["ci_low"] <= 4.0 <= t["ci_high"])
            self.assertEqual(t["d_used"], DS)
            self.assertEqual(t["searches"], (20, 20))
            self.assertEqual((t["verdict"], t["reason"]), ("consistent", ""))
        # the share threshold reads its own target (n_eps ~ d^2.5 there), not 0.1 or 0.05
        self.assertAlmostEqual(share["slope"], 2.5, delta=0.1)
        self.assertEqual(share["verdict"], "contradicted")
        self.assertEqual(e["verdict"], "mixed")
        # a claim without files, and the floor claim without files
        self.assertEqual(self.entry(entries, "quad_x")["verdict"], "not run")
        self.assertEqual(self.entry(entries, "lstsq_h_relu_c2")["verdict"], "not run")

    def test_contradicted(self):
        entries, _ = cl.measure(self.spec(3), self.files(), bootstrap=200)
        t = self.entry(entries, "ntk_x")["thresholds"][0]
        self.assertGreater(t["ci_low"], 3.0)
        self.assertEqual(t["verdict"], "contradicted")

    def test_fewer_than_four_d_says_so(self):
        entries, _ = cl.measure(self.spec(4), self.files(DS[:3]), bootstrap=200)
        t = self.entry(entries, "ntk_x")["thresholds"][0]
        self.assertEqual(t["verdict"], "consistent")
        self.assertIn("on 3 d", t["reason"])

    def test_not_measurable_when_few_d_reach(self):
        # at d = 16 and 20, 3 of 5 seeds stop at a floor: the median is not reached there
        entries, _ = cl.measure(self.spec(4), self.files(stopped={16: (0, 1, 2), 20: (0, 1, 2)}),
                                bootstrap=100)
        t = self.entry(entries, "ntk_x")["thresholds"][0]
        self.assertEqual(t["d_used"], [8, 12])
        self.assertEqual(t["verdict"], "not measurable here")
        self.assertIn("2 of 4 d", t["reason"])
        self.assertEqual(t["per_d"][16]["status"], {"reached": 2, "floor": 3})
        self.assertEqual(t["per_d"][16]["stopped"], [0, 1, 2])
        self.assertEqual(self.entry(entries, "ntk_x")["verdict"], "not measurable here")

    def test_not_measurable_when_most_searches_stop(self):
        # the median is reached at d = 8, 12, 16 (2 of 5 stop) but no seed reaches at d = 20:
        # 9 of 20 searches reached, fewer than half
        entries, _ = cl.measure(self.spec(4), self.files(
            stopped={8: (0, 1), 12: (0, 1), 16: (0, 1), 20: range(SEEDS)}), bootstrap=100)
        t = self.entry(entries, "ntk_x")["thresholds"][0]
        self.assertEqual(t["d_used"], [8, 12, 16])
        self.assertEqual(t["searches"], (9, 20))
        self.assertEqual(t["verdict"], "not measurable here")
        self.assertIn("9 of 20", t["reason"])

    def test_left_out_d_is_named(self):
        entries, _ = cl.measure(self.spec(4), self.files(stopped={20: (0, 1, 2)}), bootstrap=100)
        t = self.entry(entries, "ntk_x")["thresholds"][0]
        self.assertEqual(t["d_used"], [8, 12, 16])
        self.assertIn("d = 20 not reached, left out", t["reason"])
        self.assertIn("on 3 d", t["reason"])

    def test_verdict_rule(self):
        flags = {d: "ok" for d in DS}
        self.assertEqual(cl.verdict(4, flags, {"ci_low": 3.5, "ci_high": 4.5, "dropped": 0}, None),
                         ("consistent", ""))
        self.assertEqual(cl.verdict(4, flags, {"ci_low": 4.1, "ci_high": 4.5, "dropped": 0},
                                    None)[0], "contradicted")
        # fewer than five seeds: the verdict stands, and says its interval is coarse
        few = {"ci_low": 3.5, "ci_high": 4.5, "dropped": 0, "seeds": 3}
        self.assertEqual(cl.verdict(4, flags, few, None), ("consistent", "3 seeds: a coarse interval"))
        self.assertEqual(cl.verdict(4, flags, dict(few, seeds=5), None), ("consistent", ""))
        # a NaN interval is no interval (a comparison with NaN must not pass)
        self.assertEqual(cl.verdict(4, flags, {"ci_low": math.nan, "ci_high": 4.5}, None)[0],
                         "not measurable here")
        self.assertEqual(cl.verdict(None, flags, {"ci_low": 3, "ci_high": 5}, None)[0],
                         "no theory exponent")
        self.assertEqual(cl.combine(["consistent", "not measurable here", "consistent"]),
                         "consistent")
        self.assertEqual(cl.combine(["consistent", "contradicted"]), "mixed")
        self.assertEqual(cl.combine(["not searched", "not measurable here"]), "not measurable here")

    def test_kernel_theory_beside_the_measurement(self):
        """A kernel learner's per-d n_eps comes with the deterministic equivalent's, at the
        settings of its file's configuration (here input bias and two ridges: the better
        ridge's n_eps), and the exponent of the prediction over the d of the fit; a Quad
        line gets none."""
        from neurep_analysis.kernel_theory import Setting, predicted_n_eps
        from neurep_analysis.stats import fit_power_law

        def toml(d):
            return crafted.config_toml(dim=d).replace(
                "ridge = [1e-6]", "ridge = [1e-2, 1e-6]\ninput_bias = true")
        entries, _ = cl.measure(self.spec(4), self.files(toml=toml), bootstrap=20)
        t01, t005, share = self.entry(entries, "ntk_x")["thresholds"]
        for t in (t01, t005, share):
            want = {}
            for d, v in t["per_d"].items():
                st = Setting("ntk", d, True, None, [4], [1.0], True, 0.0)
                # ridge 1e-2 never reaches eps (NaN): the better ridge is 1e-6
                self.assertTrue(math.isnan(predicted_n_eps(st, v["eps"], 1e-2)))
                want[d] = predicted_n_eps(st, v["eps"], 1e-6)
                self.assertAlmostEqual(v["predicted"] / want[d], 1.0, places=9)
                # without the input bias the kernel theory predicts another n_eps
                nobias = predicted_n_eps(Setting("ntk", d, False, None, [4], [1.0], True, 0.0),
                                         v["eps"], 1e-6)
                self.assertGreater(abs(nobias / want[d] - 1), 1e-3)
            self.assertAlmostEqual(t["predicted_slope"],
                                   fit_power_law(DS, [want[d] for d in DS])["slope"], places=9)
        self.assertNotEqual(t01["per_d"][8]["eps"], share["per_d"][8]["eps"])
        text = cl.markdown(entries, [], [], "test")
        self.assertIn("kernel theory at these d: %.2f" % t01["predicted_slope"], text)
        v = t01["per_d"][12]
        self.assertIn("| %.0f | %.2f |" % (v["predicted"], v["n_eps"] / v["predicted"]), text)
        quad = self.files(name="ntk_x", learner="taylor:order=2",
                          input="h:quadratic:D=(d+1)*(d+2):zca")
        entries, _ = cl.measure(self.spec(2), quad, bootstrap=20)
        t = self.entry(entries, "ntk_x")["thresholds"][0]
        self.assertTrue(math.isnan(t["predicted_slope"]))
        self.assertTrue(all(math.isnan(v["predicted"]) for v in t["per_d"].values()))
        self.assertNotIn("kernel theory at these d", cl.markdown(entries, [], [], "test"))

    def test_not_converged_rows_are_counted(self):
        lrn, inp = "taylor:order=2", "h:quadratic:D=(d+1)*(d+2):zca"
        files = self.files(name="ntk_x", learner=lrn, input=inp,
                           status_of=lambda r: "not-converged" if r["seed"] == 1 else "ok")
        entries, _ = cl.measure(self.spec(2), files, bootstrap=50)
        e = self.entry(entries, "ntk_x")
        bad = sum(1 for f in files for r in crafted_rows(f) if r["seed"] == 1)
        self.assertGreater(bad, 0)
        self.assertEqual(e["status"]["selected"], {"not-converged": bad})
        self.assertEqual(e["status"]["all"], {"not-converged": bad})
        text = cl.markdown(entries, [], [], "test")
        self.assertIn("| `ntk_x` | %d not-converged | %d not-converged | %d / %d |"
                      % (bad, bad, bad, bad), text)

    def test_floors(self):
        os.makedirs(os.path.join(self.dir, "part3"))
        inp = "h:relu:D=2*d^2:zca"
        rows = []
        for d in (8, 16):
            D = 2 * d * d
            for n in (1290, 2890, 5130):
                for s in range(3):
                    # as src/learners/linear writes it: few-samples below 10 (D + 1), else ok or
                    # rank-deficient (columns dropped: still a floor), here for seed 2
                    few = n < 10 * (D + 1)
                    status = "few-samples" if few else "rank-deficient" if s == 2 else "ok"
                    rows.append(crafted.row(d, n, s, 0.3 + 0.01 * s + (0.5 if few else 0) + 1e-5 * n,
                                            learner="linear", input=inp, ridge=math.nan, width=D,
                                            status=status))
        path = os.path.join(self.dir, "part3", "lstsq_h_relu_c2.h5")
        crafted.write(path, rows, learner_kind="linear")
        spec = self.spec(4)
        out = cl.floors(spec, [path])
        self.assertEqual([(r["d"], r["n"]) for r in out], [(8, 1290), (16, 5130)])
        self.assertEqual([r["seeds"] for r in out], [3, 3])         # rank-deficient included
        self.assertAlmostEqual(out[0]["floor"], 0.31 + 1e-5 * 1290)   # the median seed
        self.assertAlmostEqual(out[0]["floor_max"], 0.32 + 1e-5 * 1290)
        self.assertAlmostEqual(out[1]["floor"], 0.31 + 1e-5 * 5130)
        self.assertEqual(out[1]["statuses"], {"few-samples": 6, "ok": 2, "rank-deficient": 1})
        self.assertEqual(out[0]["n_largest"], 5130)
        self.assertAlmostEqual(out[0]["at_largest"], 0.31 + 1e-5 * 5130)
        entries, _ = cl.measure(spec, [path], bootstrap=10)
        self.assertEqual(self.entry(entries, "lstsq_h_relu_c2")["verdict"], "floor (see Floors)")
        text = cl.markdown(entries, out, [], "test")
        self.assertIn("| `lstsq_h_relu_c2` | relu | 2*d^2 | 16 | 512 | 5130 | 3 | 0.3613", text)

    def test_cli(self):
        files = self.files()
        spec = os.path.join(self.dir, "claims.toml")
        with open(spec, "w") as fh:
            fh.write(SPEC % 4)
        prefix = os.path.join(self.dir, "figures", "claims")
        rc, out, err = run_cli("claims", "--spec", spec, "--bootstrap", "50", "-o", prefix, *files)
        self.assertEqual(rc, 0, err)
        with open(prefix + ".md") as fh:
            text = fh.read()
        self.assertIn(cl.VERDICT_RULE, text)
        self.assertIn("| 1 | NTK | x |", text)
        self.assertIn("not run (part 2)", text)
        with open(prefix + ".csv") as fh:
            csv = fh.read().splitlines()
        self.assertEqual(csv[0].split(","), cl.CSV_HEAD)
        self.assertEqual(len(csv), 1 + 3 + 2)   # ntk_x at three thresholds, two claims not run
        self.assertTrue(os.path.exists(prefix + "_floors.csv"))
        # a claims file without a key: one line naming it, exit 2, nothing written
        bad = os.path.join(self.dir, "bad.toml")
        with open(bad, "w") as fh:
            fh.write((SPEC % 4).replace('parts = "1a"\n', "", 1))
        rc, _, err = run_cli("claims", "--spec", bad, "-o", os.path.join(self.dir, "bad"), *files)
        self.assertEqual(rc, 2)
        self.assertIn("'parts'", err)
        self.assertEqual(len(err.strip().splitlines()), 1)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "bad.md")))


class Paper2Claims(unittest.TestCase):
    def test_every_configuration_of_the_campaign_has_a_claim(self):
        """jobs/campaigns/paper-2/claims.toml names every configuration of the campaign's
        parts and cluster folder (a configuration it misses would be left out of the table),
        in a claim or as a diagnostic, and no other."""
        import glob
        top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
        campaign = os.path.join(top, "jobs", "campaigns", "paper-2")
        spec = cl.load_spec(os.path.join(campaign, "claims.toml"))
        named = {name for c in spec for name in c["configs"]}
        import tomllib
        with open(os.path.join(campaign, "claims.toml"), "rb") as fh:
            named |= set(tomllib.load(fh).get("diagnostics", []))
        stems = {os.path.basename(p)[:-len(".toml")]
                 for p in glob.glob(os.path.join(campaign, "*", "*.toml"))}
        self.assertEqual(named, stems)
        self.assertEqual(len(spec), 15)    # the rows of the README's claim table
        self.assertEqual([c["kind"] for c in spec].count("floor"), 1)


def crafted_rows(path):
    from neurep_analysis.resultfile import load
    return load(path).rows()


if __name__ == "__main__":
    unittest.main()
