"""Figures: error versus n, n_eps versus d, training curves.  Headless (Agg).

Every figure is written as PREFIX_<kind>.png and .pdf (names fixed by the
prefix, so scripts and Makefiles can depend on them); PDFs carry no
creation date, so rerunning on the same data gives the same bytes.
"""

import math
import os
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402,F401
import numpy as np  # noqa: E402

from .stats import by_group, group_label  # noqa: E402

FORMATS = ("png", "pdf")
MARKERS = "osD^v<>phX*"


def save(fig, prefix, kind, formats=FORMATS):
    """Write fig as PREFIX_kind.<fmt> for each format; return the paths."""
    paths = []
    directory = os.path.dirname(prefix)
    if directory:
        os.makedirs(directory, exist_ok=True)
    for fmt in formats:
        path = "%s_%s.%s" % (prefix, kind, fmt)
        meta = {"CreationDate": None} if fmt == "pdf" else None
        fig.savefig(path, format=fmt, dpi=150, bbox_inches="tight", metadata=meta)
        paths.append(path)
    plt.close(fig)
    return paths


def _style(keys):
    """A fixed colour and marker per line, stable across panels and figures."""
    cmap = plt.get_cmap("tab10" if len(keys) <= 10 else "tab20")
    return {k: (cmap(i % cmap.N), MARKERS[i % len(MARKERS)]) for i, k in enumerate(keys)}


def _grid(count):
    ncols = min(3, count)
    nrows = int(math.ceil(count / ncols))
    return nrows, ncols


def _has_positive(ax):
    """Whether any line on ax has a finite positive (x, y) point."""
    for line in ax.get_lines():
        x = np.asarray(line.get_xdata(), dtype=float)
        y = np.asarray(line.get_ydata(), dtype=float)
        if x.size and y.size and np.any(np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)):
            return True
    return False


def _finite(a):
    a = np.asarray(a, dtype=float)
    return np.where(np.isfinite(a) & (a > 0), a, np.nan)


def plot_errors(points, prefix, ridge_mode="best", eps=None, levels=None,
                title=None, formats=FORMATS, ymin=None, theory=None):
    """Test error vs n, log-log: median over seeds, inter-quartile band.

    One panel per d, one line per (learner, input) (per ridge too with
    ridge_mode "all").  eps draws the threshold; levels maps d -> {k: R_k}
    and draws the harmonic plateau levels (theory.plateau_levels). With ymin,
    errors below it (exact recovery, 1e-28) are drawn at ymin, where the axis
    starts, so that they do not squash every other line.  theory maps a line's
    key to {d: (n, predicted error)}, drawn dashed in the line's colour.
    """
    clip = (lambda a: np.maximum(a, ymin)) if ymin else (lambda a: a)
    groups = by_group(points, ridge_mode)
    ds = sorted({p["d"] for p in points})
    if not ds:
        raise ValueError("nothing to plot")
    nrows, ncols = _grid(len(ds))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.4 * nrows),
                             squeeze=False, sharey=True)
    style = _style(list(groups))
    handles = {}
    for ax, d in zip(axes.flat, ds):
        for key, per_d in groups.items():
            pts = per_d.get(d)
            if not pts:
                continue
            color, marker = style[key]
            n = np.array([p["n"] for p in pts], dtype=float)
            med = clip(_finite([p["median"] for p in pts]))
            lo = clip(_finite([p["q25"] for p in pts]))
            hi = clip(_finite([p["q75"] for p in pts]))
            line, = ax.plot(n, med, marker=marker, color=color, ms=4, lw=1.4)
            ax.fill_between(n, lo, hi, color=color, alpha=0.2, lw=0)
            failed = [p for p in pts if p["n_failed"]]
            if failed:
                handles[("some runs failed (diverged or NaN)",)], = ax.plot(
                    [p["n"] for p in failed], [1.0] * len(failed), "x", color="k", ms=6)
            handles[key] = line
            if theory and d in theory.get(key, {}):
                tn, te = theory[key][d]
                handles[("theory (deterministic equivalent), dashed",)], = ax.plot(
                    tn, clip(np.asarray(te)), ls="--", color=color, lw=1.1)
        if eps is not None:
            handles[("\u03b5 = %g" % eps,)] = ax.axhline(eps, color="0.4", ls="--", lw=0.9)
        if levels and d in levels:
            for k, lev in sorted(levels[d].items()):
                ax.axhline(lev, color="k", ls=":", lw=0.9)
                ax.annotate("deg\u2265%d share %.3f" % (k, lev), xy=(0.02, lev),
                            xycoords=("axes fraction", "data"), fontsize=7,
                            va="bottom", color="0.2")
        if _has_positive(ax):
            ax.set_xscale("log")
            ax.set_yscale("log")
            if ymin:
                ax.set_ylim(bottom=ymin / 1.5)
            n_values = sorted({p["n"] for p in points if p["d"] == d})
            if len(n_values) <= 8:   # a short sweep: label its own n, not 7x10^1
                ax.set_xticks(n_values)
                ax.set_xticklabels([str(n) for n in n_values])
                ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        else:   # every run at this d failed: log axes would have nothing to scale
            ax.text(0.5, 0.5, "no finite errors", transform=ax.transAxes, ha="center")
        ax.set_title("d = %d" % d)
        ax.grid(True, which="both", alpha=0.25)
    for ax in axes.flat[len(ds):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("n (training samples)")
    for ax in axes[:, 0]:
        ax.set_ylabel("test error / Var f*")
    # lines first, then the threshold and failure markers
    order = sorted(handles, key=lambda k: len(k) == 1)
    handles = {k: handles[k] for k in order}
    labels = [k[0] if len(k) == 1 else group_label(*k) for k in handles]
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.legend(list(handles.values()), labels, loc="upper center",
               ncol=min(2, len(labels)), fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    return save(fig, prefix, "errors", formats)


def plot_complexity(rows, prefix, formats=FORMATS):
    """n_eps vs d, log-log, with each line's fitted power law and exponents."""
    fig, ax = plt.subplots(figsize=(6, 4.5))
    keys = [(r["learner"], r["input"], r["ridge"]) for r in rows]
    style = _style(keys)
    any_point = False
    for key, r in zip(keys, rows):
        color, marker = style[key]
        ok = [(d, v["n_eps"]) for d, v in sorted(r["per_d"].items()) if v["flag"] == "ok"]
        bound = [(d, v["n_eps"]) for d, v in sorted(r["per_d"].items())
                 if v["flag"] == "below_at_min"]
        fit = r["fit"]
        label = group_label(*key)
        if math.isfinite(fit["slope"]):
            label += ": slope %.2f" % fit["slope"]
            if math.isfinite(fit["ci_low"]):
                label += " [%.2f, %.2f]" % (fit["ci_low"], fit["ci_high"])
        label += ", theory %s" % ("\u2014" if r["theory"] is None else r["theory"])
        if ok:
            any_point = True
            ax.plot(*zip(*ok), marker=marker, ls="none", color=color, label=label)
            if math.isfinite(fit["slope"]):
                dd = np.array([min(d for d, _ in ok), max(d for d, _ in ok)], dtype=float)
                ax.plot(dd, np.exp(fit["intercept"]) * dd ** fit["slope"], color=color, lw=1)
        else:
            ax.plot([], [], marker=marker, ls="none", color=color, label=label)
        if bound:
            any_point = True
            ax.plot(*zip(*bound), marker="v", ls="none", color=color, mfc="none")
    all_d = sorted({d for r in rows for d in r["per_d"]})
    if any_point:
        ax.set_xscale("log")
        ax.set_yscale("log")
    if all_d and any_point:
        ax.set_xticks(all_d)
        ax.set_xticklabels([str(d) for d in all_d])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_xlabel("d")
    eps = rows[0]["eps"] if rows else float("nan")
    eps_text = rows[0].get("eps_rule", "%g" % eps) if rows else "%g" % eps
    ax.set_ylabel("n_\u03b5 (\u03b5 = %s)" % eps_text)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0, -0.15), frameon=False)
    if not any_point:
        ax.text(0.5, 0.5, "no line reaches \u03b5 = %s" % eps_text, transform=ax.transAxes,
                ha="center")
    fig.tight_layout()
    return save(fig, prefix, "complexity", formats)


