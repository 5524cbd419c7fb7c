"""`neurep-analysis predict` and `neurep-analysis errors --theory`: theory learning curves of kernel learners.

The predictions come from kernel_theory (the deterministic-equivalent risk of
kernel ridge regression on the sphere); here they are matched to neurep's
settings, either from options or from a results file's configuration.
"""

import math
import warnings

import numpy as np

from .kernel_theory import KERNELS, Representation, Setting, noise_in_units
from .resultfile import NeurepError, NeurepWarning, config_get


def setting_from_file(f, learner, d):
    """The kernel_theory.Setting of a results file's kernel learner at d, or (None, reason)."""
    kind, _, kernel = learner.partition(":")
    if kind != "kernel" or kernel not in KERNELS:
        return None, "no theory curve for %s (kernel learners %s only)" % (learner, ", ".join(KERNELS))
    cfg = f.config
    if str(config_get(cfg, "data.input", "sphere")) != "sphere":
        return None, "no theory curve for data.input = gaussian"
    rep = None
    if str(config_get(cfg, "representation.kind", "none")) == "random":
        if not bool(config_get(cfg, "representation.infinite", False)):
            return None, "no theory curve for a finite random representation (only infinite = true)"
        whiten = str(config_get(cfg, "representation.whiten", "zca"))
        rep = Representation(str(config_get(cfg, "representation.activation", "step")),
                             bool(config_get(cfg, "representation.bias", True)),
                             int(config_get(cfg, "representation.depth", 1)), whiten == "center")
    degrees, coefs = f.degrees(), f.coefficients()
    normalize = bool(config_get(cfg, "data.normalize", True))
    noise = noise_in_units(float(config_get(cfg, "data.noise", 0.0)), degrees, coefs, d, normalize)
    return Setting(kernel, d, bool(config_get(cfg, "learner.input_bias", False)), rep, degrees,
                   coefs, normalize, noise), ""


def file_ridges(f):
    return [float(r) for r in np.atleast_1d(config_get(f.config, "learner.ridge", [1e-6]))]


def _file_of(table, path):
    for f in table.files:
        if f.path == path:
            return f
    raise NeurepError("no file %s among the loaded ones" % path)


def _line_file(table, df, learner, inp):
    paths = df.loc[(df["learner"] == learner) & (df["input"] == inp), "file"]
    return _file_of(table, paths.iloc[0])


def theory_curves(table, points, n_grid=40):
    """{line key: {d: (n, predicted error)}} for errors --theory, and notes.

    A line's curve is at the ridge its points used when every seed of every
    point used one ridge (a fixed ridge, --choice all, or a selection that
    always chose the same); otherwise the lowest predicted error among the
    file's `learner.ridge` candidates at each n (the theory's best ridge on
    the same grid).
    """
    from .stats import by_group
    out, notes = {}, []
    for key, per_d in by_group(points).items():
        learner, inp = key[0], key[1]
        f = None
        for t in table.files:
            c = t.columns
            if np.any((c["learner"] == learner) & (c["input"] == inp)):
                f = t
                break
        used = {p["ridge"] for pts in per_d.values() for p in pts}
        ridges = list(used) if len(used) == 1 and None not in used else file_ridges(f)
        for d, pts in sorted(per_d.items()):
            st, why = setting_from_file(f, learner, d)
            if st is None:
                if why not in notes:
                    notes.append(why)
                break
            ns = np.geomspace(pts[0]["n"], pts[-1]["n"], n_grid)
            err = np.array([min(st.error(n, r) for r in ridges) for n in ns])
            out.setdefault(key, {})[d] = (ns, err)
    return out, notes


