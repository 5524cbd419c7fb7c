"""What theory predicts: growth exponents of n_eps(d), and the harmonic shares of f*.

Exponents follow the table at the top of docs/DESIGN.md (Ghorbani et al.; Bai & Lee;
Chen et al.).  The harmonic shares give the plateau levels a kernel learner
should sit at between sweep points: with d^(k-1) << n << d^k an inner-product
kernel learns the degree < k part of f* and nothing above, so its test error
is the share of Var f* carried by the degrees >= k.
"""

import math
from fractions import Fraction


def parse_learner(learner):
    """"kernel:ntk" -> ("kernel", "ntk"); "taylor:order=2" -> ("taylor", "2")."""
    kind, _, rest = learner.partition(":")
    if kind == "taylor" and rest.startswith("order="):
        rest = rest[len("order="):]
    return kind, rest


def input_kind(input_name):
    """"x" for raw input, "h" for a finite or infinite representation h(x)."""
    return "h" if input_name.startswith("h:") or input_name == "h" else "x"


def theory_exponent(learner, input_name, p):
    """The theory's growth exponent of n_eps(d) and a short reason, or (None, reason).

    p is the target degree (max of data.degrees).  For p = 1 every learner
    needs of order d samples, so exponents are clamped at 1.
    """
    if p is None:
        return None, "target degree unknown"
    p = int(p)
    kind, variant = parse_learner(learner)
    on_h = input_kind(input_name) == "h"
    if kind == "linear" or kind == "kernel":
        if kind == "linear" or variant == "linear":
            if p == 1:
                return 1, "linear kernel, linear target"
            return None, "linear kernel cannot fit degree > 1"
        return p, "inner-product kernel%s: d^p" % (" of x via h" if on_h else "")
    if kind == "taylor":
        if variant == "2":
            if on_h:
                return max(math.ceil(p / 2), 1), "Quad on h: d^ceil(p/2)"
            return max(p - 1, 1), "Quad on x: d^(p-1)"
        if variant == "1":
            return p, "linearised network (NTK regime): d^p"
        return None, "no theory for order %s" % variant
    return None, "unknown learner"


# ---------------------------------------------------------------------------
# Harmonic (Gegenbauer / Hermite) shares of Var f*


def _double_factorial_odd(j):
    """(2j-1)!! with (-1)!! = 1."""
    out = 1
    for i in range(1, 2 * j, 2):
        out *= i
    return out


def _moments(d, kmax):
    """Exact moments E t^k, k = 0..kmax, of t = beta.x.

    Sphere of radius sqrt(d): E t^(2j) = d^j (2j-1)!! / prod_{i<j} (d+2i)
    (DESIGN 1.1); d = None is the d -> infinity limit, N(0,1) moments (2j-1)!!.
    Odd moments vanish by symmetry.
    """
    m = []
    for k in range(kmax + 1):
        if k % 2:
            m.append(Fraction(0))
            continue
        j = k // 2
        num = Fraction(_double_factorial_odd(j))
        if d is None:
            m.append(num)
        else:
            den = 1
            for i in range(j):
                den *= d + 2 * i
            m.append(num * Fraction(d) ** j / den)
    return m


def _poly_mul(a, b):
    out = [Fraction(0)] * (len(a) + len(b) - 1)
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            out[i + j] += x * y
    return out


def _inner(a, b, mom):
    """E[a(t) b(t)] for polynomials given by coefficient lists (low degree first)."""
    prod = _poly_mul(a, b)
    return sum(c * mom[k] for k, c in enumerate(prod))


def orthogonal_polynomials(d, kmax):
    """Monic orthogonal polynomials pi_0..pi_kmax of t under its exact law.

    On the sphere these are the Gegenbauer polynomials C_k^((d-2)/2)(t/sqrt d)
    up to scale (orthogonal polynomials of a measure are unique up to scale);
    for d = None the Hermite polynomials He_k.  Built by Gram-Schmidt on
    monomials in exact rational arithmetic, so the shares are exact.
    """
    mom = _moments(d, 2 * kmax)
    polys = []
    for k in range(kmax + 1):
        p = [Fraction(0)] * k + [Fraction(1)]
        for q in polys:
            c = _inner(p, q, mom) / _inner(q, q, mom)
            p = [a - c * (q[i] if i < len(q) else 0) for i, a in enumerate(p)]
        polys.append(p)
    return polys, mom


