"""Theory learning curves of kernel ridge regression on the sphere.

The deterministic-equivalent ("omniscient") risk of kernel ridge regression
with a dot-product kernel, for inputs uniform on the sphere of radius sqrt(d)
(Canatar, Bordelon & Pehlevan 2021; Simon, Dickens, Karkada & DeWeese 2021;
Misiakiewicz 2022).

Eigen-decomposition.  A kernel k(x, x') = h(t), t = x.x'/d, has for every
harmonic degree k one eigenvalue mu_k of multiplicity
N(d, k) = (2k + d - 2)/k * C(k + d - 3, k - 1) (N(d, 0) = 1):
    mu_k = E_t[h(t) Q_k(t)],   t with density prop. to (1 - t^2)^((d-3)/2),
Q_k the Gegenbauer polynomial normalised to Q_k(1) = 1 (so E Q_k^2 = 1/N_k
and h(1) = sum_k N_k mu_k, the trace).  The expectation is a Gauss-Jacobi
quadrature with alpha = beta = (d-3)/2, whose weight vanishes at t = +-1
where arccos has its kink.

neurep's kernels (src/core/kernels.cpp), with u = x or u = (x, 1) (learner.input_bias):
with g = u.u' and a = |u|^2 (the same for every point on the sphere),
    ntk:      g kappa0(g/a)
    ntk-full: a (s kappa0(s) + kappa1(s)),  s = g/a
    nngp:     a kappa1(s)
    linear:   g
and g = d t (+ 1 with the bias).  On the infinite-width representation
(h:<activation>:inf[:center], src/representation/representation_kernel.cpp) g is K_h(t)
(centred: minus its sphere mean) plus 1 with the bias.

Risk.  With neurep's ridge convention, (K + n r mean(diag K) I) alpha = y,
the effective regularisation kappa > 0 solves
    n = sum_k N_k mu_k / (mu_k + kappa) + n r h(1) / kappa,
L_k = mu_k / (mu_k + kappa) is the learnability of degree k, and the test
error against the noiseless target (neurep's test_error, divided by Var f*) is
    E(n) = E0 * (sum_k (1 - L_k)^2 v_k + sigma^2) - sigma^2,
    E0 = n / (n - sum_k N_k L_k^2),
with v_k the share of Var f* in degree k (theory.harmonic_shares; the mean
mean^2/Var f* in degree 0 when data.normalize = false) and sigma^2 the label
noise variance in the same units.  Degrees above the computed ones enter
through the remaining trace h(1) - sum_k N_k mu_k: their mu_k << kappa, so
they add trace_rest/kappa to the first sum and nothing else.
"""

import math
from fractions import Fraction
from functools import lru_cache

import numpy as np

from .resultfile import NeurepError

KERNELS = ("ntk", "ntk-full", "nngp", "linear")
ACTIVATIONS = ("step", "relu", "quadratic", "cubic", "erf")


# ---------------------------------------------------------------------------
# kernel functions of t = x.x'/d


def kappa0(t):
    t = np.clip(t, -1.0, 1.0)
    return (math.pi - np.arccos(t)) / math.pi


def kappa1(t):
    t = np.clip(t, -1.0, 1.0)
    return (np.sqrt(np.maximum(0.0, 1.0 - t * t)) + t * (math.pi - np.arccos(t))) / math.pi


def _gaussian_product(activation, s, a, c):
    """E[phi(u) phi(u')] for a centred Gaussian pair, Var u = a, Var u' = c, Cov = s
    (src/representation/representation_kernel.cpp, gaussian_product_expectation)."""
    nn = np.sqrt(a * c)
    rho = np.clip(s / nn, -1.0, 1.0)
    if activation == "step":
        return kappa0(rho) / 2.0
    if activation == "relu":
        return nn * kappa1(rho) / 2.0
    if activation == "quadratic":
        return a * c + 2.0 * s * s
    if activation == "cubic":
        return 9.0 * a * c * s + 6.0 * s ** 3
    if activation == "erf":
        return (2.0 / math.pi) * np.arcsin(2.0 * s / np.sqrt((1.0 + 2.0 * a) * (1.0 + 2.0 * c)))
    raise NeurepError("representation activation %r has no closed-form infinite-width kernel "
                      "(accepted: %s)" % (activation, ", ".join(ACTIVATIONS)))


