"""Command line: python3 -m neurep_analysis {info,errors,complexity,curves,summary} ...

Bad input (not HDF5, not neurep, no /results, mixed targets, bad option)
prints one line "neurep-analysis: error: ..." on stderr and exits 2;
warnings (unfinished run, duplicates) print "neurep-analysis: warning: ...".
"""

import argparse
import csv
import fnmatch
import io
import json
import math
import os
import sys
import warnings

import numpy as np

from . import __version__
from .resultfile import NeurepError, NeurepWarning, config_get, load, load_many
from .stats import aggregate, complexity, group_label

PROG = "neurep-analysis"


# ---------------------------------------------------------------------------
# shared helpers


def _filter(table, args):
    """Keep rows matching --learner/--input glob patterns and --d values."""
    c = table.columns
    keep = np.ones(len(table), dtype=bool)
    if getattr(args, "learner", None):
        keep &= np.array([any(fnmatch.fnmatchcase(v, pat) for pat in args.learner)
                          for v in c["learner"]], dtype=bool)
    if getattr(args, "input", None):
        keep &= np.array([any(fnmatch.fnmatchcase(v, pat) for pat in args.input)
                          for v in c["input"]], dtype=bool)
    if getattr(args, "d", None):
        keep &= np.isin(c["d"], args.d)
    if keep.size == 0:
        raise NeurepError("no result rows in %s" % ", ".join(f.path for f in table.files))
    if not keep.any():
        raise NeurepError("no result rows match the --learner/--input/--d filters")
    for k in c:
        c[k] = c[k][keep]
    return table


def _formats(text):
    fmts = [f.strip().lower() for f in text.split(",") if f.strip()]
    bad = [f for f in fmts if f not in ("png", "pdf", "svg")]
    if bad or not fmts:
        raise NeurepError("--format takes png, pdf or svg (comma separated), not %r" % text)
    return tuple(fmts)


def _num(v):
    """JSON-safe number: NaN and inf become None (null)."""
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        v = float(v)
        return v if math.isfinite(v) else None
    return v


def _csv_cell(v):
    if v is None:
        return ""
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, (list, tuple)):
        return ";".join(str(x) for x in v)
    return str(v)


def _write_text(path, text):
    if path in (None, "-"):
        sys.stdout.write(text)
    else:
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        print(path)


def _csv_text(header, rows):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow([_csv_cell(r.get(h)) for h in header])
    return buf.getvalue()


POINT_FIELDS = ["learner", "input", "ridge", "d", "n", "n_runs", "n_failed", "median",
                "q25", "q75", "train_median", "width", "seconds_median", "flops_total",
                "status", "files"]


def _point_rows(points, table):
    rows = []
    for p in points:
        r = {k: v for k, v in p.items() if k not in ("values", "seeds")}
        r["files"] = [table.files[i].path for i in p["files"]]
        rows.append(r)
    return rows


def _extra_fields(rows):
    extra = []
    for r in rows:
        for k in r:
            if k not in POINT_FIELDS and k not in extra:
                extra.append(k)
    return sorted(extra)


# ---------------------------------------------------------------------------
# info


