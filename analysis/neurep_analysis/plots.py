"""Figures: error versus n, n_eps versus d, training curves.  Headless (Agg).

Every figure is written as PREFIX_<kind>.png and .pdf (names fixed by the
prefix, so scripts and Makefiles can depend on them); PDFs carry no
creation date, so rerunning on the same data gives the same bytes. All
figures share one style (STYLE), the same colour and marker per line, and
readable labels (`pretty_label`, overridden with --label PATTERN=TEXT).
"""

import fnmatch
import math
import os
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402,F401
import numpy as np  # noqa: E402

from .stats import ORACLE_TEXT, by_group, is_oracle  # noqa: E402

FORMATS = ("png", "pdf")
MARKERS = "osD^v<>phX*"
# One style for every figure (sizes for a two-column paper at 150 dpi).
STYLE = {
    "font.size": 9, "axes.titlesize": 9, "axes.labelsize": 9, "legend.fontsize": 8,
    "xtick.labelsize": 8, "ytick.labelsize": 8, "lines.linewidth": 1.4,
    "lines.markersize": 4, "axes.grid": True, "grid.alpha": 0.25, "grid.linewidth": 0.6,
    "figure.dpi": 150, "savefig.dpi": 150, "pdf.fonttype": 42,
}
# Errors are drawn down to at most this many decades below the largest one;
# smaller values (exact recovery, 1e-28) are drawn at the axis bottom, marked.
MAX_DECADES = 5

_LEARNERS = {"kernel:ntk": "NTK", "kernel:ntk-full": "NTK (full)", "kernel:nngp": "NNGP",
             "kernel:linear": "linear", "kernel:empirical-ntk": "empirical NTK",
             "taylor:order=1": "Lin (order 1)", "taylor:order=2": "Quad",
             "taylor:order=full": "two-layer net", "linear": "linear (least squares)"}


def _rule(text):
    """'2*d^2' -> '2d²', '(d+1)*(d+2)' -> '(d+1)(d+2)'."""
    text = text.replace("*", "").replace("^2", "\u00b2").replace("^3", "\u00b3")
    return text


def pretty_input(inp):
    """'x' -> 'x'; 'h:relu:D=2*d^2:zca' -> 'h(x) relu, D = 2d², zca'."""
    from .frame import split_input
    s = split_input(inp)
    if s["representation"] == "x":
        return "x"
    if s["representation"] != "h":
        return inp
    size = "D = \u221e" if s["infinite"] else "D = %s" % _rule(s["D_rule"])
    parts = [s["activation"], size]
    if s["whitening"] and s["whitening"] != "none":
        parts.append(s["whitening"])
    if s["depth"] and s["depth"] > 1:
        parts.append("depth %d" % s["depth"])
    return "h(x) " + ", ".join(parts)


def pretty_label(learner, inp, setting=None, target=None, choice=None, labels=()):
    """A legend label: 'Quad on h(x) quadratic, D = (d+1)(d+2), zca'.

    labels: 'PATTERN=TEXT' strings (--label); the first whose PATTERN (a glob)
    matches the raw 'learner on input' or this readable label replaces it by
    TEXT. A pattern may contain '=' itself (taylor:order=2): the text is split
    at the first '=' where the part before it matches.
    The setting (--choice all), the target (several targets) and the oracle
    mark are appended whatever the label.
    """
    raw = "%s on %s" % (learner, inp)
    label = "%s on %s" % (_LEARNERS.get(learner, learner), pretty_input(inp))
    for spec in labels:
        cuts = [i for i, ch in enumerate(spec) if ch == "=" and i > 0]
        hit = next((i for i in cuts if fnmatch.fnmatchcase(raw, spec[:i])
                    or fnmatch.fnmatchcase(label, spec[:i])), None)
        if hit is not None:
            label = spec[hit + 1:]
            break
    if setting is not None:
        label += " (%s)" % setting
    if target is not None:
        label += " [%s]" % target
    if choice is not None and is_oracle(choice):
        label += ", " + ORACLE_TEXT
    return label