class Representation:
    """The infinite-width representation kernel K_h as a function of t.

    Layer 1: u = v.x + b with v ~ N(0, I/d), b ~ N(0, beta): Var u = 1 + beta,
    Cov = t + beta on the sphere; layer l+1 sees Cov = K_l + beta.  `center`
    subtracts the sphere mean of K_h (its degree-0 eigenvalue).
    """

    def __init__(self, activation, bias=True, depth=1, center=False):
        if activation not in ACTIVATIONS:
            _gaussian_product(activation, 0.0, 1.0, 1.0)  # raises the named error
        if int(depth) < 1:
            raise NeurepError("representation.depth: %r must be at least 1" % (depth,))
        self.activation, self.beta, self.depth, self.center = activation, 1.0 if bias else 0.0, int(depth), center

    def uncentred(self, t):
        t = np.asarray(t, dtype=float)
        cov, var = t + self.beta, 1.0 + self.beta
        for _ in range(self.depth):
            k = _gaussian_product(self.activation, cov, var, var)
            kd = _gaussian_product(self.activation, np.asarray(var), var, var)
            cov, var = k + self.beta, float(kd) + self.beta
        return k

    def __call__(self, t, mean=0.0):
        return self.uncentred(t) - mean


def kernel_function(kernel, d, input_bias=False, representation=None):
    """h(t) of neurep's learner kernel on the sphere of radius sqrt(d), vectorised.

    representation: None (raw x) or a Representation (infinite width).
    """
    if kernel not in KERNELS:
        raise NeurepError("--kernel: unknown kernel %r; accepted: %s" % (kernel, ", ".join(KERNELS)))
    d = int(d)
    if d < 2:
        raise NeurepError("--d: %d must be at least 2 on the sphere" % d)
    bias = 1.0 if input_bias else 0.0
    if representation is None:
        def inner(t):
            return d * np.asarray(t, dtype=float) + bias
        diag = d + bias
    else:
        mean = _sphere_mean(representation, d) if representation.center else 0.0

        def inner(t):
            return representation(t, mean) + bias
        diag = float(representation(np.asarray(1.0), mean)) + bias

    def h(t):
        g = inner(t)
        if kernel == "linear":
            return g
        s = g / diag
        if kernel == "ntk":
            return g * kappa0(s)
        if kernel == "ntk-full":
            return diag * (s * kappa0(s) + kappa1(s))
        return diag * kappa1(s)
    return h


def _sphere_mean(rep, d):
    t, w = _nodes(d, 2000)
    return float(np.dot(w, rep.uncentred(t)))


# ---------------------------------------------------------------------------
# harmonic analysis on the sphere


def multiplicity(d, k):
    """N(d, k), the dimension of the degree-k spherical harmonics in R^d (float)."""
    if k == 0:
        return 1.0
    if d == 2:
        return 2.0
    return (2 * k + d - 2) / k * math.exp(math.lgamma(k + d - 2) - math.lgamma(k) - math.lgamma(d - 1))


def legendre_q(kmax, d, t):
    """Q_0..Q_kmax at t: Gegenbauer C_k^((d-2)/2) normalised to Q_k(1) = 1.

    Recurrence (k + d - 2) Q_{k+1} = (2k + d - 2) t Q_k - k Q_{k-1}, stable
    on [-1, 1].  Returns an array (kmax + 1, len(t)).
    """
    t = np.asarray(t, dtype=float)
    q = np.empty((kmax + 1,) + t.shape)
    q[0] = 1.0
    if kmax >= 1:
        q[1] = t
    for k in range(1, kmax):
        q[k + 1] = ((2 * k + d - 2) * t * q[k] - k * q[k - 1]) / (k + d - 2)
    return q


@lru_cache(maxsize=64)
def _nodes(d, nodes):
    """Gauss-Jacobi nodes and weights for the law of t (weights sum to 1)."""
    from scipy.special import roots_jacobi
    a = (d - 3) / 2.0
    t, w = roots_jacobi(nodes, a, a)
    return t, w / w.sum()


