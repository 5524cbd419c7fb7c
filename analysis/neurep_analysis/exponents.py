"""Growth exponents of n_eps(d): bootstrap over seeds, per-seed fits, thresholds from theory.

Bootstrap.  A seed is the unit of resampling: seed s draws its inputs from
the same random streams at every d (src/data/data.cpp takes coordinate j of input
i from one stream whatever d is), so a seed's errors at different d are
correlated and seeds are resampled jointly across d.  Each replicate draws
as many seed labels as there are, with replacement, takes at every (d, n) the
median over the drawn seeds (a seed drawn twice counts twice), recomputes
n_eps(d) and refits the log-log slope over the d the point estimate used.  A
replicate in which one of those d does not reach its threshold is dropped and
counted.  With S seeds there are only C(2S - 1, S) distinct replicates (10
for S = 3): the percentile interval is then coarse, and says so.

Thresholds.  eps may be absolute (eps = 0.1) or relative to theory:
eps(d) = share x (the share of Var f* in the target's top harmonic degree at
d, theory.harmonic_shares) -- the level below which a kernel must have
learnt part of the top degree, whatever d.
"""

import math
import warnings

import numpy as np

from .resultfile import NeurepError, NeurepWarning
from .stats import fit_power_law, n_eps, quantile

MIN_D = 4  # fewer values of d than this: the exponent is flagged as fragile


def top_share_eps(df, share):
    """eps(d) = share * (share of Var f* in the top harmonic degree at d), and its description.

    df: the rows of one line (frame.load), which have one target.
    """
    from .theory import harmonic_shares
    if not 0 < share <= 1:
        raise NeurepError("--eps-share must be in (0, 1], not %g" % share)
    targets = set(zip(df["target_degrees"], df["target_coefficients"], df["target_input"]))
    if len(targets) != 1:
        raise NeurepError("--eps-share needs one target per line, found %d" % len(targets))
    deg_text, coef_text, inp = targets.pop()
    degrees = [int(x) for x in str(deg_text).split(",")]
    coefs = [float(x) for x in str(coef_text).split(",")]
    top = max(degrees)
    cache = {}

    def eps_of(d):
        if d not in cache:
            cache[d] = share * harmonic_shares(degrees, coefs, d, inp)[top]
        return cache[d]
    return eps_of, "%g x share of Var f* in degree %d" % (share, top)


def _seed_matrix(pts):
    """{seed: [effective errors at each n of pts]} (a list per point: a seed may have several rows)."""
    seeds = sorted({int(s) for q in pts for s in q["seeds"]})
    return seeds, [{s: q["values"][q["seeds"] == s] for s in seeds} for q in pts]


def _n_eps_of_seeds(pts, per_point, pick, eps):
    meds = []
    for q in per_point:
        vals = [q[s] for s in pick if s in q]
        vals = np.concatenate(vals) if vals else np.array([])
        meds.append(quantile(vals, 0.5) if vals.size else math.inf)
    return n_eps([q["n"] for q in pts], meds, eps)


def per_seed_fits(per_d, eps_of):
    """For each seed alone: n_eps(d) and the fitted slope over the d it reaches."""
    prepared = {d: _seed_matrix(pts) for d, pts in per_d.items()}
    have = {d: set(seeds) for d, (seeds, _) in prepared.items()}
    return _per_seed_fits(have, lambda d, pick: _n_eps_of_seeds(per_d[d], prepared[d][1], pick,
                                                                eps_of(d)))


def bootstrap_exponent(per_d, eps_of, d_used, n_boot=1000, level=0.95, rng_seed=0):
    """Percentile interval of the slope from resampling seeds jointly across d.

    Returns ci_low, ci_high, replicates (kept), requested, dropped, seeds,
    distinct (the number of distinct resamples possible).
    """
    prepared = {d: _seed_matrix(per_d[d]) for d in d_used}
    seeds = sorted({s for have, _ in prepared.values() for s in have})
    return _bootstrap(seeds, lambda d, pick: _n_eps_of_seeds(per_d[d], prepared[d][1], pick,
                                                             eps_of(d)),
                      d_used, n_boot, level, rng_seed)


def _per_seed_fits(have, n_eps_of):
    """have: {d: seeds present}; n_eps_of(d, seeds) -> (n_eps, flag)."""
    seeds = sorted({s for h in have.values() for s in h})
    out = []
    for s in seeds:
        ds, ns, per = [], [], {}
        for d in sorted(have):
            if s not in have[d]:
                continue
            val, flag = n_eps_of(d, [s])
            per[d] = (val, flag)
            if flag == "ok":
                ds.append(d)
                ns.append(val)
        fit = fit_power_law(ds, ns)
        out.append({"seed": s, "n_eps": per, "slope": fit["slope"], "d_used": ds})
    return out


