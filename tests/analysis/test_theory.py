"""Theory exponents and the exact harmonic shares of Var f*."""

import math
import unittest
from fractions import Fraction

import numpy as np

from neurep_analysis.theory import harmonic_shares, plateau_levels, theory_exponent


class TestExponents(unittest.TestCase):
    def test_table(self):
        h = "h:step:D=2*d^2:zca"
        cases = [
            ("kernel:ntk", "x", 4, 4), ("kernel:ntk-full", "x", 3, 3),
            ("kernel:nngp", h, 4, 4), ("kernel:ntk", "h:relu:inf", 4, 4),
            ("kernel:empirical-ntk", "x", 4, 4),
            ("taylor:order=2", "x", 4, 3), ("taylor:order=2", "x", 5, 4),
            ("taylor:order=2", h, 4, 2), ("taylor:order=2", h, 5, 3),
            ("taylor:order=2", h, 3, 2),
            ("taylor:order=1", "x", 4, 4), ("taylor:order=1", h, 4, 4),
            ("taylor:order=full", "x", 4, None), ("kernel:linear", "x", 4, None),
            ("kernel:linear", "x", 1, 1), ("taylor:order=2", "x", 1, 1),
        ]
        for learner, inp, p, want in cases:
            got, note = theory_exponent(learner, inp, p)
            self.assertEqual(got, want, (learner, inp, p, note))
            self.assertTrue(note)


def share4_closed_form(d):
    """Degree-4 share of t^4 on the sphere, by hand (see analysis/README.md).

    Var t^4 = E t^8 - (E t^4)^2; degree-2 part along t^2 - 1 with
    ||t^2-1||^2 = 2(d-1)/(d+2), Cov(t^4, t^2-1) = 12 d (d-1)/((d+2)(d+4)).
    """
    d = Fraction(d)
    e4 = 3 * d / (d + 2)
    e8 = 105 * d ** 3 / ((d + 2) * (d + 4) * (d + 6))
    var = e8 - e4 ** 2
    cov = 12 * d * (d - 1) / ((d + 2) * (d + 4))
    norm2 = 2 * (d - 1) / (d + 2)
    return 1 - cov ** 2 / norm2 / var


def gegenbauer(k, lam, s):
    """C_k^lam(s) by the three-term recurrence (independent of the module)."""
    c0, c1 = np.ones_like(s), 2 * lam * s
    if k == 0:
        return c0
    for j in range(2, k + 1):
        c0, c1 = c1, (2 * (j + lam - 1) * s * c1 - (j + 2 * lam - 2) * c0) / j
    return c1


def sphere(n, d, rng):
    x = rng.normal(size=(n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True) * math.sqrt(d)


def mc_shares(f_of_x, d, kmax, n=400_000, seed=0, betas=None):
    """Monte Carlo shares: project normalised f onto zonal Gegenbauer harmonics.

    For several directions (betas) the degree-k component is the projection
    onto span{C_k(beta_s.x/sqrt d)}, found by least squares within degree k.
    """
    rng = np.random.default_rng(seed)
    x = sphere(n, d, rng)
    f = f_of_x(x)
    f = (f - f.mean()) / f.std()
    lam = (d - 2) / 2
    betas = np.eye(d)[:1] if betas is None else betas
    out = {}
    for k in range(1, kmax + 1):
        B = np.stack([gegenbauer(k, lam, x @ b / math.sqrt(d)) for b in betas], axis=1)
        coef, *_ = np.linalg.lstsq(B, f, rcond=None)
        out[k] = float(np.mean((B @ coef) ** 2))
    return out


class TestShares(unittest.TestCase):
    def test_limit_is_hermite(self):
        s = harmonic_shares([4], d=None, exact=True)
        self.assertEqual(s[4], Fraction(1, 4))    # He4: 24 / Var t^4 = 24 / 96
        self.assertEqual(s[2], Fraction(3, 4))    # 6 He2: 36 * 2 / 96
        self.assertEqual(s[1], 0)
        self.assertEqual(harmonic_shares([4], d=math.inf), harmonic_shares([4], d=None))
        s3 = harmonic_shares([3], d=None, exact=True)   # t^3 = He3 + 3 He1
        self.assertEqual((s3[1], s3[3]), (Fraction(9, 15), Fraction(6, 15)))
        # Gaussian inputs use Hermite at every d
        self.assertEqual(harmonic_shares([4], d=8, input="gaussian"), harmonic_shares([4]))

    def test_matches_closed_form_for_p4(self):
        for d in (3, 4, 8, 16, 100):
            s = harmonic_shares([4], d=d, exact=True)
            self.assertEqual(s[4], share4_closed_form(d))
            # ... which simplifies to d(d+1) / ((d+4)(4d+9)) -> 1/4
            self.assertEqual(s[4], Fraction(d * (d + 1), (d + 4) * (4 * d + 9)))
            self.assertEqual(sum(s.values()), 1)
        self.assertEqual(harmonic_shares([4], d=8, exact=True)[4], Fraction(6, 41))
        self.assertEqual(harmonic_shares([4], d=16, exact=True)[4], Fraction(68, 365))
        vals = [harmonic_shares([4], d=d)[4] for d in (8, 16, 64, 256, 4096)]
        self.assertTrue(all(a < b for a, b in zip(vals, vals[1:])))
        self.assertAlmostEqual(vals[-1], 0.25, places=3)

    def test_monte_carlo_single_term(self):
        for p, d in ((4, 8), (4, 16), (3, 5), (5, 6)):
            exact = harmonic_shares([p], d=d)
            mc = mc_shares(lambda x: x[:, 0] ** p, d, p, seed=p * 100 + d)
            for k in range(1, p + 1):
                self.assertAlmostEqual(mc[k], exact[k], delta=0.01, msg=(p, d, k))

    def test_monte_carlo_two_orthogonal_terms(self):
        d = 6
        exact = harmonic_shares([4, 2], [1.0, 2.0], d=d)
        mc = mc_shares(lambda x: x[:, 0] ** 4 + 2.0 * x[:, 1] ** 2, d, 4,
                       betas=np.eye(d)[:2], seed=7)
        for k in range(1, 5):
            self.assertAlmostEqual(mc[k], exact[k], delta=0.01, msg=k)
        exact = harmonic_shares([4, 4], [1.0, 1.0], d=d)
        mc = mc_shares(lambda x: x[:, 0] ** 4 + x[:, 1] ** 4, d, 4,
                       betas=np.eye(d)[:2], seed=8)
        for k in range(1, 5):
            self.assertAlmostEqual(mc[k], exact[k], delta=0.01, msg=k)

    def test_plateau_levels(self):
        lv = plateau_levels([4], d=16)
        self.assertEqual(list(lv), [4])
        self.assertAlmostEqual(lv[4], 68 / 365)
        lv = plateau_levels([5], d=None)
        self.assertEqual(sorted(lv), [3, 5])
        self.assertGreater(lv[3], lv[5])


if __name__ == "__main__":
    unittest.main()
