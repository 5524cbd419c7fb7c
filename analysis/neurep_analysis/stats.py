"""Statistics on the results table: seed medians, n_eps(d), power-law fits.

Failed runs: a row whose status is "diverged" or whose test error is NaN or
inf counts as test error = +inf.  A diverged run is not a success, so it
pulls the median up (never down) and can only delay n_eps; quartiles that
land on a failure are +inf, which plots leave out.
"""

import math

import numpy as np

from .resultfile import NeurepError
from .theory import theory_exponent

CORE = {"d", "n", "seed", "ridge", "learner", "input", "test_error", "train_error",
        "seconds", "flops", "status", "width", "file"}


# ---------------------------------------------------------------------------
# quantiles that keep +inf meaningful


def quantile(values, q):
    """Linear-interpolation quantile (numpy's default) that tolerates +inf.

    numpy gives NaN for inf - inf inside its interpolation; here two equal
    neighbours return themselves and an infinite upper neighbour returns inf.
    """
    v = np.sort(np.asarray(values, dtype=float))
    if v.size == 0:
        return math.nan
    pos = q * (v.size - 1)
    lo, hi = int(math.floor(pos)), int(math.ceil(pos))
    a, b = v[lo], v[hi]
    if lo == hi or a == b:
        return float(a)
    frac = pos - lo
    if math.isinf(b):
        return math.inf if frac > 0 else float(a)
    return float(a + (b - a) * frac)


def failed_mask(test_error, status):
    """Rows that count as failures (+inf error): diverged, NaN or inf."""
    te = np.asarray(test_error, dtype=float)
    st = np.asarray(status, dtype=object)
    return ~np.isfinite(te) | (st == "diverged")


def effective_error(test_error, status):
    """Test error with failures replaced by +inf (see module docstring)."""
    te = np.asarray(test_error, dtype=float).copy()
    te[failed_mask(te, status)] = math.inf
    return te


# ---------------------------------------------------------------------------
# aggregation over seeds


def group_label(learner, input_name, ridge=None):
    label = "%s on %s" % (learner, input_name)
    if ridge is not None:
        label += " (ridge %g)" % ridge
    return label


def _ridge_key(r):
    return None if not np.isfinite(r) else float(r)


def aggregate(table, ridge="best"):
    """Median and quartiles over seeds, one point per (learner, input, d, n).

    Kernel rows carry several ridges per point; `ridge` chooses among them:
      "best"  - per (d, n) the ridge with the lowest median test error (an
                oracle choice, matching theory stated for a tuned ridge);
      "val"   - per (d, n) the ridge with the lowest median `validation_error`;
      "selected" - per (d, n, seed) the ridge the run itself chose on its
                training set (rows with `selected` = 1, e.g. leave-one-out);
      "all"   - keep every ridge as its own line (group key includes it);
      a float - only rows with that ridge (rows without a ridge are kept).
    Returns a list of dicts sorted by (learner, input, ridge, d, n); each has
    `values` and `seeds` (per-seed effective errors) for bootstraps.
    """
    c = table.columns
    n_rows = len(table)
    if n_rows == 0:
        return []
    eff = effective_error(c["test_error"], c["status"])
    train = np.asarray(c["train_error"], dtype=float)
    ridges = np.asarray(c["ridge"], dtype=float)
    if ridge not in ("best", "val", "all", "selected"):
        try:
            value = float(ridge)
        except (TypeError, ValueError):
            raise NeurepError("--ridge must be best, val, selected, all or a number, not %r"
                              % (ridge,)) from None
        keep = ~np.isfinite(ridges) | np.isclose(ridges, value, rtol=1e-9, atol=0)
        if not keep.any():
            raise NeurepError("no rows with ridge %g" % value)
    elif ridge == "selected":
        if "selected" not in c:
            raise NeurepError("--ridge selected needs a selected column (learner.ridge_selection = \"loo\" or \"validation\", or candidate lists), "
                              "which these files lack")
        sel = np.asarray(c["selected"], dtype=float)
        keep = ~np.isfinite(ridges) | (sel == 1)
        # A run and point without a selected row made no choice: a file
        # without the column (mixed with files that have it), or every
        # candidate failed (diverged). Its only row is kept, and if every row
        # failed one of them, as the failure it is; several rows with no
        # choice among them are left out.
        rows_of = {}
        for i in range(n_rows):
            rows_of.setdefault((int(c["file"][i]), c["learner"][i], c["input"][i], int(c["d"][i]), int(c["n"][i]),
                                int(c["seed"][i])), []).append(i)
        for idx in rows_of.values():
            if not any(sel[i] == 1 for i in idx) and (len(idx) == 1 or np.all(~np.isfinite(eff[idx]))):
                keep[idx[0]] = True
    else:
        keep = np.ones(n_rows, dtype=bool)
    if ridge == "val" and "validation_error" not in c:
        raise NeurepError("--ridge val needs a validation_error column, which these files lack")

    # bucket rows by (learner, input, ridge, d, n)
    buckets = {}
    for i in np.nonzero(keep)[0]:
        key = (c["learner"][i], c["input"][i], None if ridge == "selected" else _ridge_key(ridges[i]),
               int(c["d"][i]), int(c["n"][i]))
        buckets.setdefault(key, []).append(i)

    extra = [k for k in c if k not in CORE]
    points = []
    for (learner, inp, r, d, n), idx in buckets.items():
        idx = np.array(idx)
        e = eff[idx]
        pt = {
            "learner": learner, "input": inp, "ridge": r, "d": d, "n": n,
            "seeds": c["seed"][idx].astype(np.int64), "values": e,
            "n_runs": int(idx.size), "n_failed": int(np.isinf(e).sum()),
            "median": quantile(e, 0.5), "q25": quantile(e, 0.25), "q75": quantile(e, 0.75),
            "train_median": quantile(np.where(np.isfinite(train[idx]), train[idx], math.inf), 0.5),
            "width": int(np.median(c["width"][idx])) if "width" in c else 0,
            "seconds_median": float(np.nanmedian(c["seconds"][idx])) if np.isfinite(c["seconds"][idx]).any() else math.nan,
            "flops_total": float(np.nansum(c["flops"][idx])),
            "files": sorted({int(f) for f in c["file"][idx]}),
            "status": ";".join(sorted(set(c["status"][idx]))),
        }
        for k in extra:
            v = c[k][idx]
            if v.dtype == object:
                pt[k] = ";".join(sorted({str(s) for s in v if str(s)}))
            else:
                v = v.astype(float)
                pt[k + "_median"] = float(np.median(v[np.isfinite(v)])) if np.isfinite(v).any() else math.nan
        if ridge == "val":
            ve = np.asarray(c["validation_error"][idx], dtype=float)
            pt["_select"] = quantile(np.where(np.isfinite(ve), ve, math.inf), 0.5)
        else:
            pt["_select"] = pt["median"]
        points.append(pt)

    if ridge in ("best", "val"):
        best = {}
        for pt in points:
            key = (pt["learner"], pt["input"], pt["d"], pt["n"])
            cur = best.get(key)
            if cur is None or _better(pt, cur):
                best[key] = pt
        points = list(best.values())
    for pt in points:
        pt.pop("_select", None)
    points.sort(key=lambda p: (p["learner"], p["input"],
                               -1.0 if p["ridge"] is None or ridge != "all" else p["ridge"],
                               p["d"], p["n"]))
    return points