def cmd_info(args):
    for path in args.files:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", NeurepWarning)
            rf = load(path, curves=True)
        a = rf.attrs
        print("%s" % rf.path)
        print("  software   %s %s (git %s)" % (a.get("software"), a.get("version", "?"),
                                              a.get("git_revision", "?")))
        print("  status     %s" % rf.status)
        for k in ("created", "host", "mpi_ranks", "grid", "blas", "command_line"):
            if k in a:
                print("  %-10s %s" % (k, a[k]))
        t = rf.target()
        print("  target     degrees %s, coefficients %s, input %s, normalize %s, noise %s"
              % tuple(t[k] for k in ("data.degrees", "data.coefficients", "data.input",
                                     "data.normalize", "data.noise")))
        print("  config     from %s; representation %s, learner %s"
              % (rf.config_source, config_get(rf.config, "representation.kind", "?"),
                 config_get(rf.config, "learner.kind", "?")))
        c = rf.columns
        statuses = {}
        for s in c["status"]:
            statuses[s] = statuses.get(s, 0) + 1
        print("  rows       %d  (%s)" % (rf.nrows, ", ".join(
            "%s: %d" % kv for kv in sorted(statuses.items())) or "none"))
        print("  columns    %s" % ", ".join(c))
        print("  curves     %d" % len(rf.curves))
        for w in caught:
            print("  warning    %s" % w.message)
        if rf.nrows:
            from .resultfile import Table
            pts = aggregate(Table([rf]), "best")
            print("  %-18s %-26s %6s %6s %6s %14s" % ("learner", "input", "d", "n", "runs",
                                                      "median error"))
            for p in pts:
                print("  %-18s %-26s %6d %6d %6d %14.4g%s" % (
                    p["learner"], p["input"], p["d"], p["n"], p["n_runs"], p["median"],
                    "  (%d failed)" % p["n_failed"] if p["n_failed"] else ""))
        print()
    return 0


# ---------------------------------------------------------------------------
# errors


def _levels(table, ds):
    """Harmonic plateau levels per d, from the (common) target of the files."""
    from .theory import plateau_levels
    targets = {(tuple(f.degrees()), tuple(f.coefficients()),
                str(config_get(f.config, "data.input", "sphere"))) for f in table.files}
    if len(targets) != 1:
        warnings.warn("files have different targets: no harmonic levels drawn", NeurepWarning)
        return None
    degrees, coefs, inp = targets.pop()
    if len(degrees) > 1:
        warnings.warn("harmonic levels assume the terms' directions beta_s are "
                      "orthonormal (SPEC 1.1)", NeurepWarning)
    return {d: plateau_levels(degrees, coefs, d, inp) for d in ds}


def cmd_errors(args):
    table = _filter(load_many(args.files, args.allow_mixed), args)
    points = aggregate(table, args.ridge)
    ds = sorted({p["d"] for p in points})
    levels = _levels(table, ds) if args.harmonic_levels else None
    theory = None
    if args.theory:
        from .predict import theory_curves
        theory, notes = theory_curves(table, points, args.ridge)
        for note in notes:
            warnings.warn(note, NeurepWarning)
    from .plots import plot_errors
    for path in plot_errors(points, args.output, _ridge_mode(args.ridge), eps=args.eps,
                            levels=levels, title=args.title, formats=_formats(args.format),
                            ymin=args.ymin or None, theory=theory):
        print(path)
    return 0


def _ridge_mode(r):
    return r if r in ("best", "val", "all") else "fixed"


# ---------------------------------------------------------------------------
# complexity


def _complexity_json(rows):
    out = []
    for r in rows:
        o = {k: _num(r[k]) for k in ("learner", "input", "ridge", "eps", "eps_share", "p",
                                     "theory", "theory_note")}
        o["eps_rule"] = r["eps_rule"]
        o["n_eps"] = [{"d": d, "eps": _num(v["eps"]), "n_eps": _num(v["n_eps"]),
                       "flag": v["flag"], "text": v["text"], "n_min": v["n_min"],
                       "n_max": v["n_max"], "seeds": v["seeds"]}
                      for d, v in sorted(r["per_d"].items())]
        o["fit"] = {k: _num(v) if not isinstance(v, list) else v for k, v in r["fit"].items()}
        if "boot" in r:
            o["bootstrap"] = {k: _num(v) for k, v in r["boot"].items()}
        o["per_seed"] = [{"seed": ps["seed"], "slope": _num(ps["slope"]), "d_used": ps["d_used"],
                          "n_eps": {str(d): _num(v) for d, (v, _) in sorted(ps["n_eps"].items())}}
                         for ps in r.get("per_seed", [])]
        o["notes"] = r.get("notes", [])
        out.append(o)
    return out


def _fmt(v, spec="%.2f"):
    return "\u2014" if v is None or (isinstance(v, float) and not math.isfinite(v)) else spec % v


def _d_range(used):
    return "%d-%d (%d)" % (min(used), max(used), len(used)) if used else "\u2014"