def _eval(poly, t):
    return sum(c * t ** k for k, c in enumerate(poly))


def harmonic_shares(degrees, coefficients=None, d=None, input="sphere", exact=False):
    """Share of Var f* in each harmonic degree k = 1..max(degrees).

    f*(x) = sum_s alpha_s (beta_s.x)^(p_s), beta_s orthonormal, normalised to
    mean 0 and variance 1 (the mean is the degree-0 part, so it drops out).
    input "sphere": x uniform on the sphere of radius sqrt(d), degree k =
    spherical-harmonic degree (Gegenbauer); d = None or inf is the limit.
    input "gaussian": x ~ N(0, I), degree k = Hermite degree, no d dependence.

    Terms in orthogonal directions are not orthogonal on the sphere: by the
    addition theorem E[Q_k(b1.x) Q_k(b2.x)] = E[Q_k(b.x)^2] Q_k(0)/Q_k(sqrt d)
    for b1 orthogonal to b2, which is included (it vanishes as d -> infinity
    and for Gaussian inputs).

    Returns a dict {k: share} (Fractions if exact, else floats) summing to 1.
    """
    degrees = [int(p) for p in degrees]
    if coefficients is None:
        coefficients = [1.0] * len(degrees)
    if len(coefficients) != len(degrees):
        raise ValueError("degrees and coefficients differ in length")
    if input == "gaussian" or d is None or (isinstance(d, float) and math.isinf(d)):
        dd = None
    else:
        dd = int(d)
        if dd < 2:
            raise ValueError("d must be >= 2 on the sphere")
    cross = input != "gaussian" and dd is not None
    pmax = max(degrees)
    polys, mom = orthogonal_polynomials(dd, pmax)
    alphas = [Fraction(a).limit_denominator(10 ** 12) if not isinstance(a, Fraction)
              else a for a in coefficients]
    comps = {}
    for k in range(1, pmax + 1):
        pk = polys[k]
        norm2 = _inner(pk, pk, mom)
        # coefficient of pi_k in t^p for each term
        cs = []
        for p in degrees:
            mono = [Fraction(0)] * p + [Fraction(1)]
            cs.append(_inner(mono, pk, mom) / norm2)
        if cross and k % 2 == 0:
            # Q_k(0)/Q_k(1) in s = t/sqrt(d); k even so pi_k(sqrt d) is rational
            ratio = _eval(pk, Fraction(0)) / _even_eval_at_sqrt(pk, dd)
        else:
            ratio = Fraction(0)
        total = Fraction(0)
        for s, (a_s, c_s) in enumerate(zip(alphas, cs)):
            for t, (a_t, c_t) in enumerate(zip(alphas, cs)):
                rho = Fraction(1) if s == t else ratio
                total += a_s * a_t * c_s * c_t * norm2 * rho
        comps[k] = total
    var = sum(comps.values())
    if var == 0:
        raise ValueError("f* is constant")
    shares = {k: v / var for k, v in comps.items()}
    if exact:
        return shares
    return {k: float(v) for k, v in shares.items()}


def _even_eval_at_sqrt(poly, d):
    """pi_k(sqrt d) for an even polynomial, exactly: only even powers appear."""
    return sum(c * Fraction(d) ** (k // 2) for k, c in enumerate(poly) if k % 2 == 0)


def plateau_levels(degrees, coefficients=None, d=None, input="sphere"):
    """Residual error levels R_k = share of degrees >= k, for each k with share > 0.

    R_k is the test error of a learner that fits exactly the degrees < k: the
    plateau an inner-product kernel shows for d^(k-1) << n << d^k.  The lowest
    present degree (R = 1, nothing learnt) is omitted.
    """
    shares = harmonic_shares(degrees, coefficients, d, input)
    present = sorted(k for k, s in shares.items() if s > 1e-15)
    out = {}
    for k in present[1:]:
        out[k] = sum(shares[j] for j in present if j >= k)
    return out