class Spectrum:
    """Eigenvalues mu_k (k = 0..K) and multiplicities of a dot-product kernel.

    Degrees are computed up to K, the first degree above `kmin` after which
    two successive eigenvalues are below rel_tol * h(1) (quadrature noise
    lies near 1e-16 h(1)), at most kmax.  `rest` = h(1) - sum_k N_k mu_k is
    the trace of the degrees above K.
    """

    def __init__(self, h, d, kmin=8, kmax=200, nodes=2000, rel_tol=1e-13):
        self.d = int(d)
        t, w = _nodes(self.d, nodes)
        ht = h(t) * w
        self.trace = float(h(np.asarray(1.0)))
        q = legendre_q(kmax, self.d, t)
        mu = q @ ht
        small = np.abs(mu) < rel_tol * abs(self.trace)
        K = kmax
        for k in range(max(kmin, 1), kmax):
            if small[k] and small[k + 1]:
                K = k - 1
                break
        mu = mu[:K + 1]
        # Quadrature noise can leave a mu_k of a vanishing (e.g. odd) degree
        # slightly negative; a genuinely negative eigenvalue is an error.
        if np.any(mu < -1e-10 * abs(self.trace)):
            raise NeurepError("kernel is not positive definite on the sphere (mu_k = %g at k = %d)"
                              % (mu.min(), int(np.argmin(mu))))
        self.mu = np.maximum(mu, 0.0)
        self.mult = np.array([multiplicity(self.d, k) for k in range(K + 1)])
        self.rest = max(self.trace - float(np.dot(self.mult, self.mu)), 0.0)

    @property
    def degrees(self):
        return len(self.mu) - 1


def target_energies(degrees, coefficients=None, d=None, input="sphere", normalize=True):
    """Share of Var f* in each harmonic degree 0..max(degrees) (index = degree).

    The degree-0 entry is mean^2 / Var f* when the target is not normalised
    (the kernel must learn the constant), else 0.
    """
    from .theory import harmonic_shares, _moments
    if input != "sphere":
        raise NeurepError("data.input = %r: the learning curves are for inputs on the sphere" % input)
    degrees = [int(p) for p in degrees]
    if coefficients is None:
        coefficients = [1.0] * len(degrees)
    shares = harmonic_shares(degrees, coefficients, int(d), "sphere", exact=True)
    v = np.zeros(max(degrees) + 1)
    for k, s in shares.items():
        v[k] = float(s)
    if not normalize:
        mom = _moments(int(d), max(degrees))
        mean = sum(Fraction(a).limit_denominator(10 ** 12) * mom[p] for a, p in zip(coefficients, degrees))
        var = _raw_variance(degrees, coefficients, int(d))
        v[0] = float(mean * mean / var)
    return v


