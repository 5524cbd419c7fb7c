"""The claim table of a campaign, computed from its result files.

A claims file (TOML, e.g. jobs/campaigns/paper-2/claims.toml) lists the
claims: per claim the learner, input and target as the paper states them,
the theory's exponent of n_eps in d, the part(s) that measure it and the
configuration names whose result files measure it (a file
`<config>.h5` or `<config>_d<D>.h5` in any folder given). For every
configuration, `measure` takes the exponent of n_eps(d) with its bootstrap
interval over seeds from stats.complexity (the searches' /complexity tables,
or the median curves of a grid) at each threshold: eps = 0.1, eps = 0.05 and
eps(d) = 0.5 x the share of Var f* in the target's top harmonic degree
where the files searched it. Every number uses the rows each run selected
on its validation split; nothing is chosen on the test set.

Verdict rule (VERDICT_RULE, per configuration and threshold; "suggested":
the reader decides):

1. "no theory exponent" when the claim states none;
2. "not measurable here" when the median n_eps over seeds was reached at
   fewer than MIN_REACHED_D = 3 values of d, or when fewer than half of the
   (d, seed) searches over all d searched reached eps (stopped at a floor
   or n_max), or when no bootstrap replicate could be fitted;
3. otherwise "consistent" when the theory's exponent lies inside the 95 %
   bootstrap interval, "contradicted" when it lies outside.

A verdict on fewer than MIN_D = 4 values of d says so ("on 3 d"), one whose
bootstrap resamples fewer than MIN_SEEDS = 5 seeds says its interval is coarse,
and one that left out a d whose median did not reach eps names it. The verdict of a
configuration over its thresholds: the common verdict when every measurable
threshold agrees, "mixed" when they do not, "not measurable here" when none
is measurable.

Floors (claims with kind = "floor", least-squares rows) are not exponents:
`floors` reports, per (feature, D rule, d), the median test error over seeds
at the smallest n whose rows are floors (status ok or rank-deficient, i.e.
n >= 10 (D + 1); a few-samples row still holds an estimation error).

Besides the exponents, `measure` counts per configuration and threshold the
(d, seed) searches that reached eps, were below it at n_min, or stopped at a
floor or n_max, and the rows (selected, and all candidates) whose status is
not ok: not-converged (a Taylor model whose optimisation failed the
convergence rule), diverged, and any other.
"""

import functools
import math
import os
import re
import tomllib
import warnings

import numpy as np

from .exponents import MIN_D, is_target, top_share_eps
from .resultfile import NeurepError, NeurepWarning, load_many
from .stats import complexity, fit_power_law, quantile

MIN_REACHED_D = 3
# Fewer seeds than this: the bootstrap has few distinct resamples (10 for 3 seeds) and each
# seed's n_eps carries its own test set's sampling error, so the interval is coarse.
MIN_SEEDS = 5
# the thresholds of the table: (column title, eps, eps_share)
THRESHOLDS = (("\u03b5 = 0.1", 0.1, None), ("\u03b5 = 0.05", 0.05, None),
              ("\u03b5 = \u00bd share", None, 0.5))

VERDICT_RULE = (
    "Suggested verdict per configuration and threshold: 'consistent' when the theory's "
    "exponent lies inside the 95 %% bootstrap interval of the measured exponent (seeds "
    "resampled jointly across d), 'contradicted' when it lies outside; 'not measurable here' "
    "when the median n_eps over seeds was reached at fewer than %d values of d, when fewer "
    "than half of the (d, seed) searches reached eps (they stopped at a floor or n_max), or "
    "when no bootstrap replicate could be fitted. A verdict on fewer than %d values of d says "
    "so ('on 3 d'), and one whose bootstrap resamples fewer than %d seeds says its interval "
    "is coarse; a d whose median did not reach eps is left out of the fit and named. "
    "Over the thresholds: the common verdict when every measurable threshold agrees, 'mixed' "
    "otherwise." % (MIN_REACHED_D, MIN_D, MIN_SEEDS))