def compare(table, df, args):
    """Measured median (per ridge) against the prediction, point by point: list of dicts."""
    from .stats import aggregate
    rows, skipped = [], {}
    settings = {}
    for pt in aggregate(df, "all"):
        if args.n and pt["n"] not in args.n:
            continue
        f = _line_file(table, df, pt["learner"], pt["input"])
        key = (f.path, pt["learner"], pt["d"])
        if key not in settings:
            settings[key] = setting_from_file(f, pt["learner"], pt["d"])
        st, why = settings[key]
        if st is None:
            skipped.setdefault(why, None)
            continue
        r = 0.0 if pt["ridge"] is None else pt["ridge"]
        pred = st.error(pt["n"], r)
        rows.append({"learner": pt["learner"], "input": pt["input"], "d": pt["d"], "n": pt["n"],
                     "ridge": r, "measured": pt["median"], "q25": pt["q25"], "q75": pt["q75"],
                     "seeds": pt["n_runs"], "predicted": pred,
                     "ratio": pred / pt["median"] if pt["median"] > 0 else math.nan})
    if not rows:
        raise NeurepError("; ".join(skipped) or "no kernel rows to compare")
    for why in skipped:
        warnings.warn(why + ": left out", NeurepWarning)
    return rows


def cmd_predict(args):
    from .cli import _csv_text, _load, _write_text
    if args.compare:
        args.files = args.compare
        df, table = _load(args)
        rows = compare(table, df, args)
        head = ["learner", "input", "d", "n", "ridge", "seeds", "measured", "q25", "q75",
                "predicted", "ratio"]
    else:
        if args.eps is not None or args.eps_share is not None:
            return _predict_n_eps(args)
        if not args.d or not args.n:
            raise NeurepError("predict needs --d and --n (or --compare FILE.h5, or --eps)")
        if args.coefficients and len(args.coefficients) != len(args.degrees):
            raise NeurepError("--coefficients: %d values for %d --degrees"
                              % (len(args.coefficients), len(args.degrees)))
        if args.noise < 0:
            raise NeurepError("--noise must be non-negative, not %g" % args.noise)
        from .kernel_theory import predicted_error
        rows = []
        for d in args.d:
            st = _setting_of_args(args, d)
            for n in args.n:
                for r in args.ridge or [0.0]:
                    p = predicted_error(st.spectrum, st.energies, n, r, st.noise)
                    rows.append({"kernel": args.kernel, "d": d, "n": n, "ridge": r,
                                 "predicted": p["error"], "kappa": p["kappa"], "e0": p["e0"],
                                 "learnt_top": float(p["learnability"][max(args.degrees)])})
        head = ["kernel", "d", "n", "ridge", "predicted", "kappa", "e0", "learnt_top"]
    if args.csv:
        _write_text("-", _csv_text(head, rows))
        return 0
    print(_text_table(head, rows))
    if args.compare:
        print("measured: median test error over seeds at that ridge (every row is the fit on all n);"
              " predicted: deterministic-equivalent risk (neurep_analysis/kernel_theory.py); ratio = predicted / measured.")
    else:
        print("predicted: deterministic-equivalent test error / Var f* of kernel ridge regression "
              "(ridge relative to the mean kernel diagonal, as neurep's); kappa: effective ridge; "
              "e0: variance inflation; learnt_top: learnability of the top target degree.")
    return 0


def _setting_of_args(args, d):
    rep = None
    if args.representation:
        rep = Representation(args.representation, not args.no_representation_bias, args.depth,
                             args.center)
    coefs = args.coefficients or [1.0] * len(args.degrees)
    noise = noise_in_units(args.noise, args.degrees, coefs, d, not args.unnormalized)
    return Setting(args.kernel, d, args.input_bias, rep, args.degrees, coefs,
                   not args.unnormalized, noise)