def _complexity_table(rows, level):
    ds = sorted({d for r in rows for d in r["per_d"]})
    boot = any("boot" in r for r in rows)
    head = ["learner", "input"] + ["d=%d" % d for d in ds] + ["exponent"] + \
        (["bootstrap %g%%" % (100 * level)] if boot else []) + \
        ["t %g%% CI" % (100 * level), "d range (#d)", "theory"]
    body = []
    for r in rows:
        name = r["learner"] + ("" if r["ridge"] is None else " (ridge %g)" % r["ridge"])
        line = [name, r["input"]]
        line += [r["per_d"][d]["text"] if d in r["per_d"] else "" for d in ds]
        f = r["fit"]
        line.append(_fmt(f["slope"]))
        if boot:
            b = r.get("boot")
            line.append("[%s, %s]" % (_fmt(b["ci_low"]), _fmt(b["ci_high"]))
                        if b and math.isfinite(b["ci_low"]) else "\u2014")
        line.append("[%s, %s]" % (_fmt(f["ci_low"]), _fmt(f["ci_high"]))
                    if math.isfinite(f["ci_low"]) else
                    ("undefined (2 points)" if f["dof"] == 0 and math.isfinite(f["slope"])
                     else "\u2014"))
        line.append(_d_range(f.get("d_used", [])))
        line.append(_fmt(r["theory"], "%d"))
        body.append(line)
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    fmt = "  ".join("%%-%ds" % w for w in widths)
    lines = [fmt % tuple(head), fmt % tuple("-" * w for w in widths)]
    lines += [fmt % tuple(b) for b in body]
    lines = [ln.rstrip() for ln in lines]
    if rows and rows[0].get("eps_share") is not None:
        per = sorted({(d, v["eps"]) for r in rows for d, v in r["per_d"].items()})
        lines.append("n_eps: smallest n with median test error < eps(d) = %s: %s "
                     "(log-log interpolation); '< n' = below eps at the smallest n."
                     % (rows[0]["eps_rule"], ", ".join("eps(%d) = %.4g" % dv for dv in per)))
    else:
        eps = rows[0]["eps"] if rows else float("nan")
        lines.append("n_eps: smallest n with median test error < eps = %g (log-log "
                     "interpolation); '< n' = below eps at the smallest n." % eps)
    if boot:
        lines.append("bootstrap: percentile interval of the slope over %d resamplings of the "
                     "seeds (jointly across d); t: interval of the least-squares fit to the "
                     "median n_eps." % max(r["boot"]["requested"] for r in rows if "boot" in r))
    seed_lines = []
    for r in rows:
        fits = [ps for ps in r.get("per_seed", []) if math.isfinite(ps["slope"])]
        if len(fits) > 1:
            seed_lines.append("  %s on %s: %s" % (r["learner"], r["input"], ", ".join(
                "seed %d %.2f (d %s)" % (ps["seed"], ps["slope"], _d_range(ps["d_used"]))
                for ps in fits)))
    if seed_lines:
        lines.append("per-seed exponents (each seed's own n_eps):")
        lines += seed_lines
    for r in rows:
        for note in r.get("notes", []):
            lines.append("warning: %s on %s: %s" % (r["learner"], r["input"], note))
    return "\n".join(lines) + "\n"