def _bootstrap(seeds, n_eps_of, d_used, n_boot, level, rng_seed):
    """The percentile interval of the slope: n_eps_of(d, drawn seeds) -> (n_eps, flag)."""
    out = {"ci_low": math.nan, "ci_high": math.nan, "replicates": 0, "requested": int(n_boot),
           "dropped": 0, "seeds": len(seeds),
           "distinct": math.comb(2 * len(seeds) - 1, len(seeds)) if seeds else 0}
    if n_boot <= 0 or len(set(d_used)) < 2:
        return out
    rng = np.random.default_rng(rng_seed)
    slopes = []
    for _ in range(int(n_boot)):
        pick = rng.choice(seeds, size=len(seeds), replace=True)
        ds, ns = [], []
        for d in d_used:
            val, flag = n_eps_of(d, pick)
            if flag != "ok":
                break
            ds.append(d)
            ns.append(val)
        else:
            slopes.append(fit_power_law(ds, ns)["slope"])
            continue
        out["dropped"] += 1
    if slopes:
        alpha = (1.0 - level) / 2.0
        out.update(ci_low=quantile(slopes, alpha), ci_high=quantile(slopes, 1 - alpha),
                   replicates=len(slopes))
    return out


# ---------------------------------------------------------------------------
# searches (sweep.target_error): n_eps of each (d, seed) from /complexity


# The runners write a searched target with 6 significant digits (jobs/campaigns/paper-2:
# '%.6g' % eps(d) into sweep.target_error), so a target equals a threshold computed here
# to a relative 5e-6; targets of one search differ by far more.
TARGET_RTOL = 1e-5


def is_target(target, eps):
    return math.isclose(float(target), eps, rel_tol=TARGET_RTOL)


def check_searched(rows, eps_of, ds, line, what):
    """NeurepError unless every d in ds with /complexity rows (a dict of lists) has them at target
    eps_of(d); a d with none (no search finished there yet) is left out with a warning."""
    for d in ds:
        there = sorted({float(t) for dd, t in zip(rows["d"], rows["target"]) if int(dd) == d},
                       reverse=True)
        if not there:  # the file holds points at d but no finished search there: left out
            warnings.warn("%s, d = %d: no search has finished at this d yet (a running or "
                          "interrupted file): left out; complete the run (--resume) to include it"
                          % (line, d), NeurepWarning, stacklevel=3)
            continue
        if not any(is_target(t, eps_of(d)) for t in there):
            raise NeurepError("%s, d = %d: %s = %.6g is not among the errors searched at this d "
                              "(sweep.target_error %s); search it (one file per d may add it) "
                              "or use one of them"
                              % (line, d, what, eps_of(d), "[%s]" % ", ".join("%.6g" % t for t in there)))


def search_values(rows, eps_of):
    """{d: {seed: n}} from /complexity rows (a dict of lists) of one line at target eps_of(d)
    (a number or a function of d): n_eps where reached, n_hi (an upper bound) where the error
    was below eps at n_min already, +inf where it was not reached (floor or n_max); and
    {d: {seed: status}}."""
    if not callable(eps_of):
        eps_of = (lambda e: lambda d: e)(eps_of)
    values, status = {}, {}
    for i in range(len(rows["d"])):
        d = int(rows["d"][i])
        if not is_target(rows["target"][i], eps_of(d)):
            continue
        s, st = int(rows["seed"][i]), str(rows["status"][i])
        v = float(rows["n_eps"][i]) if st == "reached" else \
            float(rows["n_hi"][i]) if st == "below-n_min" else math.inf
        values.setdefault(d, {})[s] = v
        status.setdefault(d, {})[s] = st
    return values, status


def search_n_eps(values, status, pick):
    """The median over the seeds `pick` (repeats count) of their n_eps at one d, and its flag:
    "not_reached" when the median is not reached, "below_at_min" when more than half of
    them were below eps at n_min, else "ok"."""
    vals = [values[s] for s in pick if s in values]
    if not vals:
        return math.nan, "not_reached"
    med = quantile(vals, 0.5)
    if not math.isfinite(med):
        return math.nan, "not_reached"
    below = sum(status[s] == "below-n_min" for s in pick if s in status)
    return med, "below_at_min" if 2 * below > len(vals) else "ok"


def search_per_seed_fits(values, status):
    return _per_seed_fits({d: set(v) for d, v in values.items()},
                          lambda d, pick: search_n_eps(values[d], status[d], pick))


def search_bootstrap(values, status, d_used, n_boot=1000, level=0.95, rng_seed=0):
    seeds = sorted({s for d in d_used for s in values[d]})
    return _bootstrap(seeds, lambda d, pick: search_n_eps(values[d], status[d], pick),
                      d_used, n_boot, level, rng_seed)


def exponent_notes(row):
    """Warnings a reader must see beside an exponent."""
    notes = []
    used = row["fit"].get("d_used", [])
    if 2 <= len(used) < MIN_D:
        notes.append("only %d values of d (%s): the exponent is fragile; use at least %d"
                     % (len(used), ", ".join(str(d) for d in used), MIN_D))
    b = row.get("boot")
    if b and not b["replicates"] and not b["dropped"]:
        b = None   # no fit to resample (fewer than two d reach eps)
    if b and b["seeds"] and b["seeds"] < 5:
        notes.append("bootstrap over %d seeds: only %d distinct resamples, the interval is coarse"
                     % (b["seeds"], b["distinct"]))
    if b and b["dropped"]:
        notes.append("%d of %d bootstrap replicates dropped (eps not reached at some d)"
                     % (b["dropped"], b["requested"]))
    return notes
