"""Statistics on the results table: seed medians, n_eps(d), power-law fits.

Failed runs: a row whose status is "diverged" or "not-converged" (FAILED_STATUSES)
or whose test error is NaN or inf counts as test error = +inf.  A diverged run
(or one whose optimisation did not converge) is not a success, so it
pulls the median up (never down) and can only delay n_eps; quartiles that
land on a failure are +inf, which plots leave out.
"""

import math
import warnings

import numpy as np

from .resultfile import FAILED_STATUSES, NeurepError, NeurepWarning
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
    """Rows that count as failures (+inf error): diverged, not-converged, NaN or inf."""
    te = np.asarray(test_error, dtype=float)
    st = np.asarray(status, dtype=object)
    return ~np.isfinite(te) | np.isin(st, FAILED_STATUSES)


def effective_error(test_error, status):
    """Test error with failures replaced by +inf (see module docstring)."""
    te = np.asarray(test_error, dtype=float).copy()
    te[failed_mask(te, status)] = math.inf
    return te


# ---------------------------------------------------------------------------
# aggregation over seeds: which rows of a point are used (the "choice")

# The choice of ridge or candidate setting per point. Only "oracle" looks at
# the test set, and every output made with it says ORACLE_TEXT.
CHOICES = ("selected", "val", "all", "oracle")
ORACLE_TEXT = "oracle (chosen on the test set)"
CHOICE_TEXT = {
    "selected": "selected on each run's validation split",
    "val": "lowest median validation error per (d, n)",
    "all": "every ridge / candidate setting",
    "oracle": ORACLE_TEXT,
}


def normalize_choice(choice):
    """'selected', 'val', 'all', 'oracle' or a ridge value (float).

    The old name 'best' (the test-set choice) is accepted as 'oracle' with a
    warning, so an old script's output is labelled for what it is.
    """
    if choice is None:
        return "selected"
    if isinstance(choice, str):
        if choice == "best":
            warnings.warn("'best' is deprecated: it is the test-set choice, now called "
                          "--oracle; outputs are labelled '%s'" % ORACLE_TEXT,
                          NeurepWarning, stacklevel=3)
            return "oracle"
        if choice in CHOICES:
            return choice
        try:
            return float(choice)
        except ValueError:
            raise NeurepError("the choice must be selected, val, all, a ridge value or "
                              "--oracle, not %r" % (choice,)) from None
    return float(choice)


def choice_text(choice):
    choice = normalize_choice(choice)
    return CHOICE_TEXT[choice] if isinstance(choice, str) else "ridge %g" % choice


def is_oracle(choice):
    return isinstance(choice, str) and choice in ("oracle", "best")


def setting_label(learner, ridge, m=math.nan, learning_rate=math.nan):
    """A ridge or candidate setting in words: 'ridge 1e-06' or 'm 32, lr 0.03, reg 0'.

    m may be a text (a width rule such as '4d', see _width_rules)."""
    if str(learner).startswith("taylor"):
        parts = []
        if isinstance(m, str):
            parts.append("m %s" % m)
        elif np.isfinite(m):
            parts.append("m %d" % int(m))
        if np.isfinite(learning_rate):
            parts.append("lr %g" % learning_rate)
        if np.isfinite(ridge):
            parts.append("reg %g" % ridge)
        return ", ".join(parts) or "one setting"
    return "ridge %g" % ridge if np.isfinite(ridge) else "no ridge"


def group_label(learner, input_name, setting=None, target=None, choice=None):
    """'learner on input', with the setting of a --choice all line, the target
    when files of several targets are shown, and the oracle mark."""
    label = "%s on %s" % (learner, input_name)
    if setting is not None:
        label += " (%s)" % (setting if isinstance(setting, str) else "ridge %g" % setting)
    if target is not None:
        label += " [%s]" % target
    if choice is not None and is_oracle(choice):
        label += ", " + ORACLE_TEXT
    return label


def as_frame(data):
    """A pandas DataFrame of result rows (frame.load) from a DataFrame or a resultfile.Table."""
    from .frame import frame
    import pandas as pd
    if isinstance(data, pd.DataFrame):
        return data
    return frame(data)


def _counts(values, fmt):
    """'1e-06 x2; 0.0001 x1': the settings used by the seeds of a point."""
    out = {}
    for v in values:
        if isinstance(v, float) and not np.isfinite(v):
            continue
        out[v] = out.get(v, 0) + 1
    return "; ".join("%s x%d" % (fmt(k), c) for k, c in sorted(out.items()))