def cmd_complexity(args):
    if not 0 < args.eps:
        raise NeurepError("--eps must be positive, not %g" % args.eps)
    if not 0 < args.level < 1:
        raise NeurepError("--level must be in (0, 1), not %g" % args.level)
    if args.bootstrap < 0:
        raise NeurepError("--bootstrap must be 0 (none) or a number of replicates, not %d"
                          % args.bootstrap)
    table = _filter(load_many(args.files, args.allow_mixed), args)
    sets = [complexity(table, args.eps, args.ridge, args.bootstrap, args.level)]
    if args.eps_share is not None:
        sets.append(complexity(table, None, args.ridge, args.bootstrap, args.level,
                               eps_share=args.eps_share))
    rows = [r for rs in sets for r in rs]
    if args.json:
        sys.stdout.write(json.dumps(_complexity_json(rows), indent=2) + "\n")
    else:
        sys.stdout.write("\n".join(_complexity_table(rs, args.level) for rs in sets))
    if args.output:
        long_rows, fit_rows = [], []
        for r in rows:
            for d, v in sorted(r["per_d"].items()):
                long_rows.append({"learner": r["learner"], "input": r["input"],
                                  "ridge": r["ridge"], "eps_rule": r["eps_rule"], "eps": v["eps"],
                                  "d": d, "n_eps": v["n_eps"], "flag": v["flag"],
                                  "n_min": v["n_min"], "n_max": v["n_max"],
                                  "seeds": v["seeds"]})
            f = r["fit"]
            fr = {"learner": r["learner"], "input": r["input"], "ridge": r["ridge"],
                  "eps_rule": r["eps_rule"], "eps": r["eps"], "p": r["p"], "slope": f["slope"],
                  "ci_low": f["ci_low"], "ci_high": f["ci_high"], "level": args.level,
                  "se": f["se"], "n_points": f["n_points"], "theory": r["theory"],
                  "theory_note": r["theory_note"], "d_used": f["d_used"],
                  "seed_slopes": ["%d:%s" % (ps["seed"], _csv_cell(ps["slope"]))
                                  for ps in r["per_seed"]],
                  "notes": r["notes"]}
            if "boot" in r:
                fr["boot_ci_low"] = r["boot"]["ci_low"]
                fr["boot_ci_high"] = r["boot"]["ci_high"]
                fr["boot_replicates"] = r["boot"]["replicates"]
                fr["boot_dropped"] = r["boot"]["dropped"]
            fit_rows.append(fr)
        _write_text(args.output + "_complexity.csv", _csv_text(
            ["learner", "input", "ridge", "eps_rule", "eps", "d", "n_eps", "flag", "n_min",
             "n_max", "seeds"], long_rows))
        fit_head = ["learner", "input", "ridge", "eps_rule", "eps", "p", "slope", "ci_low",
                    "ci_high", "level", "se", "n_points", "theory", "theory_note", "d_used",
                    "seed_slopes", "notes"]
        if args.bootstrap:
            fit_head += ["boot_ci_low", "boot_ci_high", "boot_replicates", "boot_dropped"]
        _write_text(args.output + "_exponents.csv", _csv_text(fit_head, fit_rows))
        _write_text(args.output + "_complexity.json",
                    json.dumps(_complexity_json(rows), indent=2) + "\n")
        from .plots import plot_complexity
        for path in plot_complexity(sets[0], args.output, _formats(args.format)):
            print(path)
        if len(sets) > 1:
            for path in plot_complexity(sets[1], args.output + "_share", _formats(args.format)):
                print(path)
    return 0


# ---------------------------------------------------------------------------
# curves


def cmd_curves(args):
    table = load_many(args.files, args.allow_mixed, curves=True)
    curves = []
    for f in table.files:
        for c in f.curves:
            c = dict(c, file=f.path)
            if args.d and int(c.get("d", -1)) not in args.d:
                continue
            if args.n and int(c.get("n", -1)) not in args.n:
                continue
            if args.seed and int(c.get("seed", -1)) not in args.seed:
                continue
            if args.learner and not any(fnmatch.fnmatchcase(str(c.get("learner", "")), p)
                                        for p in args.learner):
                continue
            if args.input and not any(fnmatch.fnmatchcase(str(c.get("input", "")), p)
                                      for p in args.input):
                continue
            curves.append(c)
    if not curves:
        raise NeurepError("no training curves%s in %s (only iterative taylor:* learners "
                          "write /curves)" % (" match the filters" if any(
                              (args.d, args.n, args.seed, args.learner, args.input)) else "",
                              ", ".join(args.files)))
    from .plots import plot_curves
    for path in plot_curves(curves, args.output, args.weight_norm, _formats(args.format)):
        print(path)
    return 0


# ---------------------------------------------------------------------------
# summary


