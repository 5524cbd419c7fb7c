"""Theory learning curves: Gegenbauer eigenvalues and the deterministic equivalent.

Checked against independent computations: adaptive quadrature of the
projection (scipy.integrate.quad with scipy's Gegenbauer polynomials), the
exact spectrum of the linear and quadratic kernels, a Monte Carlo estimate of
the infinite-width representation kernel, and kernel ridge regression with
numpy at small d and n, averaged over seeds.
"""

import math
import unittest

import numpy as np
from scipy import integrate
from scipy.special import eval_gegenbauer

from neurep_analysis.kernel_theory import (Representation, Setting, Spectrum, effective_ridge,
                                    kernel_function, legendre_q, multiplicity,
                                    noise_in_units, predicted_error, target_energies)
from neurep_analysis.resultfile import NeurepError
from neurep_analysis.theory import harmonic_shares


def sphere(n, d, rng):
    x = rng.normal(size=(n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True) * math.sqrt(d)


def projected(h, d, k):
    """mu_k = E[h(t) Q_k(t)] by adaptive quadrature, independent of the module."""
    lam = (d - 2) / 2
    a = (d - 3) / 2
    num = integrate.quad(lambda t: h(t) * eval_gegenbauer(k, lam, t) / eval_gegenbauer(k, lam, 1.0)
                         * (1 - t * t) ** a, -1, 1, limit=400, epsabs=1e-15, epsrel=1e-13)[0]
    den = integrate.quad(lambda t: (1 - t * t) ** a, -1, 1, epsabs=1e-15, epsrel=1e-13)[0]
    return num / den


class TestHarmonics(unittest.TestCase):
    def test_multiplicity(self):
        # N(3, k) = 2k + 1, N(2, k) = 2, N(d, 1) = d, N(d, 2) = d(d+1)/2 - 1
        for k in range(6):
            self.assertAlmostEqual(multiplicity(3, k), 2 * k + 1)
            self.assertAlmostEqual(multiplicity(2, k), 1 if k == 0 else 2)
        for d in (4, 8, 16):
            self.assertAlmostEqual(multiplicity(d, 1), d)
            self.assertAlmostEqual(multiplicity(d, 2), d * (d + 1) / 2 - 1)
            # sum_{j<=k} N(d, j) = dim of polynomials of degree <= k modulo |x|^2
            self.assertAlmostEqual(multiplicity(d, 3) + multiplicity(d, 1),
                                   math.comb(d + 2, 3), places=6)

    def test_legendre_q_is_normalised_gegenbauer(self):
        t = np.linspace(-1, 1, 11)
        for d in (3, 5, 12):
            q = legendre_q(6, d, t)
            for k in range(7):
                want = eval_gegenbauer(k, (d - 2) / 2, t) / eval_gegenbauer(k, (d - 2) / 2, 1.0)
                np.testing.assert_allclose(q[k], want, rtol=1e-12, atol=1e-13)


class TestEigenvalues(unittest.TestCase):
    def test_against_adaptive_quadrature(self):
        for kernel in ("ntk", "nngp", "ntk-full"):
            for d, bias in ((5, True), (8, True), (8, False), (12, True)):
                h = kernel_function(kernel, d, bias)
                sp = Spectrum(h, d)
                for k in range(7):
                    want = projected(h, d, k)
                    self.assertAlmostEqual(sp.mu[k], want, delta=1e-9 * sp.trace + 1e-7 * abs(want),
                                           msg=(kernel, d, bias, k))

    def test_trace_and_mercer_expansion(self):
        for d in (4, 8, 16):
            h = kernel_function("ntk", d, True)
            sp = Spectrum(h, d)
            self.assertAlmostEqual(float(np.dot(sp.mult, sp.mu)) + sp.rest, h(np.asarray(1.0)), places=9)
            self.assertLess(sp.rest, 0.05 * sp.trace)
            # h(t) = sum_k N_k mu_k Q_k(t) away from t = 1, where the series converges fast
            t = np.array([-0.9, -0.3, 0.0, 0.4, 0.7])
            series = (sp.mult * sp.mu) @ legendre_q(sp.degrees, d, t)
            np.testing.assert_allclose(series, h(t), atol=1e-3 * sp.trace)

    def test_exact_spectra(self):
        d = 7
        # linear kernel d t: only degree 1, mu_1 = d / N(d, 1) = 1
        sp = Spectrum(kernel_function("linear", d), d)
        self.assertAlmostEqual(sp.mu[1], 1.0, places=12)
        self.assertLess(abs(sp.mu[0]) + np.abs(sp.mu[2:]).sum(), 1e-12)
        # with the bias: d t + 1 adds mu_0 = 1
        sp = Spectrum(kernel_function("linear", d, True), d)
        self.assertAlmostEqual(sp.mu[0], 1.0, places=12)
        # the NTK on raw x, h = d t kappa0(t) = d t / 2 + (d/pi) t arcsin t: no odd degree above 1
        sp = Spectrum(kernel_function("ntk", d), d)
        self.assertAlmostEqual(sp.mu[1], 0.5, places=12)   # the d t / 2 part
        self.assertLess(np.abs(sp.mu[3::2]).max(), 1e-13)
        self.assertGreater(sp.mu[4], 1e-4)

    def test_infinite_representation_kernel(self):
        # K_h(t) of the relu/step representation with bias against Monte Carlo of E phi(u) phi(u')
        rng = np.random.default_rng(3)
        for act, phi in (("relu", lambda u: np.maximum(u, 0)), ("step", lambda u: (u > 0) * 1.0)):
            rep = Representation(act, bias=True)
            for t in (-0.5, 0.2, 0.9):
                # (u, u') centred Gaussian with Var 2 and Cov t + 1
                cov = np.array([[2.0, t + 1], [t + 1, 2.0]])
                z = rng.multivariate_normal([0, 0], cov, size=400_000)
                mc = np.mean(phi(z[:, 0]) * phi(z[:, 1]))
                self.assertAlmostEqual(float(rep.uncentred(t)), mc, delta=0.01, msg=(act, t))
        # quadratic and cubic: within 5 standard errors (heavier tails than relu/step)
        for act, phi in (("quadratic", lambda u: u ** 2), ("cubic", lambda u: u ** 3)):
            rep = Representation(act, bias=True)
            for t in (-0.5, 0.2, 0.9):
                cov = np.array([[2.0, t + 1], [t + 1, 2.0]])
                z = rng.multivariate_normal([0, 0], cov, size=400_000)
                p = phi(z[:, 0]) * phi(z[:, 1])
                se = p.std() / np.sqrt(len(p))
                self.assertLess(abs(float(rep.uncentred(t)) - p.mean()), 5 * se, msg=(act, t))
                self.assertLess(se, 0.05 * abs(float(rep.uncentred(t))), msg=(act, t))
        # cubic features span degree <= 3 only: no eigenvalue above degree 3
        sp = Spectrum(kernel_function("linear", 8, False, Representation("cubic")), 8)
        self.assertGreater(sp.mu[3], 1e-3)
        self.assertLess(np.abs(sp.mu[4:]).max(), 1e-12)
        # centring removes exactly the degree-0 eigenvalue
        d = 8
        a = Spectrum(kernel_function("linear", d, False, Representation("relu")), d)
        b = Spectrum(kernel_function("linear", d, False, Representation("relu", center=True)), d)
        self.assertAlmostEqual(b.mu[0], 0.0, places=10)
        np.testing.assert_allclose(a.mu[1:8], b.mu[1:8], rtol=1e-9)
        # depth 2 differs from depth 1
        c = Spectrum(kernel_function("linear", d, False, Representation("relu", depth=2)), d)
        self.assertGreater(abs(c.mu[2] - a.mu[2]), 1e-6)

    def test_bad_input(self):
        with self.assertRaises(NeurepError):
            kernel_function("rbf", 8)
        with self.assertRaises(NeurepError):
            kernel_function("ntk", 1)
        with self.assertRaises(NeurepError):
            Representation("tanh")


class TestEnergies(unittest.TestCase):
    def test_shares_and_mean(self):
        v = target_energies([4], d=16)
        self.assertAlmostEqual(v[4], 68 / 365)
        self.assertAlmostEqual(v[2], 1 - 68 / 365)
        self.assertEqual(v[0], 0.0)
        # unnormalised: the mean E t^4 = 3d/(d+2) is degree 0, in units of Var t^4
        d = 8
        e4, e8 = 3 * d / (d + 2), 105 * d ** 3 / ((d + 2) * (d + 4) * (d + 6))
        v = target_energies([4], d=d, normalize=False)
        self.assertAlmostEqual(v[0], e4 ** 2 / (e8 - e4 ** 2), places=12)
        self.assertAlmostEqual(noise_in_units(0.3, [4], [1.0], d, False), 0.3 / math.sqrt(e8 - e4 ** 2))
        self.assertEqual(noise_in_units(0.3, [4], [1.0], d, True), 0.3)
        with self.assertRaises(NeurepError):
            target_energies([4], d=8, input="gaussian")


class TestRisk(unittest.TestCase):
    def test_limits_and_effective_ridge(self):
        st = Setting("ntk", 8, True, degrees=(4,))
        sp = st.spectrum
        # kappa solves its equation
        for n, r in ((100, 0.0), (1000, 1e-4), (5000, 1e-2)):
            kap = effective_ridge(sp, n, r)
            lhs = float(np.dot(sp.mult, sp.mu / (sp.mu + kap))) + (sp.rest + n * r * sp.trace) / kap
            self.assertAlmostEqual(lhs / n, 1.0, places=9)
        # the error falls with n and tends to 0 without ridge; a large ridge stalls it
        errs = [st.error(n) for n in (16, 64, 256, 1024, 4096)]
        self.assertTrue(all(a > b for a, b in zip(errs, errs[1:])), errs)
        self.assertLess(errs[-1], 0.02)
        self.assertGreater(st.error(4096, 1.0), 0.9)
        # noise adds variance: more error, same bias
        noisy = Setting("ntk", 8, True, degrees=(4,), noise=0.5)
        a, b = predicted_error(sp, st.energies, 500), predicted_error(sp, noisy.energies, 500, noise=0.5)
        self.assertGreater(b["error"], a["error"])
        self.assertAlmostEqual(a["bias"], b["bias"])

    def test_against_kernel_ridge_regression(self):
        """The deterministic equivalent against numpy KRR at d = 5, averaged over 16 seeds.

        Measured when written (16 seeds): ratios 0.96-1.04 at n = 200 and 800.
        Tolerance 20 %: the deterministic equivalent is exact only as n, d -> inf.
        """
        d, nt, seeds = 5, 1000, 16
        e4, e8 = 3 * d / (d + 2), 105 * d ** 3 / ((d + 2) * (d + 4) * (d + 6))
        sd = math.sqrt(e8 - e4 ** 2)
        h = kernel_function("ntk", d, True)
        for ridge, noise in ((1e-3, 0.0), (1e-2, 0.5)):
            st = Setting("ntk", d, True, degrees=(4,), noise=noise)
            for n in (200, 800):
                errs = []
                for s in range(seeds):
                    rng = np.random.default_rng(1000 * n + s)
                    x, xt = sphere(n, d, rng), sphere(nt, d, rng)
                    b = rng.normal(size=d)
                    b /= np.linalg.norm(b)

                    def f(z):
                        return ((z @ b) ** 4 - e4) / sd
                    y = f(x) + noise * rng.normal(size=n)
                    k = h(x @ x.T / d)
                    alpha = np.linalg.solve(k + n * ridge * h(np.asarray(1.0)) * np.eye(n), y)
                    errs.append(np.mean((h(xt @ x.T / d) @ alpha - f(xt)) ** 2))
                ratio = st.error(n, ridge) / np.mean(errs)
                self.assertLess(abs(ratio - 1), 0.2, msg=(ridge, noise, n, ratio))

    def test_shares_agree_with_theory(self):
        # the energies are the harmonic shares (a single source of truth)
        for d in (6, 12):
            v = target_energies([4, 2], [1.0, 0.5], d=d)
            s = harmonic_shares([4, 2], [1.0, 0.5], d=d)
            for k in s:
                self.assertAlmostEqual(v[k], s[k])


if __name__ == "__main__":
    unittest.main()