def _better(a, b):
    """Lower selection score wins; ties go to the larger ridge (the safer fit)."""
    if a["_select"] != b["_select"]:
        return a["_select"] < b["_select"]
    return (a["ridge"] or 0.0) > (b["ridge"] or 0.0)


def group_key(pt, ridge_mode):
    """The line a point belongs to: (learner, input) or, with --ridge all, + ridge."""
    if ridge_mode == "all":
        return (pt["learner"], pt["input"], pt["ridge"])
    return (pt["learner"], pt["input"], None)


def by_group(points, ridge_mode="best"):
    """{group key: {d: [points sorted by n]}}, keys in sorted order."""
    out = {}
    for pt in points:
        out.setdefault(group_key(pt, ridge_mode), {}).setdefault(pt["d"], []).append(pt)
    for g in out.values():
        for lst in g.values():
            lst.sort(key=lambda p: p["n"])
    return dict(sorted(out.items(), key=lambda kv: (kv[0][0], kv[0][1],
                                                    -1.0 if kv[0][2] is None else kv[0][2])))


# ---------------------------------------------------------------------------
# sample complexity


def n_eps(ns, errors, eps=0.1):
    """Smallest n where the error falls below eps, log-log interpolated.

    Returns (value, flag): flag "ok" with the interpolated n; "below_at_min"
    with value n_min when the first sweep point is already below eps (so
    n_eps < n_min); "not_reached" with NaN when no point is below eps.
    When the point before the crossing failed (error inf) no interpolation
    is possible and the crossing point's n, an upper bound, is returned.
    """
    ns = np.asarray(ns, dtype=float)
    errors = np.asarray(errors, dtype=float)
    order = np.argsort(ns)
    ns, errors = ns[order], errors[order]
    below = np.nonzero(errors < eps)[0]
    if below.size == 0:
        return math.nan, "not_reached"
    i = int(below[0])
    if i == 0:
        return float(ns[0]), "below_at_min"
    e0, e1 = errors[i - 1], max(errors[i], 1e-300)
    if not np.isfinite(e0) or e0 <= e1:
        return float(ns[i]), "ok"
    l0, l1 = math.log(ns[i - 1]), math.log(ns[i])
    frac = (math.log(eps) - math.log(e0)) / (math.log(e1) - math.log(e0))
    return float(math.exp(l0 + frac * (l1 - l0))), "ok"


def format_n_eps(value, flag):
    if flag == "not_reached":
        return "not reached"
    if flag == "below_at_min":
        return "< %d" % int(round(value))
    return "%.4g" % value


# ---------------------------------------------------------------------------
# Student t quantiles without scipy