def save(fig, prefix, kind, formats=FORMATS):
    """Write fig as PREFIX_kind.<fmt> for each format; return the paths."""
    paths = []
    directory = os.path.dirname(prefix)
    if directory:
        os.makedirs(directory, exist_ok=True)
    for fmt in formats:
        path = "%s_%s.%s" % (prefix, kind, fmt)
        meta = {"CreationDate": None} if fmt == "pdf" else None
        fig.savefig(path, format=fmt, bbox_inches="tight", metadata=meta)
        paths.append(path)
    plt.close(fig)
    return paths


def line_styles(keys):
    """A fixed colour and marker per line, stable across panels and figures."""
    cmap = plt.get_cmap("tab10" if len(keys) <= 10 else "tab20")
    return {k: (cmap(i % cmap.N), MARKERS[i % len(MARKERS)]) for i, k in enumerate(keys)}


def _grid(count, max_cols=3):
    ncols = min(max_cols, count)
    nrows = int(math.ceil(count / ncols))
    return nrows, ncols


def _finite(a):
    a = np.asarray(a, dtype=float)
    return np.where(np.isfinite(a) & (a > 0), a, np.nan)


def error_limits(values, ymin=None):
    """(bottom, top, floor) of a log error axis from the data.

    floor: values below it are drawn at it and marked; it is `ymin` when
    given, else the smallest value within MAX_DECADES of the largest.
    """
    v = np.asarray([x for x in values if np.isfinite(x) and x > 0], dtype=float)
    if v.size == 0:
        return None, None, ymin
    top = v.max()
    floor = ymin if ymin else max(v.min(), top * 10.0 ** -MAX_DECADES)
    return floor / 1.6, top * 1.6, floor


def _plain(v, _pos=None):
    return "%d" % round(v) if v >= 1 else "%g" % v


def _minor_plain(v, _pos=None):
    """Label a minor tick of a log axis only at 2 and 5 times a power of ten, plainly."""
    mant = v / 10 ** math.floor(math.log10(v) + 1e-9)
    return _plain(v) if any(abs(mant - m) < 1e-6 for m in (2, 5)) else ""


def _log_n_ticks(ax, n_values):
    """n on a log axis: its own values for a short sweep, else plain numbers at the powers
    of ten and, on a range under two decades, at 2x and 5x them (no overlapping 3x10^2 4x10^2)."""
    if 1 < len(n_values) <= 8:   # a short sweep: label its own n, not 7x10^1
        ax.set_xticks(n_values)
        ax.set_xticklabels([str(n) for n in n_values])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        return
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(_plain))
    span = math.log10(max(n_values) / min(n_values)) if n_values and min(n_values) > 0 else 3
    ax.xaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(
        _minor_plain if span < 2 else (lambda v, _pos=None: "")))


def _choice_title(choice, title):
    parts = [t for t in (title, ORACLE_TEXT if is_oracle(choice) else None) if t]
    return " \u2014 ".join(parts) if parts else None