def cmd_summary(args):
    table = _filter(load_many(args.files, args.allow_mixed), args)
    fmt = args.format
    if fmt is None:
        fmt = "json" if (args.output or "").lower().endswith(".json") else "csv"
    if args.raw:
        c = table.columns
        names = [k for k in c if k != "file"]
        rows = []
        for i in range(len(table)):
            r = {k: (c[k][i].item() if isinstance(c[k][i], np.generic) else c[k][i])
                 for k in names}
            r["file"] = table.files[int(c["file"][i])].path
            rows.append(r)
        header = ["file"] + names
    else:
        rows = _point_rows(aggregate(table, args.ridge), table)
        header = POINT_FIELDS + _extra_fields(rows)
    if fmt == "csv":
        _write_text(args.output, _csv_text(header, rows))
        return 0
    doc = {
        "generator": "%s %s" % (PROG, __version__),
        "files": [{"path": f.path, "status": f.status, "rows": f.nrows,
                   "attributes": {k: _num(v) for k, v in f.attrs.items()},
                   "target": f.target()} for f in table.files],
        "kind": "rows" if args.raw else "points",
        "ridge": args.ridge,
        "rows": [{k: ([_num(x) for x in v] if isinstance(v, list) else _num(v))
                  for k, v in r.items()} for r in rows],
    }
    if not args.raw:
        doc["complexity"] = _complexity_json(complexity(table, args.eps, args.ridge))
    _write_text(args.output, json.dumps(doc, indent=2) + "\n")
    return 0


# ---------------------------------------------------------------------------
# parser


def _ridge_arg(text):
    if text in ("best", "val", "selected", "all"):
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("best, val, selected, all or a number") from None


def _common(p, ridge=True, filters=True):
    p.add_argument("files", nargs="+", metavar="FILE.h5", help="neurep results file(s)")
    p.add_argument("--allow-mixed", action="store_true",
                   help="combine files whose target (data.degrees, coefficients, input, "
                        "normalize, noise) differs")
    if ridge:
        p.add_argument("--ridge", type=_ridge_arg, default="best",
                       help="kernel ridge choice per (d, n): best (lowest median test "
                            "error, default), val (lowest median validation_error), selected (the ridge each run chose, selected = 1), all (a line "
                            "per ridge), or a value")
    if filters:
        p.add_argument("--learner", action="append", metavar="GLOB",
                       help="only learners matching GLOB, e.g. 'kernel:*' (repeatable)")
        p.add_argument("--input", action="append", metavar="GLOB",
                       help="only inputs matching GLOB, e.g. 'h:*' (repeatable)")
        p.add_argument("--d", type=int, action="append", metavar="D",
                       help="only this d (repeatable)")