def _raw_variance(degrees, coefficients, d):
    """Var f* of the unnormalised target, exactly (as src/data/data.cpp: projection moments)."""
    # E (b_s.x)^p (b_t.x)^q for orthonormal b_s, b_t on the sphere of radius sqrt(d):
    # d^{K/2} E prod u_i^{2a_i} with u uniform on the unit sphere.
    def moment(exps):
        if any(e % 2 for e in exps):
            return Fraction(0)
        v, total = Fraction(1), 0
        for e in exps:
            for j in range(1, e, 2):
                v *= j
            total += e
        for i in range(total // 2):
            v *= Fraction(d, d + 2 * i)
        return v
    a = [Fraction(c).limit_denominator(10 ** 12) for c in coefficients]
    r = len(degrees)
    m1 = sum(a[s] * moment([degrees[s]]) for s in range(r))
    m2 = Fraction(0)
    for s in range(r):
        for t in range(r):
            e = [0] * r
            e[s] += degrees[s]
            e[t] += degrees[t]
            m2 += a[s] * a[t] * moment(e)
    return m2 - m1 * m1


# ---------------------------------------------------------------------------
# the deterministic equivalent


def effective_ridge(spectrum, n, ridge=0.0):
    """kappa > 0 solving n = sum_k N_k mu_k/(mu_k + kappa) + rest/kappa + n r h(1)/kappa."""
    from scipy.optimize import brentq
    mu, N = spectrum.mu, spectrum.mult
    delta = n * ridge * spectrum.trace
    pos = mu > 0

    def excess(logk):
        kap = math.exp(logk)
        return float(np.sum(N[pos] * mu[pos] / (mu[pos] + kap))) + (spectrum.rest + delta) / kap - n

    hi = math.log(max(spectrum.trace, 1e-300)) + 5.0
    lo = hi - 10.0
    while excess(lo) < 0:
        lo -= 10.0
        if lo < -2000:
            raise NeurepError("n = %d exceeds the kernel's effective rank: no kappa" % n)
    while excess(hi) > 0:
        hi += 10.0
    return math.exp(brentq(excess, lo, hi, xtol=1e-14, rtol=1e-14, maxiter=500))


def predicted_error(spectrum, energies, n, ridge=0.0, noise=0.0):
    """Deterministic-equivalent test error of KRR (MSE against f*, / Var f*).

    energies: share of Var f* per degree (target_energies); noise: the label
    noise's standard deviation in units of sd f* (neurep's data.noise when
    data.normalize = true).  Returns a dict: error, kappa, e0 (the variance
    inflation n/(n - sum N L^2)), learnability (per degree), bias, variance.
    """
    n = float(n)
    if n < 1:
        raise NeurepError("--n: %g must be at least 1" % n)
    if ridge < 0:
        raise NeurepError("--ridge: %g must be non-negative" % ridge)
    if len(energies) > len(spectrum.mu):
        raise NeurepError("target degree %d above the %d computed kernel degrees"
                          % (len(energies) - 1, spectrum.degrees))
    kap = effective_ridge(spectrum, n, ridge)
    L = spectrum.mu / (spectrum.mu + kap)
    dof2 = float(np.dot(spectrum.mult, L * L))
    e0 = n / (n - dof2)
    v = np.zeros_like(L)
    v[:len(energies)] = energies
    bias = float(np.dot((1 - L) ** 2, v))
    s2 = float(noise) ** 2
    return {"error": e0 * (bias + s2) - s2, "kappa": kap, "e0": e0, "learnability": L,
            "bias": e0 * bias, "variance": (e0 - 1) * s2}


# ---------------------------------------------------------------------------
# from a results file's configuration


class Setting:
    """A learner and target: kernel, d, bias, representation, target and noise."""

    def __init__(self, kernel, d, input_bias=False, representation=None, degrees=(4,),
                 coefficients=None, normalize=True, noise=0.0, nodes=2000):
        self.kernel, self.d = kernel, int(d)
        h = kernel_function(kernel, d, input_bias, representation)
        self.spectrum = Spectrum(h, d, kmin=max(8, max(int(p) for p in degrees) + 2), nodes=nodes)
        self.energies = target_energies(degrees, coefficients, d, "sphere", normalize)
        self.noise = float(noise)

    def error(self, n, ridge=0.0):
        return predicted_error(self.spectrum, self.energies, n, ridge, self.noise)["error"]


def noise_in_units(noise, degrees, coefficients, d, normalize):
    """data.noise in units of sd f* (neurep divides errors by Var f*)."""
    if normalize or not noise:
        return float(noise)
    return float(noise) / math.sqrt(float(_raw_variance(degrees, coefficients, int(d))))


def predicted_n_eps(setting, eps, ridge=0.0, n_max=1e9):
    """The n at which the predicted error falls to eps (NaN if not below eps by n_max).

    The predicted error decreases in n, so the crossing is found by root
    finding in log n between 1 and n_max.
    """
    from scipy.optimize import brentq
    if not eps > 0:
        raise NeurepError("eps must be positive, not %g" % eps)

    def gap(logn):
        return setting.error(math.exp(logn), ridge) - eps
    if gap(0.0) <= 0:
        return 1.0
    if gap(math.log(n_max)) > 0:
        return math.nan
    return math.exp(brentq(gap, 0.0, math.log(n_max), xtol=1e-10, rtol=1e-12))
