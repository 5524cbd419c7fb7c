"""Command line: python3 -m neurep_analysis {info,errors,complexity,curves,summary,claims} ...

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
from .frame import curves_frame, frame, merge_curves
from .resultfile import NeurepError, NeurepWarning, config_get, load, load_many
from .stats import (ORACLE_TEXT, aggregate, choice_text, complexity, is_oracle,
                    normalize_choice)

PROG = "neurep-analysis"


# ---------------------------------------------------------------------------
# shared helpers


def _load(args, curves=False):
    """The DataFrame of the files (frame.load) with the --learner/--input/--d
    filters applied, and the Table it came from (for per-file metadata)."""
    table = load_many(args.files, args.allow_mixed, curves=curves)
    df = frame(table)
    keep = np.ones(len(df), dtype=bool)
    if getattr(args, "learner", None):
        keep &= np.array([any(fnmatch.fnmatchcase(v, pat) for pat in args.learner)
                          for v in df["learner"]], dtype=bool)
    if getattr(args, "input", None):
        keep &= np.array([any(fnmatch.fnmatchcase(v, pat) for pat in args.input)
                          for v in df["input"]], dtype=bool)
    if getattr(args, "d", None):
        keep &= df["d"].isin(args.d).to_numpy()
    if keep.size == 0:
        raise NeurepError("no result rows in %s" % ", ".join(f.path for f in table.files))
    if not keep.any():
        raise NeurepError("no result rows match the --learner/--input/--d filters")
    out = df[keep].reset_index(drop=True)
    out.attrs = df.attrs
    return out, table


def _choice(args):
    """The choice of rows per point from --choice, --oracle and the deprecated --ridge."""
    choice = getattr(args, "choice", None)
    old = getattr(args, "ridge", None)
    if old is not None:
        warnings.warn("--ridge is deprecated (it chose candidates too): use --choice, or "
                      "--oracle for the test-set choice ('best')", NeurepWarning)
        if choice is not None:
            raise NeurepError("give --choice or the deprecated --ridge, not both")
        choice = old
    if getattr(args, "oracle", False):
        if choice not in (None, "oracle", "best"):
            raise NeurepError("--oracle is itself a choice (on the test set); it cannot be "
                              "combined with --choice %s" % choice)
        choice = "oracle"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NeurepWarning)   # 'best' is named above
        return normalize_choice(choice)


def _labels(args):
    """The --label PATTERN=TEXT options (split where PATTERN matches, see plots.pretty_label)."""
    out = list(getattr(args, "label", None) or ())
    for text in out:
        if "=" not in text[1:]:
            raise NeurepError("--label takes PATTERN=TEXT, e.g. '*quadratic*=Quad on h(x)', "
                              "not %r" % text)
    return out


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


POINT_FIELDS = ["choice", "learner", "input", "setting", "target", "d", "n", "n_runs",
                "n_failed", "median", "q25", "q75", "chosen", "ridge", "train_median", "width",
                "seconds_median", "flops_total", "status", "files"]


def _choice_name(choice):
    """The choice as written in outputs: 'oracle (chosen on the test set)' for the oracle."""
    return ORACLE_TEXT if is_oracle(choice) else (
        choice if isinstance(choice, str) else "ridge %g" % choice)


def _point_rows(points, files):
    rows = []
    for p in points:
        r = {k: v for k, v in p.items() if k not in ("values", "seeds", "line")}
        r["choice"] = _choice_name(p["choice"])
        r["files"] = [files[i] for i in p["files"]]
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
    choice = _choice(args)
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
            with warnings.catch_warnings(record=True) as lost:
                warnings.simplefilter("always", NeurepWarning)
                pts = aggregate(frame(Table([rf])), choice)
            for w in lost:
                print("  warning    %s" % w.message)
            print("  median test error over seeds; rows per point: %s" % choice_text(choice))
            print("  %-18s %-26s %6s %6s %6s %14s  %s" % ("learner", "input", "d", "n", "seeds",
                                                          "median error", "chosen"))
            for p in pts:
                print("  %-18s %-26s %6d %6d %6d %14.4g  %s%s" % (
                    p["learner"], p["input"], p["d"], p["n"], len(set(p["seeds"].tolist())),
                    p["median"], p["setting"] or p["chosen"],
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
                      "orthonormal", NeurepWarning)
    return {d: plateau_levels(degrees, coefs, d, inp) for d in ds}


def cmd_errors(args):
    choice = _choice(args)
    df, table = _load(args)
    points = aggregate(df, choice)
    ds = sorted({p["d"] for p in points})
    levels = _levels(table, ds) if args.harmonic_levels else None
    theory = None
    if args.theory:
        from .predict import theory_curves
        theory, notes = theory_curves(table, points)
        for note in notes:
            warnings.warn(note, NeurepWarning)
    from .plots import plot_errors
    for path in plot_errors(points, args.output, choice, eps=args.eps, levels=levels,
                            title=args.title, formats=_formats(args.format),
                            ymin=args.ymin or None, labels=_labels(args), theory=theory):
        print(path)
    return 0


# ---------------------------------------------------------------------------
# complexity


def _complexity_json(rows):
    out = []
    for r in rows:
        o = {k: _num(r[k]) for k in ("learner", "input", "setting", "target", "eps",
                                     "eps_share", "p", "theory", "theory_note")}
        o["eps_rule"] = r["eps_rule"]
        o["choice"] = _choice_name(r["choice"])
        o["n_eps"] = [{"d": d, "eps": _num(v["eps"]), "n_eps": _num(v["n_eps"]), "flag": v["flag"],
                       "text": v["text"], "n_min": v["n_min"], "n_max": v["n_max"],
                       "seeds": v["seeds"],
                       "chosen": {str(n): c for n, c in sorted(v["chosen"].items())}}
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
    if not used:
        return "\u2014"
    if len(used) == 1:
        return "%d (1)" % used[0]
    return "%d-%d (%d)" % (min(used), max(used), len(used))


def _line_name(r):
    return "%s on %s" % (r["learner"], r["input"]) + \
        ("" if r["setting"] is None else " (%s)" % r["setting"]) + \
        ("" if r["target"] is None else " [%s]" % r["target"])


def _complexity_table(rows, level, choice):
    ds = sorted({d for r in rows for d in r["per_d"]})
    boot = any("boot" in r for r in rows)
    head = ["learner", "input"] + ["d=%d" % d for d in ds] + ["exponent"] + \
        (["bootstrap %g%%" % (100 * level)] if boot else []) + \
        ["t %g%% CI" % (100 * level), "d range (#d)", "theory"]
    body = []
    for r in rows:
        name = r["learner"] + ("" if r["setting"] is None else " (%s)" % r["setting"]) \
            + ("" if r["target"] is None else " [%s]" % r["target"])
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
    lines = []
    if is_oracle(choice):
        lines.append("%s: every n_eps below uses the setting with the lowest median test "
                     "error per (d, n)" % ORACLE_TEXT.upper())
    lines += [fmt % tuple(head), fmt % tuple("-" * w for w in widths)]
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
    searched = [_line_name(r) for r in rows if r.get("search")]
    if searched:
        lines.append("searched n (sweep.target_error; %s): n_eps is the median over seeds of each "
                     "seed's n_eps in /complexity (log-log interpolation in its final bracket); "
                     "a seed that stopped at the floor or n_max counts as not reached."
                     % "; ".join(searched))
    lines.append("rows per point: %s." % choice_text(choice))
    if boot:
        lines.append("bootstrap: percentile interval of the slope over %d resamplings of the "
                     "seeds (jointly across d); t: interval of the least-squares fit to the "
                     "median n_eps." % max(r["boot"]["requested"] for r in rows if "boot" in r))
    seed_lines = []
    for r in rows:
        fits = [ps for ps in r.get("per_seed", []) if math.isfinite(ps["slope"])]
        if len(fits) > 1:
            seed_lines.append("  %s: %s" % (_line_name(r), ", ".join(
                "seed %d %.2f (d %s)" % (ps["seed"], ps["slope"], _d_range(ps["d_used"]))
                for ps in fits)))
    if seed_lines:
        lines.append("per-seed exponents (each seed's own n_eps):")
        lines += seed_lines
    for r in rows:
        for note in r.get("notes", []):
            lines.append("warning: %s: %s" % (_line_name(r), note))
    return "\n".join(lines) + "\n"


def cmd_complexity(args):
    if not 0 < args.eps:
        raise NeurepError("--eps must be positive, not %g" % args.eps)
    if not 0 < args.level < 1:
        raise NeurepError("--level must be in (0, 1), not %g" % args.level)
    if args.bootstrap < 0:
        raise NeurepError("--bootstrap must be 0 (none) or a number of replicates, not %d"
                          % args.bootstrap)
    choice = _choice(args)
    df, _ = _load(args)
    sets = [complexity(df, args.eps, choice, args.bootstrap, args.level)]
    if args.eps_share is not None:
        sets.append(complexity(df, None, choice, args.bootstrap, args.level,
                               eps_share=args.eps_share))
    rows = [r for rs in sets for r in rs]
    if args.json:
        sys.stdout.write(json.dumps(_complexity_json(rows), indent=2) + "\n")
    else:
        sys.stdout.write("\n".join(_complexity_table(rs, args.level, choice) for rs in sets))
    if args.output:
        long_rows, fit_rows = [], []
        cname = _choice_name(choice)
        for r in rows:
            for d, v in sorted(r["per_d"].items()):
                long_rows.append({"choice": cname, "learner": r["learner"], "input": r["input"],
                                  "setting": r["setting"], "target": r["target"],
                                  "eps_rule": r["eps_rule"], "eps": v["eps"], "d": d,
                                  "n_eps": v["n_eps"], "flag": v["flag"],
                                  "n_min": v["n_min"], "n_max": v["n_max"],
                                  "seeds": v["seeds"]})
            f = r["fit"]
            fr = {"choice": cname, "learner": r["learner"], "input": r["input"],
                  "setting": r["setting"], "target": r["target"],
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
            ["choice", "learner", "input", "setting", "target", "eps_rule", "eps", "d", "n_eps",
             "flag", "n_min", "n_max", "seeds"], long_rows))
        fit_head = ["choice", "learner", "input", "setting", "target", "eps_rule", "eps", "p",
                    "slope", "ci_low", "ci_high", "level", "se", "n_points", "theory",
                    "theory_note", "d_used", "seed_slopes", "notes"]
        if args.bootstrap:
            fit_head += ["boot_ci_low", "boot_ci_high", "boot_replicates", "boot_dropped"]
        _write_text(args.output + "_exponents.csv", _csv_text(fit_head, fit_rows))
        _write_text(args.output + "_complexity.json",
                    json.dumps(_complexity_json(rows), indent=2) + "\n")
        from .plots import plot_complexity
        for path in plot_complexity(sets[0], args.output, _formats(args.format), _labels(args),
                                    choice):
            print(path)
        if len(sets) > 1:
            for path in plot_complexity(sets[1], args.output + "_share", _formats(args.format),
                                        _labels(args), choice):
                print(path)
    return 0


# ---------------------------------------------------------------------------
# curves


def cmd_curves(args):
    df, table = _load(args, curves=True)
    curves = merge_curves(curves_frame(table), df)
    keep = np.ones(len(curves), dtype=bool)
    if len(curves):
        keep &= curves["learner"].notna().to_numpy()
        if args.d:
            keep &= curves["d"].isin(args.d).to_numpy()
        if args.n:
            keep &= curves["n"].isin(args.n).to_numpy()
        if args.seed:
            keep &= curves["seed"].isin(args.seed).to_numpy()
        if args.learner:
            keep &= np.array([any(fnmatch.fnmatchcase(v, p) for p in args.learner)
                              for v in curves["learner"]], dtype=bool)
        if args.input:
            keep &= np.array([any(fnmatch.fnmatchcase(v, p) for p in args.input)
                              for v in curves["input"]], dtype=bool)
        if not args.all_candidates:
            keep &= curves["selected"].to_numpy(dtype=bool)
    curves = curves[keep]
    if curves.empty:
        raise NeurepError("no training curves%s in %s (only iterative taylor:* learners "
                          "write /curves)" % (" match the filters" if any(
                              (args.d, args.n, args.seed, args.learner, args.input)) else "",
                              ", ".join(args.files)))
    from .plots import plot_curves
    for path in plot_curves(curves, args.output, args.weight_norm, _formats(args.format),
                            _labels(args), selected_only=not args.all_candidates):
        print(path)
    return 0


# ---------------------------------------------------------------------------
# summary


def cmd_summary(args):
    choice = _choice(args)
    df, table = _load(args)
    fmt = args.format
    if fmt is None:
        fmt = "json" if (args.output or "").lower().endswith(".json") else "csv"
    if args.raw:
        header = list(df.columns)
        rows = [{k: (v.item() if isinstance(v, np.generic) else v) for k, v in r.items()}
                for r in df.to_dict("records")]
    else:
        rows = _point_rows(aggregate(df, choice), [f.path for f in table.files])
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
        "choice": _choice_name(choice),
        "rows": [{k: ([_num(x) for x in v] if isinstance(v, list) else _num(v))
                  for k, v in r.items()} for r in rows],
    }
    if not args.raw:
        doc["complexity"] = _complexity_json(complexity(df, args.eps, choice))
    _write_text(args.output, json.dumps(doc, indent=2) + "\n")
    return 0


# ---------------------------------------------------------------------------
# claims


def cmd_claims(args):
    from . import claims as cl
    if args.bootstrap < 1:
        raise NeurepError("--bootstrap must be a number of replicates (at least 1), not %d"
                          % args.bootstrap)
    spec = cl.load_spec(args.spec)
    entries, unknown = cl.measure(spec, args.files, args.bootstrap)
    floor_rows = cl.floors(spec, args.files)
    sources = args.source or "%d files" % len(args.files)
    text = cl.markdown(entries, floor_rows, unknown, sources)
    if not args.output:
        sys.stdout.write(text)
        return 0
    if os.path.dirname(args.output):
        os.makedirs(os.path.dirname(args.output), exist_ok=True)
    _write_text(args.output + ".md", text)
    _write_text(args.output + ".csv", _csv_text(cl.CSV_HEAD, cl.csv_rows(entries)))
    _write_text(args.output + "_floors.csv", _csv_text(cl.FLOOR_HEAD, cl.floor_csv_rows(floor_rows)))
    for e in entries:
        print("claim %d %s: %s" % (e["claim"]["index"], e["config"], e["verdict"]))
    return 0


# ---------------------------------------------------------------------------
# parser


def _choice_arg(text):
    if text in ("selected", "val", "all", "best", "oracle"):
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("selected, val, all or a ridge value") from None


def _common(p, choice=True, filters=True, labels=False):
    p.add_argument("files", nargs="+", metavar="FILE.h5", help="neurep results file(s)")
    p.add_argument("--allow-mixed", action="store_true",
                   help="combine files whose target (data.degrees, coefficients, input, "
                        "normalize, noise) differs; each target is its own line and panel")
    if choice:
        p.add_argument("--choice", type=_choice_arg, default=None,
                       help="which row of a point (d, n, seed) to use among its ridges or "
                            "candidate settings (m, learning rate, regulariser): selected "
                            "(default: the row each run chose on its validation split; a file "
                            "without a choice has one row per point), val (per (d, n) the "
                            "setting with the lowest median validation error), all (a line per "
                            "setting), or a ridge value")
        p.add_argument("--oracle", action="store_true",
                       help="choose per (d, n) the setting with the lowest median TEST error; "
                            "every output then says '%s'" % ORACLE_TEXT)
        p.add_argument("--ridge", type=_choice_arg, default=None, help=argparse.SUPPRESS)
    if filters:
        p.add_argument("--learner", action="append", metavar="GLOB",
                       help="only learners matching GLOB, e.g. 'kernel:*' (repeatable)")
        p.add_argument("--input", action="append", metavar="GLOB",
                       help="only inputs matching GLOB, e.g. 'h:*' (repeatable)")
        p.add_argument("--d", type=int, action="append", metavar="D",
                       help="only this d (repeatable)")
    if labels:
        p.add_argument("--label", action="append", metavar="PATTERN=TEXT",
                       help="legend label TEXT for the lines whose 'learner on input' (or "
                            "readable label) matches the glob PATTERN, e.g. "
                            "'*quadratic*=Quad on h(x)' (repeatable; first match wins)")


def build_parser():
    ap = argparse.ArgumentParser(
        prog=PROG,
        description="Analyse neurep results files: error-vs-n plots, sample-complexity "
                    "tables with fitted and theoretical exponents, training curves, "
                    "CSV/JSON summaries.  By default every command uses the rows each run "
                    "selected on its validation split; --oracle (a choice on the test set) "
                    "is labelled as such.  Exit status 2 on bad input.")
    ap.add_argument("--version", action="version", version="%(prog)s " + __version__)
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("info", help="what a results file holds",
                       description="Print each file's metadata, status, target, columns "
                                   "and the median test error per point over its seeds, "
                                   "with the setting each run chose.")
    _common(p, filters=False)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("errors", help="test error vs n, log-log, a panel per d",
                       description="Plot the median test error over seeds against n "
                                   "(log-log) with an inter-quartile band: one panel per "
                                   "d (and target), one line per (learner, input).  Writes "
                                   "PREFIX_errors.png and .pdf.")
    _common(p, labels=True)
    p.add_argument("-o", "--output", default="neurep", metavar="PREFIX",
                   help="output prefix (default: neurep)")
    p.add_argument("--eps", type=float, help="draw the threshold eps as a dashed line")
    p.add_argument("--harmonic-levels", action="store_true",
                   help="draw, per d, the share of Var f* in the harmonic degrees >= k "
                        "(the plateaus of an inner-product kernel; for p = 4 the "
                        "degree-4 share)")
    p.add_argument("--theory", action="store_true",
                   help="draw the theory learning curve of each kernel line (deterministic "
                        "equivalent of kernel ridge regression, as the predict command), dashed")
    p.add_argument("--title", help="figure title")
    p.add_argument("--ymin", type=float, default=0,
                   help="bottom of the error axis; smaller errors are drawn there as open "
                        "triangles (default: from the data, at most %d decades below the "
                        "largest error)" % 6)
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
    _common(p, labels=True)
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
    add_predict(sub)

    p = sub.add_parser("curves", help="training curves of iterative learners",
                       description="Plot training loss, validation error and test error "
                                   "against step for the taylor:* learners' /curves, of the "
                                   "candidate each run selected (all with --all-candidates), "
                                   "with the early-stopping step marked: one figure per "
                                   "(learner, input), a row per d, colour by n.  Writes "
                                   "PREFIX_curves_<learner>_<input>.png and .pdf.")
    _common(p, choice=False, labels=True)
    p.add_argument("--n", type=int, action="append", metavar="N", help="only this n")
    p.add_argument("--seed", type=int, action="append", metavar="S", help="only this seed")
    p.add_argument("--all-candidates", action="store_true",
                   help="every candidate's curve, not only the selected one")
    p.add_argument("--weight-norm", action="store_true", help="add a weight-norm column")
    p.add_argument("-o", "--output", default="neurep", metavar="PREFIX",
                   help="output prefix (default: neurep)")
    p.add_argument("--format", default="png,pdf", help="formats (default: png,pdf)")
    p.set_defaults(func=cmd_curves)

    p = sub.add_parser("summary", help="points (or raw rows) as CSV or JSON",
                       description="Write the median, quartiles, failure counts, the chosen "
                                   "ridge or candidate and carried-through columns per "
                                   "(learner, input, d, n) (or every row with --raw, the "
                                   "columns of neurep_analysis.load) as CSV or JSON; JSON "
                                   "adds file metadata and the complexity table.")
    _common(p)
    p.add_argument("-o", "--output", default="-", metavar="OUT",
                   help="output file, '-' for stdout (default)")
    p.add_argument("--format", choices=("csv", "json"),
                   help="default: json if OUT ends in .json, else csv")
    p.add_argument("--raw", action="store_true", help="every row instead of per-point stats")
    p.add_argument("--eps", type=float, default=0.1, help="eps of the JSON complexity table")
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("claims", help="the claim table: exponents, intervals, verdicts",
                       description="The table of a campaign's claims from its result files: "
                                   "per claim of the claims file (--spec, TOML: learner, input, "
                                   "target, theory exponent, configuration names) and per "
                                   "configuration, the exponent of n_eps(d) with its bootstrap "
                                   "interval at eps = 0.1, 0.05 and 0.5 x the top-degree share "
                                   "(where searched), the d and seeds, how the searches ended, "
                                   "the rows that did not converge, a suggested verdict by the "
                                   "rule it prints, and the least-squares floors. Files are "
                                   "matched to configurations by name (<config>.h5 or "
                                   "<config>_d<D>.h5). With -o: PREFIX.md, PREFIX.csv and "
                                   "PREFIX_floors.csv.")
    p.add_argument("files", nargs="+", metavar="FILE.h5", help="neurep results file(s)")
    p.add_argument("--spec", required=True, metavar="CLAIMS.toml", help="the claims file")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="B",
                   help="bootstrap replicates (default 1000)")
    p.add_argument("--source", metavar="TEXT", help="where the files are, for the header")
    p.add_argument("-o", "--output", metavar="PREFIX", help="write PREFIX.md, .csv, _floors.csv")
    p.set_defaults(func=cmd_claims)
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