def _betacf(a, b, x):
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def betainc(a, b, x):
    """Regularised incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbt = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
           + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(lbt) * _betacf(a, b, x) / a
    return 1.0 - math.exp(lbt) * _betacf(b, a, 1.0 - x) / b


def t_cdf(t, dof):
    """CDF of Student's t with dof degrees of freedom."""
    x = dof / (dof + t * t)
    tail = 0.5 * betainc(dof / 2.0, 0.5, x)
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p, dof):
    """Inverse of t_cdf by bisection (monotone, so robust); p in (0, 1)."""
    if not 0.0 < p < 1.0:
        raise ValueError("p must be in (0, 1)")
    if p < 0.5:
        return -t_quantile(1.0 - p, dof)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, dof) < p:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, dof) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


# ---------------------------------------------------------------------------
# power-law fit


def fit_power_law(ds, ns, level=0.95):
    """Least squares log n = a + k log d; k with a `level` t-interval.

    With two points the slope is exact and the interval undefined (NaN);
    with fewer there is no fit.  Returns a dict (slope, intercept, se,
    ci_low, ci_high, dof, n_points, note).
    """
    ds = np.asarray(ds, dtype=float)
    ns = np.asarray(ns, dtype=float)
    out = {"slope": math.nan, "intercept": math.nan, "se": math.nan,
           "ci_low": math.nan, "ci_high": math.nan, "dof": 0,
           "n_points": int(ds.size), "note": ""}
    if ds.size < 2 or np.unique(ds).size < 2:
        out["note"] = "need n_eps at two or more d to fit"
        return out
    x, y = np.log(ds), np.log(ns)
    xm = x.mean()
    sxx = float(((x - xm) ** 2).sum())
    slope = float(((x - xm) * (y - y.mean())).sum() / sxx)
    intercept = float(y.mean() - slope * xm)
    out.update(slope=slope, intercept=intercept)
    dof = ds.size - 2
    out["dof"] = dof
    if dof == 0:
        out["note"] = "two points: interval undefined"
        return out
    resid = y - (intercept + slope * x)
    se = math.sqrt(float((resid ** 2).sum()) / dof / sxx)
    tq = t_quantile(0.5 + level / 2.0, dof)
    out.update(se=se, ci_low=slope - tq * se, ci_high=slope + tq * se)
    return out


# ---------------------------------------------------------------------------
# the complexity table


def complexity(table, eps=0.1, ridge="best", bootstrap=1000, level=0.95, rng_seed=0,
               eps_share=None):
    """n_eps(d) per line, its fitted exponent and the theory's exponent beside it.

    Returns a list of dicts, one per (learner, input[, ridge]): `per_d` maps
    d -> {n_eps, flag, text, n_min, n_max, eps}; `fit` is fit_power_law over
    the d where n_eps is reached (not "< n_min", which is only a bound), with
    d_used; `theory` and `theory_note` come from theory.theory_exponent;
    `boot` is the bootstrap interval over seeds (exponents.bootstrap_exponent,
    bootstrap = number of replicates, 0 for none), `per_seed` the fit of each
    seed alone and `notes` the warnings (fewer than four d, few seeds).
    With eps_share, eps(d) = eps_share x the share of Var f* in the target's
    top harmonic degree at d (exponents.top_share_eps) instead of eps.
    """
    from .exponents import bootstrap_exponent, exponent_notes, per_seed_fits, top_share_eps
    if eps_share is not None:
        eps_of, eps_rule = top_share_eps(table, eps_share)
        eps = math.nan
    else:
        eps_of, eps_rule = (lambda d: eps), "%g" % eps
    points = aggregate(table, ridge)
    groups = by_group(points, ridge)
    out = []
    for (learner, inp, r), per_d in groups.items():
        mask = (table.columns["learner"] == learner) & (table.columns["input"] == inp)
        degrees = table.degrees_for(mask)
        p = degrees[0] if len(degrees) == 1 else None
        theory, note = theory_exponent(learner, inp, p)
        if len(degrees) > 1:
            note = "mixed target degrees %s" % degrees
        row = {"learner": learner, "input": inp, "ridge": r, "eps": eps, "eps_rule": eps_rule,
               "eps_share": eps_share, "p": p, "theory": theory, "theory_note": note, "per_d": {}}
        fit_d, fit_n = [], []
        for d, pts in sorted(per_d.items()):
            e = eps_of(d)
            val, flag = n_eps([q["n"] for q in pts], [q["median"] for q in pts], e)
            row["per_d"][d] = {"n_eps": val, "flag": flag, "text": format_n_eps(val, flag),
                               "n_min": pts[0]["n"], "n_max": pts[-1]["n"], "eps": e,
                               "seeds": int(max(q["n_runs"] for q in pts))}
            if flag == "ok":
                fit_d.append(d)
                fit_n.append(val)
        row["fit"] = fit_power_law(fit_d, fit_n, level)
        row["fit"]["d_used"] = fit_d
        if bootstrap:
            row["boot"] = bootstrap_exponent(per_d, eps_of, fit_d, bootstrap, level, rng_seed)
        row["per_seed"] = per_seed_fits(per_d, eps_of)
        row["notes"] = exponent_notes(row)
        out.append(row)
    return out