def plot_errors(points, prefix, choice="selected", eps=None, levels=None,
                title=None, formats=FORMATS, ymin=None, labels=(), theory=None):
    """Test error vs n, log-log: median over seeds, inter-quartile band.

    One panel per (target, d), one line per (learner, input) (per setting
    with --choice all).  eps draws the threshold; levels maps d -> {k: R_k}
    and draws the harmonic plateau levels (theory.plateau_levels). The y
    axis spans the data (error_limits); errors below its floor (exact
    recovery) are drawn at the floor as open triangles.  theory maps a line's
    key to {d: (n, predicted error)}, drawn dashed in the line's colour.
    """
    groups = by_group(points)
    panels = sorted({(p["target"] or "", p["d"]) for p in points})
    if not panels:
        raise ValueError("nothing to plot")
    several_targets = len({t for t, _ in panels}) > 1
    plotted = [p[k] for p in points for k in ("median", "q25", "q75")]
    if levels:
        plotted += [lev for lv in levels.values() for lev in lv.values()]
    if eps:
        plotted.append(eps)
    bottom, top, floor = error_limits(plotted, ymin)
    clip = (lambda a: np.maximum(a, floor)) if floor else (lambda a: a)
    with plt.rc_context(STYLE):
        nrows, ncols = _grid(len(panels))
        fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 2.9 * nrows),
                                 squeeze=False, sharey=True)
        style = line_styles(list(groups))
        handles = {}
        for ax, (target, d) in zip(axes.flat, panels):
            for key, per_d in groups.items():
                pts = [p for p in per_d.get(d, ()) if (p["target"] or "") == target]
                if not pts:
                    continue
                color, marker = style[key]
                n = np.array([p["n"] for p in pts], dtype=float)
                raw = _finite([p["median"] for p in pts])
                med = clip(raw)
                lo = clip(_finite([p["q25"] for p in pts]))
                hi = clip(_finite([p["q75"] for p in pts]))
                # a search computes its bisection points for one seed each: their "median"
                # is of those seeds only, so the line and band join only the n computed
                # for at least half of the seeds, and the others are drawn apart
                count = np.array([len(set(p["seeds"].tolist())) for p in pts])
                full = 2 * count >= count.max()
                line, = ax.plot(n[full], med[full], marker=marker, color=color)
                ax.fill_between(n[full], lo[full], hi[full], color=color, alpha=0.2, lw=0)
                handles[key] = line
                if not full.all():
                    handles[("n computed for fewer than half of the seeds (a search's "
                             "bisection): their median, not joined",)], = ax.plot(
                        n[~full], med[~full], marker=marker, ls="none", color=color,
                        alpha=0.45, ms=3)
                if theory and d in theory.get(key, {}):
                    tn, te = theory[key][d]
                    handles[("theory (deterministic equivalent), dashed",)], = ax.plot(
                        tn, clip(np.asarray(te, dtype=float)), ls="--", color=color, lw=1.1)
                if floor:
                    low = raw < floor
                    if low.any():
                        handles[("below the axis: drawn at its bottom",)], = ax.plot(
                            n[low], np.full(low.sum(), floor), "v", color=color, mfc="white",
                            ms=7, mew=1.2, ls="none")
                failed = [p for p in pts if p["n_failed"]]
                if failed:
                    handles[("some runs failed (diverged or NaN)",)], = ax.plot(
                        [p["n"] for p in failed], [top / 1.6 if top else 1.0] * len(failed),
                        "x", color="k", ms=6, ls="none")
            if eps is not None:
                handles[("\u03b5 = %g" % eps,)] = ax.axhline(eps, color="0.4", ls="--", lw=0.9)
            shares = ""
            if levels and d in levels and not several_targets:
                for k, lev in sorted(levels[d].items()):
                    handles[("share of Var f* in harmonic degrees \u2265 k, k in the panel title "
                             "(dotted)",)] = \
                        ax.axhline(lev, color="k", ls=":", lw=0.9)
                shares = "; share deg\u2265" + ", ".join("%d: %.3f" % kv
                                                          for kv in sorted(levels[d].items()))
            if bottom is not None:
                ax.set_xscale("log")
                ax.set_yscale("log")
                ax.set_ylim(bottom, top)
                # plain numbers (0.1, 0.01); a range under two decades (the quickstart, a
                # search's errors 0.02-1) labels 2x and 5x too
                ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(_plain))
                ax.yaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(
                    _minor_plain if math.log10(top / bottom) < 2.5 else (lambda v, _pos=None: "")))
                _log_n_ticks(ax, sorted({p["n"] for p in points if p["d"] == d}))
            else:   # every run failed: log axes would have nothing to scale
                ax.text(0.5, 0.5, "no finite errors", transform=ax.transAxes, ha="center")
            ax.set_title("d = %d%s" % (d, shares) + ("\n%s" % target if several_targets else ""))
            ax.grid(True, which="both", alpha=0.25)
        for ax in axes.flat[len(panels):]:
            ax.set_visible(False)
        for ax in axes[-1]:
            ax.set_xlabel("n (training samples)")
        for ax in axes[:, 0]:
            ax.set_ylabel("test error / Var f*")
        order = sorted(handles, key=lambda k: len(k) == 1)   # lines first, then markers
        texts = [k[0] if len(k) == 1 else pretty_label(*k, choice=choice, labels=labels)
                 for k in order]
        sup = _choice_title(choice, title)
        if sup:
            fig.suptitle(sup)
        fig.tight_layout()
        fig.legend([handles[k] for k in order], texts, loc="upper center",
                   ncol=min(2, len(texts)), frameon=False, bbox_to_anchor=(0.5, 0.0))
        return save(fig, prefix, "errors", formats)


