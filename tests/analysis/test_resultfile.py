"""Loading and validating results files: the clear errors and warnings."""

import math
import os
import tempfile
import unittest
import warnings

import h5py
import numpy as np

from neurep_analysis.resultfile import NeurepError, NeurepWarning, as_str, load, load_many
from tests.analysis import crafted


class Tmp(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.dir = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def small(self, name="r.h5", **kw):
        rows = [crafted.row(8, n, s, 1.0 / n) for n in (64, 128) for s in range(3)]
        p = self.path(name)
        crafted.write(p, rows, **kw)
        return p


class TestLoad(Tmp):
    def test_reads_columns_config_and_strings(self):
        p = self.small()
        rf = load(p)
        self.assertEqual(rf.status, "complete")
        self.assertEqual(rf.nrows, 6)
        self.assertEqual(rf.config_source, "toml")
        self.assertEqual(rf.degrees(), [4])
        self.assertEqual(rf.target()["data.input"], "sphere")
        self.assertEqual(rf.attrs["mpi_ranks"], 2)
        self.assertIsInstance(rf.attrs["grid"], str)
        self.assertEqual(set(rf.columns["learner"]), {"kernel:ntk"})
        self.assertIsInstance(rf.columns["learner"][0], str)
        self.assertEqual(rf.columns["n"].dtype, np.int64)
        r = rf.rows()[0]
        self.assertEqual((r["d"], r["n"], r["seed"], r["input"]), (8, 64, 0, "x"))

    def test_config_falls_back_to_attributes(self):
        p = self.small(toml=False, degrees=(3,), coefficients=(2.0,))
        rf = load(p)
        self.assertEqual(rf.config_source, "attributes")
        self.assertEqual(rf.degrees(), [3])
        self.assertEqual(rf.coefficients(), [2.0])
        self.assertEqual(rf.target()["data.input"], "sphere")

    def test_variable_length_strings_decode_too(self):
        p = self.small()
        with h5py.File(p, "a") as f:
            f.attrs["status"] = "complete"  # h5py writes a variable-length str
            del f["results/learner"]
            f["results"].create_dataset("learner", data=["kernel:nngp"] * 6,
                                        dtype=h5py.string_dtype())
        rf = load(p)
        self.assertEqual(rf.status, "complete")
        self.assertEqual(list(rf.columns["learner"]), ["kernel:nngp"] * 6)

    def test_as_str(self):
        self.assertEqual(as_str(b"neurep\x00\x00"), "neurep")
        self.assertEqual(as_str(np.bytes_(b"abc")), "abc")
        self.assertEqual(as_str(np.array([b"xy"])), "xy")
        self.assertEqual(as_str("s"), "s")


class TestClearErrors(Tmp):
    def assertError(self, path, *fragments):
        with self.assertRaises(NeurepError) as cm:
            load(path)
        msg = str(cm.exception)
        self.assertIn(path, msg)
        for frag in fragments:
            self.assertIn(frag, msg)
        self.assertNotIn("\n", msg)

    def test_missing_file(self):
        self.assertError(self.path("nope.h5"), "no such file")

    def test_not_hdf5(self):
        p = self.path("text.h5")
        with open(p, "w") as fh:
            fh.write("d,n,test_error\n8,64,0.5\n")
        self.assertError(p, "not an HDF5 file")

    def test_empty_file(self):
        p = self.path("empty.h5")
        open(p, "w").close()
        self.assertError(p, "not an HDF5 file")

    def test_hdf5_but_not_neurep(self):
        p = self.path("other.h5")
        with h5py.File(p, "w") as f:
            f["x"] = np.arange(3)
        self.assertError(p, "not a neurep results file", "software")

    def test_other_software(self):
        p = self.small(software="otherprog")
        self.assertError(p, "not a neurep results file", "otherprog")

    def test_missing_results(self):
        p = self.small(results=False)
        self.assertError(p, "/results")

    def test_missing_column(self):
        p = self.small()
        with h5py.File(p, "a") as f:
            del f["results/test_error"]
        self.assertError(p, "test_error")


class TestWarnings(Tmp):
    def test_unfinished_run_warns_and_reads(self):
        for status in ("running", "interrupted", "failed"):
            p = self.small("r_%s.h5" % status, status=status)
            with self.assertWarns(NeurepWarning) as cm:
                rf = load(p)
            self.assertIn(status, str(cm.warning))
            self.assertIn("6 row", str(cm.warning))
            self.assertEqual(rf.nrows, 6)

    def test_missing_status_warns(self):
        p = self.small(drop=("status",))
        with self.assertWarns(NeurepWarning):
            load(p)

    def test_empty_results_loads(self):
        p = self.path("empty_rows.h5")
        crafted.write(p, [], status="running")
        with self.assertWarns(NeurepWarning):
            rf = load(p)
        self.assertEqual(rf.nrows, 0)

    def test_unequal_lengths_truncate_with_warning(self):
        p = self.small()
        with h5py.File(p, "a") as f:
            f["results/test_error"].resize((4,))
        with self.assertWarns(NeurepWarning) as cm:
            rf = load(p)
        self.assertIn("unequal", str(cm.warning))
        self.assertEqual(rf.nrows, 4)
        self.assertEqual(len(rf.columns["learner"]), 4)

    def test_complete_file_is_silent(self):
        p = self.small()
        with warnings.catch_warnings():
            warnings.simplefilter("error", NeurepWarning)
            load(p)


class TestMixedTargets(Tmp):
    def test_same_target_combines(self):
        a = self.small("a.h5", dim=8)
        b = self.path("b.h5")   # d differs: that is the point of a campaign
        crafted.write(b, [crafted.row(16, n, s, 1.0 / n) for n in (64, 128) for s in range(3)],
                      dim=16)
        with warnings.catch_warnings():
            warnings.simplefilter("error", NeurepWarning)
            t = load_many([a, b])
        self.assertEqual(len(t), 12)
        self.assertEqual(sorted(set(t.columns["file"])), [0, 1])

    def test_each_target_key_is_checked(self):
        cases = {"data.degrees": dict(degrees=(3,)),
                 "data.coefficients": dict(coefficients=(2.0,)),
                 "data.input": dict(input="gaussian"),
                 "data.normalize": dict(normalize=False),
                 "data.noise": dict(noise=0.1)}
        a = self.small("a.h5")
        for key, kw in cases.items():
            b = self.small("b_%s.h5" % key, **kw)
            with self.assertRaises(NeurepError) as cm:
                load_many([a, b])
            msg = str(cm.exception)
            self.assertIn(key, msg)
            self.assertIn(a, msg)
            self.assertIn(b, msg)
            self.assertIn("--allow-mixed", msg)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", NeurepWarning)
                t = load_many([a, b], allow_mixed=True)
            self.assertTrue(any(key in str(w.message) for w in caught))
            self.assertEqual(len(t), 12)

    def test_extra_columns_carry_through(self):
        a = self.path("a.h5")
        crafted.write(a, [crafted.row(8, 64, 0, 0.5, m=512, learning_rate=0.1,
                                      learner="taylor:order=2", ridge=math.nan)])
        b = self.small("b.h5")
        t = load_many([a, b])
        self.assertEqual(t.columns["m"][0], 512)
        self.assertTrue(math.isnan(t.columns["m"][1]))

    def test_duplicates_warn(self):
        a = self.small("a.h5")
        b = self.small("b.h5")
        with self.assertWarns(NeurepWarning) as cm:
            load_many([a, b])
        self.assertIn("repeat", str(cm.warning))

    def test_rows_of_different_targets_are_not_duplicates(self):
        # campaign paper-2 part 5a: the NTK on x with target (b.x)^3 and (b.x)^4 + noise, one
        # part, combined with allow_mixed; the same (learner, input, d, n, seed) is no repeat
        a, b = self.path("a.h5"), self.path("b.h5")
        crafted.write(a, [crafted.row(8, 64, 0, 0.5)], degrees=(3,))
        crafted.write(b, [crafted.row(8, 64, 0, 0.5)], noise=0.5)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", NeurepWarning)
            load_many([a, b], allow_mixed=True)
        self.assertFalse([w for w in caught if "repeat" in str(w.message)],
                         [str(w.message) for w in caught])

    def test_rows_of_different_learner_settings_are_not_duplicates(self):
        # campaign paper-2 part 5a: the NTK on x with and without input bias (both
        # labelled kernel:ntk) on one target; the same (d, n, seed) is no repeat
        a, b = self.path("a.h5"), self.path("b.h5")
        crafted.write(a, [crafted.row(8, 64, 0, 0.5)], degrees=(3,))
        crafted.write(b, [crafted.row(8, 64, 0, 0.5)], degrees=(3,),
                      toml=crafted.config_toml(degrees=(3,)).replace("[learner]\n", "[learner]\ninput_bias = false\n"))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", NeurepWarning)
            load_many([a, b])
        self.assertFalse([w for w in caught if "repeat" in str(w.message)],
                         [str(w.message) for w in caught])

    def test_refit_row_is_not_a_duplicate(self):
        # learner.refit: the chosen candidate trained again on all n is a row beside that candidate.
        a = self.path("a.h5")
        crafted.write(a, [crafted.row(8, 64, 0, 0.5, learner="taylor:order=2", ridge=0.0, candidate=1, refit=0),
                          crafted.row(8, 64, 0, 0.4, learner="taylor:order=2", ridge=0.0, candidate=1, refit=1)])
        with warnings.catch_warnings():
            warnings.simplefilter("error", NeurepWarning)
            t = load_many([a])
        self.assertEqual(list(t.columns["refit"]), [0, 1])


if __name__ == "__main__":
    unittest.main()