def slug(text):
    """A file-name-safe form of a learner/input label (deterministic)."""
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-")


def plot_curves(curves, prefix, weight_norm=False, formats=FORMATS):
    """Train loss and test error against step, one figure per (learner, input).

    Rows are d; colour encodes n (darker = more samples); each seed is a thin
    line.  Files are PREFIX_curves_<learner>_<input>.png/.pdf.
    """
    groups = {}
    for c in curves:
        key = (str(c.get("learner", "?")), str(c.get("input", "?")))
        groups.setdefault(key, []).append(c)
    written = []
    used = set()
    for (learner, inp), cs in sorted(groups.items()):
        ds = sorted({int(c.get("d", 0)) for c in cs})
        ns = sorted({int(c.get("n", 0)) for c in cs})
        cols = ["train_loss", "test_error"] + (["weight_norm"] if weight_norm else [])
        fig, axes = plt.subplots(len(ds), len(cols), figsize=(4.2 * len(cols), 3.0 * len(ds)),
                                 squeeze=False)
        cmap = plt.get_cmap("viridis")
        shade = {n: cmap(0.85 * (1 - i / max(1, len(ns) - 1))) for i, n in enumerate(ns)}
        for row, d in enumerate(ds):
            for c in sorted((c for c in cs if int(c.get("d", 0)) == d),
                            key=lambda c: (int(c.get("n", 0)), int(c.get("seed", 0)))):
                n = int(c.get("n", 0))
                for col, name in enumerate(cols):
                    y = c.get(name)
                    if y is None:
                        continue
                    y = _finite(y)
                    axes[row, col].plot(c["step"], y, color=shade[n], lw=0.9, alpha=0.85,
                                        label="n = %d" % n)
            for col, name in enumerate(cols):
                ax = axes[row, col]
                ax.set_yscale("log")
                ax.set_title("d = %d: %s" % (d, name.replace("_", " ")), fontsize=9)
                ax.grid(True, which="both", alpha=0.25)
                if row == len(ds) - 1:
                    ax.set_xlabel("step")
                handles, labels = ax.get_legend_handles_labels()
                uniq = dict(zip(labels, handles))
                if col == 0 and uniq:
                    ax.legend(uniq.values(), uniq.keys(), fontsize=7)
        fig.suptitle(group_label(learner, inp), fontsize=10)
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
