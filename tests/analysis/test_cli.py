"""The command line: outputs with deterministic names, exit 2 on bad input."""

import contextlib
import csv
import io
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

from neurep_analysis.cli import main
from tests.analysis import crafted

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NS = [int(round(x)) for x in np.geomspace(16, 2 ** 15, 12)]


def run(*argv):
    """main(argv) in-process; returns (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main([str(a) for a in argv])
        except SystemExit as exc:    # argparse
            rc = exc.code
    return rc, out.getvalue(), err.getvalue()


class CliCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()
        cls.dir = cls._tmp.name
        ds = [4, 8, 16]
        kernel = crafted.power_law_rows(2.0, ds, NS, seeds=3, rng_seed=1)
        kernel.append(crafted.row(4, 16, 7, math.nan, status="diverged"))
        quad = crafted.power_law_rows(1.5, ds, NS, seeds=3, rng_seed=2,
                                      learner="taylor:order=2", input="h:step:D=2*d^2:zca",
                                      ridge=math.nan)
        quad = [dict(r, m=64, steps_run=2000) for r in quad]
        cls.kernel = cls.p("kernel.h5")
        cls.quad = cls.p("quad.h5")
        crafted.write(cls.kernel, kernel)
        crafted.write(cls.quad, quad, learner_kind="taylor",
                      curves=[crafted.curve(d, n, s, input="h:step:D=2*d^2:zca")
                              for d in (4, 8) for n in (64, 256) for s in range(2)])

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    @classmethod
    def p(cls, name):
        return os.path.join(cls.dir, name)

    def assertFiles(self, paths):
        for path in paths:
            self.assertTrue(os.path.isfile(path), path)
            self.assertGreater(os.path.getsize(path), 0, path)


class TestCommands(CliCase):
    def test_help_on_every_command(self):
        for cmd in ([], ["info"], ["errors"], ["complexity"], ["curves"], ["summary"]):
            rc, out, _ = run(*cmd, "--help")
            self.assertEqual(rc, 0, cmd)
            self.assertIn("usage:", out)

    def test_errors_plot(self):
        prefix = self.p("figs/campaign")
        rc, out, err = run("errors", self.kernel, self.quad, "-o", prefix, "--eps", "0.1",
                           "--harmonic-levels", "--title", "test")
        self.assertEqual(rc, 0, err)
        want = [prefix + "_errors.png", prefix + "_errors.pdf"]
        self.assertEqual(out.split(), want)
        self.assertFiles(want)
        with open(want[0], "rb") as fh:
            self.assertEqual(fh.read(8), b"\x89PNG\r\n\x1a\n")
        with open(want[1], "rb") as fh:
            self.assertEqual(fh.read(5), b"%PDF-")

    def test_outputs_are_reproducible(self):
        a, b = self.p("rep_a"), self.p("rep_b")
        for prefix in (a, b):
            rc, _, err = run("errors", self.kernel, "-o", prefix, "--ridge", "all")
            self.assertEqual(rc, 0, err)
        for ext in ("png", "pdf"):
            with open("%s_errors.%s" % (a, ext), "rb") as fa, \
                    open("%s_errors.%s" % (b, ext), "rb") as fb:
                self.assertEqual(fa.read(), fb.read(), ext)

    def test_complexity_table_and_files(self):
        prefix = self.p("cx")
        rc, out, err = run("complexity", self.kernel, self.quad, "--eps", "0.1", "-o", prefix,
                           "--bootstrap", "50")
        self.assertEqual(rc, 0, err)
        self.assertIn("kernel:ntk", out)
        self.assertIn("theory", out)
        self.assertIn("95% CI", out)
        self.assertFiles([prefix + s for s in ("_complexity.csv", "_exponents.csv",
                                                "_complexity.json", "_complexity.png",
                                                "_complexity.pdf")])
        with open(prefix + "_exponents.csv") as fh:
            rows = {r["learner"]: r for r in csv.DictReader(fh)}
        self.assertEqual(rows["kernel:ntk"]["theory"], "4")
        self.assertEqual(rows["taylor:order=2"]["theory"], "2")
        k = rows["kernel:ntk"]
        self.assertLessEqual(float(k["ci_low"]), 2.0)
        self.assertGreaterEqual(float(k["ci_high"]), 2.0)
        q = rows["taylor:order=2"]
        self.assertLessEqual(float(q["ci_low"]), 1.5)
        self.assertGreaterEqual(float(q["ci_high"]), 1.5)
        with open(prefix + "_complexity.json") as fh:
            doc = json.load(fh)
        self.assertEqual({r["learner"] for r in doc}, {"kernel:ntk", "taylor:order=2"})
        self.assertEqual(len(doc[0]["n_eps"]), 3)

    def test_complexity_json_stdout_and_eps(self):
        rc, out, err = run("complexity", self.kernel, "--json", "--eps", "0.05")
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        self.assertEqual(doc[0]["eps"], 0.05)
        self.assertEqual(doc[0]["theory"], 4)

    def test_curves(self):
        prefix = self.p("cv")
        rc, out, err = run("curves", self.quad, "-o", prefix, "--weight-norm")
        self.assertEqual(rc, 0, err)
        want = [prefix + "_curves_taylor-order-2_h-step-D-2-d-2-zca." + e
                for e in ("png", "pdf")]
        self.assertEqual(out.split(), want)
        self.assertFiles(want)
        rc, _, err = run("curves", self.kernel, "-o", prefix)
        self.assertEqual(rc, 2)
        self.assertIn("no training curves", err)

    def test_summary_csv_and_json(self):
        out_csv = self.p("s.csv")
        rc, out, err = run("summary", self.kernel, self.quad, "-o", out_csv)
        self.assertEqual(rc, 0, err)
        with open(out_csv) as fh:
            rows = list(csv.DictReader(fh))
        self.assertEqual(len(rows), 2 * 3 * len(NS))
        quad = [r for r in rows if r["learner"] == "taylor:order=2"]
        self.assertEqual(quad[0]["m_median"], "64.0")       # extra columns carried
        failed = [r for r in rows if r["n_failed"] != "0"]
        self.assertEqual(len(failed), 1)
        out_json = self.p("s.json")
        rc, _, err = run("summary", self.kernel, "-o", out_json)
        self.assertEqual(rc, 0, err)
        with open(out_json) as fh:
            doc = json.load(fh)
        self.assertEqual(doc["files"][0]["status"], "complete")
        self.assertEqual(doc["complexity"][0]["theory"], 4)
        rc, out, _ = run("summary", self.quad, "--raw")
        rows = list(csv.DictReader(io.StringIO(out)))
        self.assertEqual(rows[0]["file"], self.quad)
        self.assertIn("steps_run", rows[0])

    def test_all_failed_panel_and_unreached_eps_still_plot(self):
        p = self.p("failing.h5")
        rows = crafted.power_law_rows(2.0, [4], [64, 128], seeds=2)
        rows += [crafted.row(8, n, s, math.nan, status="diverged")
                 for n in (64, 128) for s in range(2)]
        rows += [crafted.row(8, 256, 0, 0.5, status="jitter=1e-08")]
        crafted.write(p, rows)
        prefix = self.p("failing")
        rc, _, err = run("errors", p, "-o", prefix, "--eps", "0.1")
        self.assertEqual(rc, 0, err)
        self.assertFiles([prefix + "_errors.png", prefix + "_errors.pdf"])
        rc, out, err = run("complexity", p, "--eps", "1e-9", "-o", prefix)
        self.assertEqual(rc, 0, err)
        self.assertIn("not reached", out)
        self.assertFiles([prefix + "_complexity.png", prefix + "_complexity.pdf"])

    def test_info(self):
        rc, out, err = run("info", self.kernel)
        self.assertEqual(rc, 0, err)
        self.assertIn("status     complete", out)
        self.assertIn("diverged: 1", out)

    def test_filters(self):
        rc, out, err = run("summary", self.kernel, self.quad, "--learner", "taylor:*",
                           "--d", "8")
        self.assertEqual(rc, 0, err)
        rows = list(csv.DictReader(io.StringIO(out)))
        self.assertEqual({(r["learner"], r["d"]) for r in rows}, {("taylor:order=2", "8")})
        rc, _, err = run("summary", self.kernel, "--learner", "nothing*")
        self.assertEqual(rc, 2)
        self.assertIn("filters", err)


class TestBadInput(CliCase):
    def assertBad(self, argv, *fragments):
        rc, out, err = run(*argv)
        self.assertEqual(rc, 2, err)
        lines = [ln for ln in err.strip().splitlines() if "warning:" not in ln]
        self.assertEqual(len(lines), 1, err)
        self.assertTrue(lines[0].startswith("neurep-analysis: error: "), err)
        for frag in fragments:
            self.assertIn(frag, lines[0])

    def test_not_hdf5(self):
        p = self.p("notes.txt")
        with open(p, "w") as fh:
            fh.write("hello\n")
        for cmd in ("info", "errors", "complexity", "curves", "summary"):
            self.assertBad([cmd, p], "not an HDF5 file", p)

    def test_not_neurep(self):
        p = self.p("foreign.h5")
        with h5py.File(p, "w") as f:
            f.attrs["software"] = np.bytes_("something-else")
        self.assertBad(["complexity", p], "not a neurep results file")

    def test_missing_results(self):
        p = self.p("noresults.h5")
        crafted.write(p, [], results=False)
        self.assertBad(["errors", p, "-o", self.p("x")], "/results")

    def test_mixed_targets(self):
        p = self.p("deg3.h5")
        crafted.write(p, crafted.power_law_rows(2.0, [4, 8], NS), degrees=(3,))
        self.assertBad(["complexity", self.kernel, p], "mixed targets", "data.degrees",
                       self.kernel, p, "--allow-mixed")
        rc, out, err = run("complexity", self.kernel, p, "--allow-mixed")
        self.assertEqual(rc, 0, err)
        self.assertIn("warning: mixed targets", err)

    def test_incomplete_run_warns_but_reports(self):
        p = self.p("running.h5")
        crafted.write(p, crafted.power_law_rows(2.0, [4, 8], NS), status="running")
        rc, out, err = run("complexity", p)
        self.assertEqual(rc, 0, err)
        self.assertIn("neurep-analysis: warning:", err)
        self.assertIn("running", err)
        self.assertIn("kernel:ntk", out)
        prefix = self.p("running")
        rc, _, err = run("errors", p, "-o", prefix)
        self.assertEqual(rc, 0, err)
        self.assertFiles([prefix + "_errors.png", prefix + "_errors.pdf"])

    def test_run_without_rows(self):
        p = self.p("norows.h5")
        crafted.write(p, [], status="running")
        self.assertBad(["errors", p, "-o", self.p("y")], "no result rows")

    def test_bad_options(self):
        self.assertBad(["errors", self.kernel, "--format", "gif"], "--format")
        self.assertBad(["complexity", self.kernel, "--eps", "-1"], "--eps")
        rc, _, err = run("errors", self.kernel, "--ridge", "sometimes")
        self.assertEqual(rc, 2)   # argparse's own message


class TestEntryPoints(CliCase):
    """The real entry points, as the user types them, from a folder outside the checkout."""

    def check(self, argv, env=None):
        with tempfile.TemporaryDirectory() as elsewhere:
            proc = subprocess.run(argv + ["complexity", self.kernel], cwd=elsewhere, env=env,
                                  capture_output=True, text=True, timeout=120)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertIn("kernel:ntk", proc.stdout)
            proc = subprocess.run(argv + ["info", __file__], cwd=elsewhere, env=env,
                                  capture_output=True, text=True, timeout=120)
            self.assertEqual(proc.returncode, 2)
            self.assertEqual(len(proc.stderr.strip().splitlines()), 1, proc.stderr)

    def test_module_and_script(self):
        env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "analysis"))
        self.check([sys.executable, "-m", "neurep_analysis"], env)
        self.check([os.path.join(REPO, "analysis", "neurep-analysis")])

    def test_pip_install_offline(self):
        """pip install ./analysis works offline (no index, no build isolation):
        the package and its neurep-analysis entry point run from any folder."""
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "src")   # build in a copy: pip writes build/ and egg-info
            shutil.copytree(os.path.join(REPO, "analysis"), src,
                            ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
            target = os.path.join(tmp, "site")
            proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps",
                                   "--no-index", "--no-build-isolation", "--target", target,
                                   src], capture_output=True, text=True, timeout=300)
            if proc.returncode != 0 and "No module named pip" in proc.stderr:
                self.skipTest("pip is not installed")
            self.assertEqual(proc.returncode, 0, proc.stderr)
            env = dict(os.environ, PYTHONPATH=target)
            self.check([os.path.join(target, "bin", "neurep-analysis")], env)
            self.check([sys.executable, "-m", "neurep_analysis"], env)


if __name__ == "__main__":
    unittest.main()