def plot_complexity(rows, prefix, formats=FORMATS, labels=(), choice="selected"):
    """n_eps vs d, log-log, a panel per target: each line's points and fitted
    power law (slope and interval in the legend), and d^p reference slopes
    for the theory exponents p of the lines shown (grey, dashed)."""
    targets = sorted({r["target"] or "" for r in rows}) or [""]
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(targets), figsize=(5.0 * len(targets), 3.8),
                                 squeeze=False)
        handles = {}
        style = line_styles([r["line"] for r in rows])
        all_d = sorted({d for r in rows for d in r["per_d"]})
        eps = rows[0]["eps"] if rows else float("nan")
        eps_text = rows[0].get("eps_rule", "%g" % eps) if rows else "%g" % eps
        for ax, target in zip(axes[0], targets):
            any_point = False
            refs = {}
            for r in (r for r in rows if (r["target"] or "") == target):
                color, marker = style[r["line"]]
                ok = [(d, v["n_eps"]) for d, v in sorted(r["per_d"].items()) if v["flag"] == "ok"]
                bound = [(d, v["n_eps"]) for d, v in sorted(r["per_d"].items())
                         if v["flag"] == "below_at_min"]
                fit = r["fit"]
                label = pretty_label(r["learner"], r["input"], r["setting"], None, choice, labels)
                boot = r.get("boot") or {}
                if math.isfinite(fit["slope"]):
                    label += ": $d^{%.2f}$" % fit["slope"]
                    # the interval the tables report: the bootstrap over seeds when there is one
                    if math.isfinite(boot.get("ci_low", math.nan)):
                        label += " [%.2f, %.2f] bootstrap" % (boot["ci_low"], boot["ci_high"])
                    elif math.isfinite(fit["ci_low"]):
                        label += " [%.2f, %.2f] t" % (fit["ci_low"], fit["ci_high"])
                    label += ", d %d\u2013%d" % (min(fit["d_used"]), max(fit["d_used"]))
                label += ", theory %s" % ("\u2014" if r["theory"] is None else r["theory"])
                if ok:
                    any_point = True
                    ax.plot(*zip(*ok), marker=marker, ls="none", color=color, label=label)
                    bars = _seed_quartiles(r, [d for d, _ in ok])
                    if bars:
                        bd, bm, blo, bhi = zip(*bars)
                        ax.errorbar(bd, bm, yerr=[np.subtract(bm, blo), np.subtract(bhi, bm)],
                                    fmt="none", ecolor=color, elinewidth=0.9, capsize=2.5,
                                    label="bars: quartiles of the seeds' own n_\u03b5")
                    if math.isfinite(fit["slope"]):
                        dd = np.array([min(d for d, _ in ok), max(d for d, _ in ok)], dtype=float)
                        ax.plot(dd, np.exp(fit["intercept"]) * dd ** fit["slope"], color=color)
                    # a reference slope per theory exponent, through the first
                    # point of the line with the most d reaching eps
                    if r["theory"] is not None and len(ok) > len(refs.get(r["theory"], ())):
                        refs[r["theory"]] = ok
                else:
                    ax.plot([], [], marker=marker, ls="none", color=color,
                            label=label + " (n_\u03b5 not reached)")
                nr = [(d, v["n_max"]) for d, v in sorted(r["per_d"].items())
                      if v["flag"] == "not_reached"]
                if nr:
                    any_point = True
                    ax.plot(*zip(*nr), marker="^", ls="none", color=color, mfc="white", ms=7,
                            label="median n_\u03b5 not reached at this d (drawn at the largest n of its "
                                  "searches' brackets)")
                if bound:
                    any_point = True
                    ax.plot(*zip(*bound), marker="v", ls="none", color=color, mfc="none")
            if any_point:
                ax.set_xscale("log")
                ax.set_yscale("log")
                lo, hi = min(all_d), max(all_d)
                dd = np.geomspace(lo, hi, 20)
                for p, ok in sorted(refs.items()):
                    d0, n0 = ok[0]
                    ax.plot(dd, n0 * (dd / d0) ** p, color="0.55", ls="--", lw=0.9, zorder=0)
                    ax.annotate("$\\propto d^{%g}$" % p, xy=(dd[-1], n0 * (dd[-1] / d0) ** p),
                                fontsize=7, color="0.35", va="center", ha="left",
                                xytext=(3, 0), textcoords="offset points")
                ax.set_xticks(all_d)
                ax.set_xticklabels([str(d) for d in all_d])
                ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
                ax.set_xlim(lo / 1.06, hi * 1.16)   # room for the d^p labels at the right
                ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(_plain))
                y0, y1 = ax.get_ylim()
                ax.yaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(
                    _minor_plain if math.log10(y1 / y0) < 2 else (lambda v, _pos=None: "")))
            else:
                ax.text(0.5, 0.5, "no line reaches \u03b5 = %s" % eps_text, transform=ax.transAxes,
                        ha="center")
            ax.set_xlabel("d")
            ax.set_ylabel("$n_\\varepsilon$ ($\\varepsilon$ = %s)" % eps_text.replace(" x ", " \u00d7 "))
            ax.grid(True, which="both", alpha=0.25)
            title = target if len(targets) > 1 else ""
            if is_oracle(choice):
                title = (title + "\n" if title else "") + ORACLE_TEXT
            if title:
                ax.set_title(title)
            ax.plot([], [], color="0.55", ls="--", lw=0.9,
                    label="theory: $n_\\varepsilon \\propto d^p$, through the first point")
            for h, text in zip(*ax.get_legend_handles_labels()):
                handles.setdefault(text, h)
        fig.tight_layout()
        fig.legend(list(handles.values()), list(handles), loc="upper center",
                   bbox_to_anchor=(0.5, 0.0), frameon=False)
        return save(fig, prefix, "complexity", formats)