def aggregate(data, choice="selected", ridge=None):
    """Median and quartiles over seeds, one point per line and (d, n).

    data: a DataFrame of frame.load (or a resultfile.Table). A point (d, n,
    seed) can have several rows: kernel ridges, or candidate settings of the
    taylor learners (m, learning rate, regulariser). `choice` says which:
      "selected" (default) - the row each run chose on its own validation
                 split (`selected`, see frame.load); a file without a choice
                 has one row per point, which is used;
      "val"    - per (d, n) the setting with the lowest median validation_error;
      "all"    - every setting as its own line;
      a float  - only rows with that ridge / regulariser, a line per setting;
      "oracle" - per (d, n) the setting with the lowest median TEST error: a
                 choice on the test set, labelled ORACLE_TEXT everywhere.
    Returns a list of dicts sorted by (learner, input, setting, d, n), each
    with `values` and `seeds` (per-seed effective errors) for bootstraps,
    `line` (its line's key), `choice` and `chosen` (the settings used).
    `ridge=` is the old name of `choice` (with 'best' = 'oracle').
    """
    choice = normalize_choice(choice if ridge is None else ridge)
    df = as_frame(data)
    if len(df) == 0:
        return []
    eff = np.where(df["failed"].to_numpy(), math.inf, df["test_error"].to_numpy(dtype=float))
    ridge = df["ridge"].to_numpy(dtype=float)
    m = df["m"].to_numpy(dtype=float)
    lr = df["learning_rate"].to_numpy(dtype=float)
    learner = df["learner"].to_numpy(dtype=object)
    rule = _width_rules(df)
    setting = np.array([setting_label(learner[i], ridge[i], rule[i], lr[i])
                        for i in range(len(df))], dtype=object)
    per_line = choice == "all" or isinstance(choice, float)
    if choice == "selected":
        keep = df["selected"].to_numpy(dtype=bool)
        lost = set(zip(df["learner"], df["input"])) - set(zip(df["learner"][keep],
                                                               df["input"][keep]))
        if not keep.any():
            raise NeurepError("no run chose among its ridges or candidates (several rows per "
                              "point and no selected column, e.g. learner.ridge_selection = "
                              "\"none\"): use --choice all, --choice RIDGE, or --oracle")
        for lrn, inp in sorted(lost):
            warnings.warn("%s on %s: several rows per point and no choice among them in the "
                          "file (no selected column); left out: use --choice all, a ridge "
                          "value, or --oracle" % (lrn, inp), NeurepWarning, stacklevel=2)
    elif isinstance(choice, float):
        keep = ~np.isfinite(ridge) | np.isclose(ridge, choice, rtol=1e-9, atol=0)
        if not keep.any():
            raise NeurepError("no rows with ridge %g" % choice)
    else:
        keep = np.ones(len(df), dtype=bool)
    if choice == "val" and not np.isfinite(df["validation_error"].to_numpy(dtype=float)).any():
        raise NeurepError("--choice val needs a validation_error column, which these files lack")

    d = df["d"].to_numpy()
    n = df["n"].to_numpy()
    # different targets are different problems: never pooled, a line each
    target = df["target"].to_numpy(dtype=object) if df["target"].nunique() > 1 \
        else np.full(len(df), None, dtype=object)
    inp = df["input"].to_numpy(dtype=object)
    buckets = {}
    for i in np.nonzero(keep)[0]:
        s = setting[i] if (per_line or choice in ("val", "oracle")) else None
        buckets.setdefault((learner[i], inp[i], s, target[i], int(d[i]), int(n[i])), []).append(i)

    if choice in ("val", "oracle"):
        score_col = (df["validation_error"].to_numpy(dtype=float) if choice == "val" else eff)
        score_col = np.where(np.isfinite(score_col), score_col, math.inf)
        best = {}
        for key, idx in buckets.items():
            score = quantile(score_col[idx], 0.5)
            r = np.nanmax(ridge[idx]) if np.isfinite(ridge[idx]).any() else 0.0
            k = (key[0], key[1], key[3], key[4], key[5])
            cur = best.get(k)
            # lower median wins; ties go to the larger ridge (the safer fit)
            if cur is None or (score, -r) < (cur[0], -cur[1]):
                best[k] = (score, r, key)
        buckets = {(k[0], k[1], None, k[2], k[3], k[4]): buckets[v[2]] for k, v in best.items()}

    skip = {"file", "selected", "selected_in_file", "failed", "candidate", "target_p",
            "target_normalize", "noise", "n_test", "mpi_ranks", "run_seed", "infinite", "depth"}
    extra = [k for k in df.columns if k not in CORE and k not in skip
             and df[k].dtype.kind in "fiub" and df[k].dtype != bool]
    cols = {k: df[k].to_numpy() for k in extra}
    seeds = df["seed"].to_numpy()
    train = df["train_error"].to_numpy(dtype=float)
    width = df["width"].to_numpy()
    secs = df["seconds"].to_numpy(dtype=float)
    flops = df["flops"].to_numpy(dtype=float)
    status = df["status"].to_numpy(dtype=object)
    files = df["file"].to_numpy(dtype=object)
    file_order = {p: i for i, p in enumerate(df.attrs.get("files") or dict.fromkeys(files))}
    cand = df["candidate"].to_numpy()
    points = []
    for (lrn, ip, s, tgt, dd, nn), idx in buckets.items():
        idx = np.array(idx)
        e = eff[idx]
        r = ridge[idx]
        rset = {float(x) for x in r if np.isfinite(x)}
        pt = {
            "learner": lrn, "input": ip, "setting": s,
            "ridge": rset.pop() if len(rset) == 1 else None,
            "d": dd, "n": nn, "line": (lrn, ip, s, tgt), "target": tgt,
            "choice": choice if isinstance(choice, str) else "ridge %g" % choice,
            "seeds": seeds[idx].astype(np.int64), "values": e,
            "n_runs": int(idx.size), "n_failed": int(np.isinf(e).sum()),
            "median": quantile(e, 0.5), "q25": quantile(e, 0.25), "q75": quantile(e, 0.75),
            "train_median": quantile(np.where(np.isfinite(train[idx]), train[idx], math.inf), 0.5),
            "width": int(np.median(width[idx])),
            "seconds_median": float(np.nanmedian(secs[idx])) if np.isfinite(secs[idx]).any() else math.nan,
            "flops_total": float(np.nansum(flops[idx])),
            "files": sorted({file_order[f] for f in files[idx]}),
            "status": ";".join(sorted(set(status[idx]))),
            "chosen": _chosen(lrn, r, m[idx], lr[idx], cand[idx]),
        }
        for k in extra:
            v = cols[k][idx].astype(float)
            pt[k + "_median"] = float(np.median(v[np.isfinite(v)])) if np.isfinite(v).any() else math.nan
        points.append(pt)
    points.sort(key=lambda p: (p["learner"], p["input"], p["setting"] or "", p["target"] or "",
                               p["d"], p["n"]))
    return points