_CLAIM_KEYS = {"learner": str, "input": str, "target": str, "parts": str, "configs": list}
_FILE_RE = re.compile(r"^(?P<config>.+?)(?:_d(?P<d>\d+))?\.h5$")


# ---------------------------------------------------------------------------
# the claims file


def load_spec(path):
    """The claims of a TOML file: a list of dicts (learner, input, target, theory,
    theory_text, parts, configs, kind). NeurepError naming the key on bad input."""
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except OSError as exc:
        raise NeurepError("%s: cannot read the claims file: %s" % (path, exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise NeurepError("%s: not TOML: %s" % (path, exc)) from None
    claims = doc.get("claim")
    if not isinstance(claims, list) or not claims:
        raise NeurepError("%s: no [[claim]] tables" % path)
    out = []
    for i, c in enumerate(claims, 1):
        where = "%s: claim %d" % (path, i)
        for key, kind in _CLAIM_KEYS.items():
            if key not in c:
                raise NeurepError("%s: missing key '%s'" % (where, key))
            if not isinstance(c[key], kind):
                raise NeurepError("%s: '%s' must be a %s" % (where, key, kind.__name__))
        kind = c.get("kind", "exponent")
        if kind not in ("exponent", "floor"):
            raise NeurepError("%s: 'kind' must be \"exponent\" or \"floor\", not %r" % (where, kind))
        theory = c.get("theory")
        if kind == "exponent" and theory is not None and not isinstance(theory, (int, float)):
            raise NeurepError("%s: 'theory' must be a number (the exponent of n_eps in d)" % where)
        if not all(isinstance(x, str) and x for x in c["configs"]):
            raise NeurepError("%s: 'configs' must list configuration names" % where)
        unknown = set(c) - set(_CLAIM_KEYS) - {"kind", "theory", "theory_text"}
        if unknown:
            raise NeurepError("%s: unknown key(s) %s" % (where, ", ".join(sorted(unknown))))
        out.append({"index": i, "learner": c["learner"], "input": c["input"],
                    "target": c["target"], "parts": c["parts"], "configs": list(c["configs"]),
                    "kind": kind, "theory": theory,
                    "theory_text": c.get("theory_text",
                                         "" if theory is None else "d^%g" % theory)})
    seen = {}
    for c in out:
        for name in c["configs"]:
            if name in seen:
                raise NeurepError("%s: configuration '%s' is in claims %d and %d"
                                  % (path, name, seen[name], c["index"]))
            seen[name] = c["index"]
    return out


def config_of(path):
    """'part1b/quad_h_quadratic_d24.h5' -> 'quad_h_quadratic'."""
    m = _FILE_RE.match(os.path.basename(path))
    return m.group("config") if m else None


def group_files(paths):
    """{configuration name: [paths]} (sorted)."""
    out = {}
    for p in paths:
        name = config_of(p)
        if name is not None:
            out.setdefault(name, []).append(p)
    return {k: sorted(v) for k, v in sorted(out.items())}


# ---------------------------------------------------------------------------
# the verdict rule


def verdict(theory, flags, boot, searches):
    """(verdict, reason) of one configuration at one threshold by VERDICT_RULE.

    theory: the claim's exponent (None: no theory); flags: {d: flag of the median
    n_eps} ("ok", "not_reached", "below_at_min"; the fit uses the d with "ok");
    boot: the bootstrap dict (ci_low, ci_high, requested, dropped); searches:
    (number of (d, seed) searches that reached eps, number of searches), or
    None for a grid.
    """
    used = [d for d, f in sorted(flags.items()) if f == "ok"]
    missing = [d for d, f in sorted(flags.items()) if f == "not_reached"]
    if theory is None:
        return "no theory exponent", ""
    if len(used) < MIN_REACHED_D:
        return "not measurable here", ("median n_eps reached at %d of %d d (need %d)"
                                       % (len(used), len(flags), MIN_REACHED_D))
    if searches is not None and 2 * searches[0] < searches[1]:
        return "not measurable here", ("%d of %d (d, seed) searches reached eps" % searches)
    lo, hi = boot.get("ci_low", math.nan), boot.get("ci_high", math.nan)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "not measurable here", "no bootstrap interval"
    qual = []
    if len(used) < MIN_D:
        qual.append("on %d d" % len(used))
    if 0 < boot.get("seeds", 0) < MIN_SEEDS:
        qual.append("%d seeds: a coarse interval" % boot["seeds"])
    if missing:
        qual.append("d = %s not reached, left out" % ", ".join(str(d) for d in missing))
    if boot.get("dropped"):
        qual.append("%d of %d bootstrap replicates dropped" % (boot["dropped"], boot["requested"]))
    return ("consistent" if lo <= theory <= hi else "contradicted"), "; ".join(qual)


def combine(verdicts):
    """The verdict of a configuration over its thresholds (see the module docstring)."""
    words = [v for v in verdicts if v not in ("not measurable here", "not searched",
                                                "no theory exponent")]
    if not words:
        return "no theory exponent" if "no theory exponent" in verdicts else "not measurable here"
    if all(w == words[0] for w in words):
        return words[0]
    return "mixed"


# ---------------------------------------------------------------------------
# measuring


def _searched_ds(df, eps_of):
    """The d of df at which the threshold eps_of(d) can be read: every d of a grid,
    the d whose /complexity rows searched eps_of(d) for a search."""
    ds = sorted(int(d) for d in set(df["d"]))
    cx = df.attrs.get("complexity")
    if cx is None:
        return ds
    return [d for d in ds if any(int(dd) == d and is_target(t, eps_of(d))
                                 for dd, t in zip(cx["d"], cx["target"]))]


def _status_counts(df):
    """{status: count} of the rows whose status is not ok: selected rows and all rows."""
    out = {}
    for what, rows in (("selected", df[df["selected"]]), ("all", df)):
        counts = rows["status"].value_counts()
        out[what] = {str(k): int(v) for k, v in counts.items() if k != "ok"}
    return out


def kernel_prediction(f, learner, ds):
    """For a kernel learner whose setting the kernel theory covers (predict.setting_from_file)
    at the file's d values ds: a function (d, eps) -> the deterministic equivalent's n_eps at
    the best of the file's `learner.ridge` candidates (the theory's counterpart of a ridge
    chosen on validation); None for any other learner. Each d's spectrum is computed once,
    for all thresholds."""
    from .kernel_theory import predicted_n_eps
    from .predict import file_ridges, setting_from_file
    settings = functools.lru_cache(maxsize=None)(lambda d: setting_from_file(f, learner, d)[0])
    if settings(ds[0]) is None:
        return None
    ridges = file_ridges(f)

    def predict(d, eps):
        found = [n for n in (predicted_n_eps(settings(d), eps, r) for r in ridges)
                 if math.isfinite(n)]
        return min(found) if found else math.nan
    return predict


def _threshold(df, label, eps, share, bootstrap, level, predict=None):
    """The measurement of one line at one threshold, or a 'not searched' stub; with
    predict (kernel_prediction), each d's predicted n_eps and the exponent the
    prediction has over the d of the measured fit."""
    if share is not None:
        eps_of, rule = top_share_eps(df, share)
    else:
        eps_of, rule = (lambda d: eps), "%g" % eps
    ds = _searched_ds(df, eps_of)
    out = {"threshold": label, "eps_rule": rule, "d_searched": ds}
    if not ds:
        out.update(verdict="not searched", reason="no file searched this threshold",
                   slope=math.nan, ci_low=math.nan, ci_high=math.nan, d_used=[], per_d={},
                   searches=None, notes=[], predicted_slope=math.nan)
        return out
    sub = df[df["d"].isin(ds)]
    sub.attrs = df.attrs
    (row,) = complexity(sub, None if share is not None else eps, "selected", bootstrap, level,
                        eps_share=share)
    fit, boot = row["fit"], row.get("boot", {})
    per_d, counts = {}, {}
    for d, v in sorted(row["per_d"].items()):
        st = v.get("search")
        c = {}
        if st is not None:
            for s in st.values():
                c[s] = c.get(s, 0) + 1
        counts[d] = c
        per_d[d] = {"text": v["text"], "flag": v["flag"], "n_eps": v["n_eps"], "seeds": v["seeds"],
                    "eps": v["eps"], "n_max": v["n_max"], "status": c,
                    "predicted": predict(d, v["eps"]) if predict else math.nan,
                    "stopped": sorted(s for s, x in (st or {}).items()
                                      if x not in ("reached", "below-n_min"))}
    searches = None
    if row.get("search"):
        total = sum(sum(c.values()) for c in counts.values())
        ok = sum(c.get("reached", 0) + c.get("below-n_min", 0) for c in counts.values())
        searches = (ok, total)
    pred_d = [d for d in fit["d_used"] if math.isfinite(per_d[d]["predicted"])]
    predicted_slope = (fit_power_law(pred_d, [per_d[d]["predicted"] for d in pred_d])["slope"]
                       if len(pred_d) >= 2 else math.nan)
    out.update(slope=fit["slope"], ci_low=boot.get("ci_low", math.nan),
               ci_high=boot.get("ci_high", math.nan), t_low=fit["ci_low"], t_high=fit["ci_high"],
               d_used=list(fit["d_used"]), per_d=per_d, searches=searches,
               boot=boot, notes=row["notes"], theory_from_files=row["theory"],
               predicted_slope=predicted_slope)
    out["verdict"], out["reason"] = None, None
    return out


def measure(claims, paths, bootstrap=1000, level=0.95):
    """One entry per (claim, configuration): the claim, the configuration, its files,
    the thresholds (each with slope, bootstrap interval, d, searches, verdict) and the
    status counts. A claim without files gets one entry with files = []."""
    groups = group_files(paths)
    known = {name for c in claims for name in c["configs"]}
    unknown = sorted(set(groups) - known)
    out = []
    for c in claims:
        present = [name for name in c["configs"] if name in groups]
        if c["kind"] == "floor":   # no exponent: its numbers are in floors()
            out.append({"claim": c, "config": ", ".join(present or c["configs"]),
                        "files": [f for name in present for f in groups[name]], "thresholds": [],
                        "verdict": "floor (see Floors)" if present else "not run",
                        "status": {}, "warnings": [], "floor": True})
            continue
        if not present:
            out.append({"claim": c, "config": ", ".join(c["configs"]), "files": [],
                        "thresholds": [], "verdict": "not run", "status": {}, "warnings": []})
            continue
        for name in present:
            files = groups[name]
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", NeurepWarning)
                from .frame import frame
                table = load_many(files)
                df = frame(table)
            entry = {"claim": c, "config": name, "files": files,
                     "folders": sorted({os.path.basename(os.path.dirname(f)) or "." for f in files}),
                     "warnings": [str(w.message) for w in caught],
                     "status": _status_counts(df), "thresholds": []}
            lines = df.groupby(["learner", "input"]).ngroups
            if lines != 1:
                raise NeurepError("configuration %s: its files hold %d (learner, input) lines, "
                                  "not one" % (name, lines))
            entry["seeds"] = sorted({int(s) for s in df["seed"]})
            entry["d"] = sorted({int(d) for d in df["d"]})
            predict = kernel_prediction(table.files[0], df["learner"].iloc[0], entry["d"])
            for label, eps, share in THRESHOLDS:
                res = _threshold(df, label, eps, share, bootstrap, level, predict)
                if res["verdict"] is None:
                    res["verdict"], res["reason"] = verdict(
                        c["theory"], {d: v["flag"] for d, v in res["per_d"].items()},
                        res["boot"], res["searches"])
                    tf = res.get("theory_from_files")
                    if c["theory"] is not None and tf is not None and tf != c["theory"]:
                        res["notes"].append("the analysis' theory exponent for this learner and "
                                            "input is %s, the claim's %g" % (tf, c["theory"]))
                entry["thresholds"].append(res)
            entry["verdict"] = combine([t["verdict"] for t in entry["thresholds"]])
            out.append(entry)
    return out, unknown


# Statuses of least-squares rows that are floors (src/learners/linear: "few-samples" when
# n < 10 (D + 1), whose error still holds an estimation error, is not).
FLOOR_STATUSES = ("ok", "rank-deficient")


def floors(claims, paths):
    """Per floor claim, configuration and d: the least-squares floor (see module docstring):
    the median test error over seeds at the smallest n whose rows are floors
    (FLOOR_STATUSES: n >= 10 (D + 1)), its range over seeds, the median training error
    there, and the median at the largest n."""
    groups = group_files(paths)
    out = []
    for c in claims:
        if c["kind"] != "floor":
            continue
        for name in c["configs"]:
            if name not in groups:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NeurepWarning)
                from .frame import frame
                df = frame(load_many(groups[name]))
            df = df[df["selected"]]
            for d, g in sorted(df.groupby("d")):
                D = float(np.nanmedian(g["D"])) if np.isfinite(g["D"]).any() else math.nan
                ok = g[g["status"].isin(FLOOR_STATUSES)]
                ns = sorted({int(n) for n in ok["n"]})
                row = {"claim": c, "config": name, "activation": g["activation"].iloc[0],
                       "D_rule": g["D_rule"].iloc[0], "d": int(d), "D": D,
                       "n": ns[0] if ns else None,
                       "statuses": {str(k): int(v) for k, v in g["status"].value_counts().items()}}
                if ns:
                    r = ok[ok["n"] == ns[0]]
                    te = r["test_error"].to_numpy(dtype=float)
                    tr = r["train_error"].to_numpy(dtype=float)
                    big = ok[ok["n"] == ns[-1]]["test_error"].to_numpy(dtype=float)
                    row.update(seeds=int(r["seed"].nunique()), floor=quantile(te, 0.5),
                               floor_min=float(np.min(te)), floor_max=float(np.max(te)),
                               train=quantile(tr, 0.5), n_largest=ns[-1],
                               at_largest=quantile(big, 0.5))
                out.append(row)
    return out


# ---------------------------------------------------------------------------
# writing


def _f(v, spec="%.2f"):
    return "\u2014" if v is None or not math.isfinite(v) else spec % v


def _dr(ds):
    if not ds:
        return "\u2014"
    return "%d\u2013%d (%d)" % (min(ds), max(ds), len(ds)) if len(ds) > 1 else "%d (1)" % ds[0]


def _cell(t):
    if t["verdict"] == "not searched":
        return "not searched"
    searches = " \u00b7 %d/%d searches reached" % t["searches"] if t["searches"] else ""
    if not math.isfinite(t["slope"]):
        return "no fit%s \u2192 %s (%s)" % (searches, t["verdict"], t["reason"])
    predicted = (" \u00b7 kernel theory at these d: %.2f" % t["predicted_slope"]
                 if math.isfinite(t["predicted_slope"]) else "")
    text = "**%.2f** [%s, %s] \u00b7 d %s%s%s \u2192 %s" % (
        t["slope"], _f(t["ci_low"]), _f(t["ci_high"]), _dr(t["d_used"]), searches, predicted,
        t["verdict"])
    return text + (" (%s)" % t["reason"] if t["reason"] else "")


def _counts_text(c):
    order = ("reached", "below-n_min", "floor", "n_max")
    keys = [k for k in order if k in c] + sorted(k for k in c if k not in order)
    return ", ".join("%d %s" % (c[k], k) for k in keys)


def markdown(entries, floor_rows, unknown, sources, level=0.95):
    L = ["# The claims, measured",
         "",
         "Generated by `neurep-analysis claims` from the result files (%s); do not edit by "
         "hand. Exponent of n_\u03b5 in d: least-squares slope of log median n_\u03b5 over "
         "seeds against log d, over the d where the median reached \u03b5; in brackets its "
         "%g %% bootstrap interval (seeds resampled jointly across d). Rows: those each run "
         "selected on its validation split; nothing is chosen on the test set. "
         "\u00bd share: \u03b5(d) = 0.5 \u00d7 the share of Var f* in the target's top "
         "harmonic degree at d." % (sources, 100 * level),
         "",
         "**Verdict rule.** " + VERDICT_RULE,
         "",
         "| # | learner | input | target | theory | configuration (folders) | d (#) | seeds | "
         "%s | suggested verdict |" % " | ".join(t[0] for t in THRESHOLDS),
         "|---|---|---|---|---|---|---|---|%s---|" % ("---|" * len(THRESHOLDS))]
    for e in entries:
        c = e["claim"]
        head = "| %d | %s | %s | %s | %s | " % (c["index"], c["learner"], c["input"], c["target"],
                                                  c["theory_text"] or "\u2014")
        if not e["files"] or e.get("floor"):
            L.append(head + "`%s` | \u2014 | \u2014 | %s | %s |"
                     % (e["config"], " | ".join("\u2014" for _ in THRESHOLDS),
                        "not run (part %s)" % c["parts"] if not e["files"] else
                        "a floor per D, not an exponent: see Floors below"))
            continue
        L.append(head + "`%s` (%s) | %s | %d | %s | **%s** |" % (
            e["config"], ", ".join(e["folders"]), _dr(e["d"]), len(e["seeds"]),
            " | ".join(_cell(t) for t in e["thresholds"]), e["verdict"]))
    L += ["", "## n_\u03b5 per d and the searches that did not reach \u03b5", "",
          "Per configuration and threshold: the median n_\u03b5 over seeds at each d, and how "
          "the (d, seed) searches ended (reached; below \u03b5 already at n_min; stopped at a "
          "floor; not reached by n_max). A seed that stopped counts as not reached in the "
          "median. For kernel learners, the n_\u03b5 the kernel theory predicts at that d "
          "(the deterministic equivalent of kernel ridge regression at the best of the "
          "configuration's ridges; `neurep-analysis predict`) and measured / predicted.", "",
          "| configuration | threshold | d | median n_\u03b5 | seeds | searches | stopped seeds "
          "| predicted n_\u03b5 | measured / predicted |",
          "|---|---|---|---|---|---|---|---|---|"]
    for e in entries:
        for t in e["thresholds"]:
            if t["verdict"] == "not searched":
                L.append("| `%s` | %s | \u2014 | not searched | | | | | |"
                         % (e["config"], t["threshold"]))
                continue
            for d, v in t["per_d"].items():
                reached = v["flag"] == "ok" and math.isfinite(v["predicted"])
                L.append("| `%s` | %s | %d | %s | %d | %s | %s | %s | %s |" % (
                    e["config"], t["threshold"], d, v["text"], v["seeds"],
                    _counts_text(v["status"]) or "no /complexity (a grid, or a search not finished)",
                    ", ".join(str(s) for s in v["stopped"]), _f(v["predicted"], "%.0f"),
                    _f(v["n_eps"] / v["predicted"]) if reached else "\u2014"))
    L += ["", "## Runs that did not converge or did not finish", "",
          "Rows whose status is not ok (not-converged: a Taylor model whose optimisation failed "
          "the convergence rule, counted as failed; diverged; diverged-after-best: diverged after "
          "the step early stopping kept), among the rows the runs selected and among all "
          "candidate rows; and files whose run is not complete.", "",
          "| configuration | selected rows not ok | all rows not ok | not-converged (selected / all) "
          "| file warnings |", "|---|---|---|---|---|"]
    for e in entries:
        if not e["files"] or e.get("floor"):
            continue
        s = e["status"]
        nc = (s["selected"].get("not-converged", 0), s["all"].get("not-converged", 0))
        L.append("| `%s` | %s | %s | %d / %d | %s |" % (
            e["config"], _counts_text(s["selected"]) or "none", _counts_text(s["all"]) or "none",
            nc[0], nc[1], "; ".join(e["warnings"]) or "none"))
    notes = [(e["config"], t["threshold"], n) for e in entries for t in e["thresholds"]
             for n in t.get("notes", [])]
    if notes:
        L += ["", "## Warnings of the fits", ""]
        L += ["- `%s`, %s: %s" % n for n in notes]
    L += ["", "## Floors (least squares on h; not exponents)", ""]
    if floor_rows:
        L += ["Median test error / Var f* over seeds at the smallest n whose rows are floors "
              "(status ok or rank-deficient: n \u2265 10 (D + 1); smaller n are few-samples, "
              "their error still holds an estimation error), with the seeds' range, the median "
              "training error there, and the median test error at the largest n run.", "",
              "| claim | configuration | feature | D | d | D at d | n | seeds | floor [min, max] "
              "| train error | at largest n | row statuses |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in floor_rows:
            if r["n"] is None:
                L.append("| %d | `%s` | %s | %s | %d | %s | \u2014 | | no floor row (all few-samples "
                         "or failed) | | | %s |"
                         % (r["claim"]["index"], r["config"], r["activation"], r["D_rule"], r["d"],
                            _f(r["D"], "%d"), _counts_text(r["statuses"])))
                continue
            L.append("| %d | `%s` | %s | %s | %d | %s | %d | %d | %s [%s, %s] | %s | %s (n = %d) | %s |"
                     % (r["claim"]["index"], r["config"], r["activation"], r["D_rule"], r["d"],
                        _f(r["D"], "%d"), r["n"], r["seeds"],
                        _f(r["floor"], "%.4g"), _f(r["floor_min"], "%.4g"),
                        _f(r["floor_max"], "%.4g"), _f(r["train"], "%.3g"),
                        _f(r["at_largest"], "%.4g"), r["n_largest"], _counts_text(r["statuses"])))
    else:
        L.append("No floor files yet.")
    if unknown:
        L += ["", "Files of configurations no claim names (not in the table): %s."
              % ", ".join("`%s`" % u for u in unknown)]
    return "\n".join(L) + "\n"


CSV_HEAD = ["claim", "learner", "input", "target", "theory", "config", "folders", "threshold",
            "eps_rule", "slope", "boot_low", "boot_high", "t_low", "t_high", "d_searched",
            "d_used", "seeds", "searches_reached", "searches", "n_eps_per_d", "predicted_slope",
            "predicted_n_eps_per_d", "verdict",
            "reason", "config_verdict"]
FLOOR_HEAD = ["claim", "config", "activation", "D_rule", "d", "D", "n", "seeds",
              "floor", "floor_min", "floor_max", "train_error", "n_largest", "at_largest",
              "statuses"]


def csv_rows(entries):
    rows = []
    for e in entries:
        c = e["claim"]
        base = {"claim": c["index"], "learner": c["learner"], "input": c["input"],
                "target": c["target"], "theory": c["theory"], "config": e["config"],
                "folders": e.get("folders", []), "config_verdict": e["verdict"]}
        if not e["files"] or e.get("floor"):
            rows.append(dict(base, verdict=e["verdict"]))
            continue
        for t in e["thresholds"]:
            s = t["searches"]
            rows.append(dict(base, threshold=t["threshold"], eps_rule=t["eps_rule"],
                             slope=t["slope"], boot_low=t["ci_low"], boot_high=t["ci_high"],
                             t_low=t.get("t_low"), t_high=t.get("t_high"),
                             d_searched=t["d_searched"], d_used=t["d_used"],
                             seeds=len(e["seeds"]), searches_reached=s[0] if s else None,
                             searches=s[1] if s else None,
                             n_eps_per_d=["%d:%s" % (d, v["text"]) for d, v in t["per_d"].items()],
                             predicted_slope=t["predicted_slope"],
                             predicted_n_eps_per_d=["%d:%.6g" % (d, v["predicted"])
                                                    for d, v in t["per_d"].items()
                                                    if math.isfinite(v["predicted"])],
                             verdict=t["verdict"], reason=t["reason"]))
    return rows


def floor_csv_rows(floor_rows):
    return [{"claim": r["claim"]["index"], "config": r["config"], "activation": r["activation"],
             "D_rule": r["D_rule"], "d": r["d"], "D": r["D"], "n": r["n"],
             "seeds": r.get("seeds"), "floor": r.get("floor"),
             "floor_min": r.get("floor_min"), "floor_max": r.get("floor_max"),
             "train_error": r.get("train"), "n_largest": r.get("n_largest"),
             "at_largest": r.get("at_largest"),
             "statuses": ["%s:%d" % kv for kv in sorted(r["statuses"].items())]}
            for r in floor_rows]