def _seed_quartiles(r, ds):
    """[(d, median n_eps, 25 %, 75 % of the seeds' own n_eps)] at the d given, from the
    per-seed fits of a complexity row; a seed that did not reach counts as +inf and a
    quartile that is not reached is drawn to the largest n computed at that d."""
    out = []
    for d in ds:
        vals = []
        for ps in r.get("per_seed", []):
            if d in ps["n_eps"]:
                v, flag = ps["n_eps"][d]
                vals.append(math.inf if flag == "not_reached" else v)
        if len(vals) < 2:
            continue
        from .stats import quantile
        lo, hi = quantile(vals, 0.25), quantile(vals, 0.75)
        top = r["per_d"][d]["n_max"]
        out.append((d, r["per_d"][d]["n_eps"], lo if math.isfinite(lo) else top,
                    hi if math.isfinite(hi) else top))
    return out


def slug(text):
    """A file-name-safe form of a learner/input label (deterministic)."""
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-")


CURVE_COLUMNS = (("train_loss", "training loss"), ("validation_error", "validation error / Var f*"),
                 ("test_error", "test error / Var f*"))


def plot_curves(curves, prefix, weight_norm=False, formats=FORMATS, labels=(),
                selected_only=True):
    """Training curves, one figure per (learner, input): a row per d, columns
    training loss, validation error and test error (and ||W||): colour by n
    (darker = more samples), a thin line per seed. `curves` is a DataFrame
    of frame.load_curves. With selected_only (default) only the candidate
    each run selected is drawn; the early-stopping step (best_step, chosen
    on the validation split) is marked by a dot on each curve.
    Files are PREFIX_curves_<learner>_<input>.png/.pdf.
    """
    if selected_only:
        curves = curves[curves["selected"]]
    cols = list(CURVE_COLUMNS) + ([("weight_norm", "\u2016W\u2016")] if weight_norm else [])
    no_val = not np.isfinite(curves["validation_error"].to_numpy(dtype=float)).any()
    if no_val:   # files written before neurep recorded validation curves
        cols = [c for c in cols if c[0] != "validation_error"]
    written = []
    used = set()
    with plt.rc_context(STYLE):
        for (learner, inp), g in sorted(curves.groupby(["learner", "input"]), key=lambda kv: kv[0]):
            ds = sorted(g["d"].unique())
            ns = sorted(g["n"].unique())
            fig, axes = plt.subplots(len(ds), len(cols), figsize=(3.4 * len(cols), 2.5 * len(ds)),
                                     squeeze=False, sharex="row")
            cmap = plt.get_cmap("viridis")
            shade = {n: cmap(0.85 * (1 - i / max(1, len(ns) - 1))) for i, n in enumerate(ns)}
            floors = {}
            for col, (name, _) in enumerate(cols):   # one error range per column, from the data
                _, _, floors[name] = error_limits(g[name].to_numpy(dtype=float))
            clamped = False
            for row, d in enumerate(ds):
                gd = g[g["d"] == d]
                for (n, seed, cand, fname), c in sorted(gd.groupby(["n", "seed", "candidate", "file"]),
                                                          key=lambda kv: kv[0][:3]):
                    step = c["step"].to_numpy(dtype=float)
                    best = c["best_step"].iloc[0] if "best_step" in c else math.nan
                    for col, (name, _) in enumerate(cols):
                        y = _finite(c[name].to_numpy(dtype=float))
                        if not np.isfinite(y).any():
                            continue
                        if floors[name] and np.nanmin(y) < floors[name]:
                            clamped = True
                            y = np.maximum(y, floors[name])
                        ax = axes[row, col]
                        ax.plot(step, y, color=shade[n], lw=0.8, alpha=0.85, label="n = %d" % n)
                        if np.isfinite(best):
                            k = int(np.argmin(np.abs(step - best)))
                            if np.isfinite(y[k]):
                                ax.plot([step[k]], [y[k]], "o", color=shade[n], ms=3.5,
                                        mec="k", mew=0.5)
                for col, (name, text) in enumerate(cols):
                    ax = axes[row, col]
                    if ax.get_lines():
                        if name != "weight_norm":
                            ax.set_yscale("log")
                    else:
                        ax.text(0.5, 0.5, "no finite values", transform=ax.transAxes,
                                ha="center", va="center", fontsize=8, color="0.4")
                    ax.set_title("d = %d: %s" % (d, text))
                    if row == len(ds) - 1:
                        ax.set_xlabel("step")
                handles, hl = axes[row, 0].get_legend_handles_labels()
                uniq = dict(zip(hl, handles))
                if uniq:
                    axes[row, 0].legend(uniq.values(), uniq.keys(), fontsize=7)
            what = "selected candidate per run" if selected_only else "every candidate"
            notes = ["\u25cf = early-stopping step (chosen on the validation split)"]
            if clamped:
                notes.append("values more than %d decades below a column's largest are drawn "
                             "at its bottom" % MAX_DECADES)
            if no_val:
                notes.append("no validation curves in these files (written by an older neurep)")
            fig.suptitle("%s: %s\n%s" % (pretty_label(learner, inp, labels=labels), what,
                                          "\n".join(notes)), fontsize=8)
            fig.tight_layout()
            kind = "curves_%s_%s" % (slug(learner), slug(inp))
            base = kind
            i = 2
            while kind in used:
                kind = "%s-%d" % (base, i)
                i += 1
            used.add(kind)
            written += save(fig, prefix, kind, formats)
    return written