def _width_rules(df):
    """Per row, the width m of its candidate as a rule over d ('4d' when m = 4 d
    at every d, the number when it is the same at every d), so that a line of
    --choice all follows one candidate across d; m itself when neither."""
    m = df["m"].to_numpy(dtype=float)
    out = m.astype(object)
    d = df["d"].to_numpy(dtype=float)
    for _, idx in df.groupby(["file", "candidate"], sort=False).indices.items():
        mm = m[idx]
        if not np.isfinite(mm).all():
            continue
        ratio = mm / d[idx]
        if np.unique(mm).size == 1:
            text = "%d" % mm[0]
        elif np.allclose(ratio, ratio[0]):
            text = "%gd" % ratio[0]
        else:
            continue
        for i in idx:
            out[i] = text
    return out


def _chosen(learner, ridge, m, lr, cand):
    """The settings the seeds of a point used, counted: 'ridge 1e-06 x2; 0.0001 x1'."""
    if str(learner).startswith("taylor"):
        labels = [setting_label(learner, ridge[i], m[i], lr[i]) for i in range(len(ridge))]
        return _counts(labels, str)
    if not np.isfinite(ridge).any():
        return ""
    return "ridge " + _counts([float(x) for x in ridge], lambda v: "%g" % v)


def group_key(pt, choice=None):
    """The line a point belongs to: (learner, input, setting or None)."""
    return pt["line"]


def by_group(points, choice=None):
    """{line key: {d: [points sorted by n]}}, keys in sorted order."""
    out = {}
    for pt in points:
        out.setdefault(pt["line"], {}).setdefault(pt["d"], []).append(pt)
    for g in out.values():
        for lst in g.values():
            lst.sort(key=lambda p: p["n"])
    return dict(sorted(out.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or "",
                                                    kv[0][3] or "")))


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