def _predict_n_eps(args):
    """Predicted n_eps(d) at --eps or --eps-share and the exponent fitted to it."""
    from .cli import _csv_text, _write_text
    from .kernel_theory import predicted_n_eps
    from .stats import fit_power_law
    from .theory import harmonic_shares
    if not args.d:
        raise NeurepError("predict --eps/--eps-share needs --d (two or more for an exponent)")
    if args.eps is not None and args.eps_share is not None:
        raise NeurepError("give --eps or --eps-share, not both")
    if args.eps_share is not None and not 0 < args.eps_share <= 1:
        raise NeurepError("--eps-share must be in (0, 1], not %g" % args.eps_share)
    ridge = (args.ridge or [0.0])[0]
    coefs = args.coefficients or [1.0] * len(args.degrees)
    rows = []
    for d in sorted(set(args.d)):
        eps = args.eps if args.eps is not None else \
            args.eps_share * harmonic_shares(args.degrees, coefs, d)[max(args.degrees)]
        rows.append({"kernel": args.kernel, "d": d, "ridge": ridge, "eps": eps,
                     "n_eps": predicted_n_eps(_setting_of_args(args, d), eps, ridge)})
    ok = [r for r in rows if math.isfinite(r["n_eps"])]
    fit = fit_power_law([r["d"] for r in ok], [r["n_eps"] for r in ok])
    head = ["kernel", "d", "ridge", "eps", "n_eps"]
    if args.csv:
        _write_text("-", _csv_text(head, rows))
        return 0
    print(_text_table(head, rows))
    print("predicted n_eps: the n where the deterministic-equivalent error falls to eps%s; "
          "exponent (least squares of log n_eps on log d over %d d): %s"
          % ("" if args.eps is not None else " = %g x share of Var f* in degree %d"
             % (args.eps_share, max(args.degrees)), len(ok),
             "%.2f" % fit["slope"] if math.isfinite(fit["slope"]) else "\u2014"))
    return 0


def _text_table(head, rows):
    def cell(v):
        if isinstance(v, float):
            return "%.4g" % v
        return str(v)
    body = [[cell(r[h]) for h in head] for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    fmt = "  ".join("%%%ds" % w for w in widths)
    return "\n".join([fmt % tuple(head), fmt % tuple("-" * w for w in widths)] +
                     [fmt % tuple(b) for b in body])


def add_parser(sub):
    from .kernel_theory import ACTIVATIONS
    p = sub.add_parser("predict", help="theory test error of kernel ridge regression on the sphere",
                       description="Predicted test error / Var f* of kernel ridge regression with "
                                   "neurep's dot-product kernels on the sphere (deterministic "
                                   "equivalent from the Gegenbauer eigenvalues of the kernel and "
                                   "the target's energy per harmonic degree).  With --compare, "
                                   "the measured median of each (d, n, ridge) of results files "
                                   "beside its prediction.")
    p.add_argument("--kernel", choices=KERNELS, default="ntk", help="learner.kernel (default ntk)")
    p.add_argument("--d", type=int, action="append", metavar="D", help="input dimension (repeatable)")
    p.add_argument("--n", type=int, action="append", metavar="N", help="training samples (repeatable)")
    p.add_argument("--ridge", type=float, action="append", metavar="R",
                   help="learner.ridge, relative to the mean kernel diagonal (repeatable; default 0)")
    p.add_argument("--degrees", type=int, nargs="+", default=[4], metavar="P",
                   help="data.degrees (default 4)")
    p.add_argument("--coefficients", type=float, nargs="+", metavar="A", help="data.coefficients")
    p.add_argument("--noise", type=float, default=0.0, help="data.noise (default 0)")
    p.add_argument("--unnormalized", action="store_true", help="data.normalize = false")
    p.add_argument("--input-bias", action="store_true", help="learner.input_bias = true")
    p.add_argument("--representation", choices=ACTIVATIONS, metavar="ACT",
                   help="kernel on the infinite-width representation with this activation "
                        "(%s)" % ", ".join(ACTIVATIONS))
    p.add_argument("--depth", type=int, default=1, help="representation.depth (default 1)")
    p.add_argument("--center", action="store_true", help="representation.whiten = center")
    p.add_argument("--no-representation-bias", action="store_true", help="representation.bias = false")
    p.add_argument("--eps", type=float, help="print the predicted n_eps(d) at this threshold "
                   "(first --ridge) and its fitted exponent")
    p.add_argument("--eps-share", type=float, metavar="S",
                   help="as --eps with eps(d) = S x the share of Var f* in the top degree at d")
    p.add_argument("--compare", nargs="+", metavar="FILE.h5",
                   help="results files: measured against predicted at each (d, n, ridge); "
                        "--d and --n filter")
    p.add_argument("--allow-mixed", action="store_true", help="as for the other commands")
    p.add_argument("--csv", action="store_true", help="CSV on stdout instead of a table")
    p.set_defaults(func=cmd_predict, learner=None, input=None)
    return p