def build_parser():
    ap = argparse.ArgumentParser(
        prog=PROG,
        description="Analyse neurep results files: error-vs-n plots, sample-complexity "
                    "tables with fitted and theoretical exponents, training curves, "
                    "CSV/JSON summaries.  Exit status 2 on bad input.")
    ap.add_argument("--version", action="version", version="%(prog)s " + __version__)
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("info", help="what a results file holds",
                       description="Print each file's metadata, status, target, columns "
                                   "and the median test error per point.")
    p.add_argument("files", nargs="+", metavar="FILE.h5")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("errors", help="test error vs n, log-log, a panel per d",
                       description="Plot the median test error over seeds against n "
                                   "(log-log) with an inter-quartile band: one panel per "
                                   "d, one line per (learner, input).  Writes "
                                   "PREFIX_errors.png and .pdf.")
    _common(p)
    p.add_argument("-o", "--output", default="neurep", metavar="PREFIX",
                   help="output prefix (default: neurep)")
    p.add_argument("--eps", type=float, help="draw the threshold eps as a dashed line")
    p.add_argument("--harmonic-levels", action="store_true",
                   help="draw, per d, the share of Var f* in the harmonic degrees >= k "
                        "(the plateaus of an inner-product kernel; for p = 4 the "
                        "degree-4 share)")
    p.add_argument("--theory", action="store_true",
                   help="draw the theory learning curve of each kernel line (deterministic "
                        "equivalent of kernel ridge regression, analysis predict), dashed")
    p.add_argument("--title", help="figure title")
    p.add_argument("--ymin", type=float, default=1e-6,
                   help="errors below this are drawn at it, where the axis starts (default 1e-6; 0: no limit)")
    p.add_argument("--format", default="png,pdf", help="formats (default: png,pdf)")
    p.set_defaults(func=cmd_errors)

    p = sub.add_parser("complexity", help="sample-complexity table n_eps(d) and exponents",
                       description="Tabulate n_eps(d), the smallest n at which the median "
                                   "test error drops below eps (log-log interpolation), "
                                   "per (learner, input); fit the growth exponent in d "
                                   "with a t-interval and show the theory's exponent.  "
                                   "With -o also write PREFIX_complexity.csv (per d), "
                                   "PREFIX_exponents.csv, PREFIX_complexity.json and "
                                   "PREFIX_complexity.png/.pdf.")
    _common(p)
    p.add_argument("--eps", type=float, default=0.1, help="error threshold (default 0.1)")
    p.add_argument("--level", type=float, default=0.95,
                   help="confidence level of the intervals (default 0.95)")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="B",
                   help="bootstrap interval of the exponent from B resamplings of the seeds, "
                        "jointly across d (default 1000; 0: none)")
    p.add_argument("--eps-share", type=float, metavar="S",
                   help="also thresholds relative to theory: eps(d) = S x the share of Var f* "
                        "in the target's top harmonic degree at d (e.g. 0.5), a second table")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("-o", "--output", metavar="PREFIX", help="write CSV, JSON and a plot")
    p.add_argument("--format", default="png,pdf", help="plot formats (default: png,pdf)")
    p.set_defaults(func=cmd_complexity)

    from .predict import add_parser as add_predict
    add_predict(sub, _common)

    p = sub.add_parser("curves", help="training curves of iterative learners",
                       description="Plot train loss and test error against step for the "
                                   "taylor:* learners' /curves: one figure per (learner, "
                                   "input), a row per d, colour by n.  Writes "
                                   "PREFIX_curves_<learner>_<input>.png and .pdf.")
    _common(p, ridge=False)
    p.add_argument("--n", type=int, action="append", metavar="N", help="only this n")
    p.add_argument("--seed", type=int, action="append", metavar="S", help="only this seed")
    p.add_argument("--weight-norm", action="store_true", help="add a weight-norm column")
    p.add_argument("-o", "--output", default="neurep", metavar="PREFIX",
                   help="output prefix (default: neurep)")
    p.add_argument("--format", default="png,pdf", help="formats (default: png,pdf)")
    p.set_defaults(func=cmd_curves)

    p = sub.add_parser("summary", help="points (or raw rows) as CSV or JSON",
                       description="Write the median, quartiles, failure counts and "
                                   "carried-through columns per (learner, input, d, n) "
                                   "(or every row with --raw) as CSV or JSON; JSON adds "
                                   "file metadata and the complexity table.")
    _common(p)
    p.add_argument("-o", "--output", default="-", metavar="OUT",
                   help="output file, '-' for stdout (default)")
    p.add_argument("--format", choices=("csv", "json"),
                   help="default: json if OUT ends in .json, else csv")
    p.add_argument("--raw", action="store_true", help="every row instead of per-point stats")
    p.add_argument("--eps", type=float, default=0.1, help="eps of the JSON complexity table")
    p.set_defaults(func=cmd_summary)
    return ap


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)

    def show(message, category, filename, lineno, file=None, line=None):
        print("%s: warning: %s" % (PROG, message), file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("always", NeurepWarning)
        warnings.showwarning = show
        try:
            return args.func(args)
        except NeurepError as exc:
            print("%s: error: %s" % (PROG, exc), file=sys.stderr)
            return 2
        except BrokenPipeError:  # e.g. piped into head: not an error
            try:
                sys.stdout = open(os.devnull, "w")
            except OSError:
                pass
            return 0
        except OSError as exc:
            print("%s: error: %s" % (PROG, exc), file=sys.stderr)
            return 1