def complexity(data, eps=0.1, choice="selected", bootstrap=1000, level=0.95, rng_seed=0,
               eps_share=None, ridge=None):
    """n_eps(d) per line, its fitted exponent and the theory's exponent beside it.

    data: a DataFrame of frame.load (or a resultfile.Table); choice as in
    aggregate (default: the rows each run selected on its validation split).
    Returns a list of dicts, one per line (learner, input[, setting][, target]):
    `per_d` maps d -> {n_eps, flag, text, n_min, n_max, seeds, eps}; `fit` is
    fit_power_law over the d where n_eps is reached (not "< n_min", which is
    only a bound), with d_used; `theory` and `theory_note` come from
    theory.theory_exponent; `boot` is the bootstrap interval over seeds
    (exponents.bootstrap_exponent; bootstrap = number of replicates, 0 for
    none), `per_seed` the fit of each seed alone and `notes` the warnings
    (fewer than four d, few seeds, dropped replicates).  With eps_share,
    eps(d) = eps_share x the share of Var f* in the line's top harmonic degree
    at d (exponents.top_share_eps) instead of eps. `ridge=` is the old name
    of `choice`.
    """
    from .exponents import (bootstrap_exponent, check_searched, exponent_notes, per_seed_fits,
                            search_bootstrap, search_n_eps, search_per_seed_fits, search_values,
                            top_share_eps)
    choice = normalize_choice(choice if ridge is None else ridge)
    df = as_frame(data)
    points = aggregate(df, choice)
    groups = by_group(points)
    searched = df.attrs.get("complexity")  # /complexity of the files that searched n
    out = []
    for key, per_d in groups.items():
        learner, inp, setting, target = key
        mask = (df["learner"] == learner) & (df["input"] == inp)
        if target is not None:
            mask &= df["target"] == target
        line_files = set(df.loc[mask, "file"])
        search = None
        if searched is not None and line_files & set(searched["file"]):
            search = {k: [v[i] for i in range(len(searched["file"]))
                          if searched["file"][i] in line_files and searched["learner"][i] == learner
                          and searched["input"][i] == inp] for k, v in searched.items()}
        degrees = sorted(set(df.loc[mask, "target_p"].astype(int)))
        p = degrees[0] if len(degrees) == 1 else None
        theory, note = theory_exponent(learner, inp, p)
        if len(degrees) > 1:
            note = "mixed target degrees %s" % degrees
        if eps_share is not None:
            eps_of, eps_rule = top_share_eps(df[mask], eps_share)
            line_eps = math.nan
        else:
            eps_of, eps_rule, line_eps = (lambda d: eps), "%g" % eps, eps
        row = {"learner": learner, "input": inp, "setting": setting, "target": target,
               "line": key, "choice": points[0]["choice"], "eps": line_eps, "eps_rule": eps_rule,
               "eps_share": eps_share, "p": p, "theory": theory, "theory_note": note, "per_d": {}}
        fit_d, fit_n = [], []
        if search is not None:  # n_eps per (d, seed) from the search; the median over seeds
            check_searched(search, eps_of, sorted(per_d), "%s on %s" % (learner, inp),
                           "eps(d) = %s" % eps_rule if eps_share is not None else "--eps")
            values, status = search_values(search, eps_of)
            for d in sorted(set(values) & set(per_d)):
                val, flag = search_n_eps(values[d], status[d], sorted(values[d]))
                ns = [int(n) for n, dd in zip(search["n_lo"] + search["n_hi"], search["d"] * 2)
                      if int(dd) == d and int(n) > 0]
                row["per_d"][d] = {"n_eps": val, "flag": flag, "text": format_n_eps(val, flag),
                                   "n_min": min(ns), "n_max": max(ns), "eps": eps_of(d),
                                   "seeds": len(values[d]), "chosen": {},
                                   "search": {int(k): v for k, v in sorted(status[d].items())}}
                if flag == "ok":
                    fit_d.append(d)
                    fit_n.append(val)
            row["search"] = True
        else:
            fill_grid_row(row, per_d, eps_of, fit_d, fit_n)
        row["fit"] = fit_power_law(fit_d, fit_n, level)
        row["fit"]["d_used"] = fit_d
        if bootstrap:
            row["boot"] = (search_bootstrap(values, status, fit_d, bootstrap, level, rng_seed)
                           if search is not None else
                           bootstrap_exponent(per_d, eps_of, fit_d, bootstrap, level, rng_seed))
        row["per_seed"] = (search_per_seed_fits(values, status) if search is not None
                           else per_seed_fits(per_d, eps_of))
        row["notes"] = exponent_notes(row)
        out.append(row)
    return out


def fill_grid_row(row, per_d, eps_of, fit_d, fit_n):
    """n_eps per d of a grid line from its median curves, into row["per_d"]; the d where it
    was reached appended to fit_d, fit_n."""
    for d, pts in sorted(per_d.items()):
        e = eps_of(d)
        val, flag = n_eps([q["n"] for q in pts], [q["median"] for q in pts], e)
        row["per_d"][d] = {"n_eps": val, "flag": flag, "text": format_n_eps(val, flag),
                           "n_min": pts[0]["n"], "n_max": pts[-1]["n"], "eps": e,
                           "seeds": int(max(len(set(q["seeds"].tolist())) for q in pts)),
                           "chosen": {q["n"]: q["chosen"] for q in pts}}
        if flag == "ok":
            fit_d.append(d)
            fit_n.append(val)
