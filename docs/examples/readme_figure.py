#!/usr/bin/python3
"""The README's figure (test error versus n, a panel per d) from the committed
campaign files, with neurep_analysis.load and pandas:
    /usr/bin/python3 docs/examples/readme_figure.py [OUT.png]
(neurep_analysis installed with `pip install ./analysis`, or found in the checkout)."""
import glob, os, sys
here = os.path.dirname(os.path.abspath(__file__))
sys.path.append(os.path.join(here, "..", "..", "analysis"))   # if not installed
import matplotlib; matplotlib.use("Agg")
import matplotlib.pyplot as plt
import neurep_analysis

df = neurep_analysis.load(sorted(glob.glob(os.path.join(here, "../results/paper-p4/configs/*.h5"))))
df = df[df.selected]                                  # the row each run chose on its validation split
df["error"] = df.test_error.where(~df.failed, float("inf")).clip(lower=1e-5)  # failures: +inf
q = df.groupby(["learner", "input", "d", "n"]).error.quantile([0.25, 0.5, 0.75]).unstack()
color = {k: "C%d" % i for i, k in enumerate(q.droplevel(["d", "n"]).index.unique())}
fig, axes = plt.subplots(2, 3, figsize=(12, 7), sharey=True, layout="constrained")
for ax, (d, per_d) in zip(axes.flat, q.groupby(level="d")):
    for (learner, inp), g in per_d.groupby(level=["learner", "input"]):
        n = g.index.get_level_values("n")
        ax.loglog(n, g[0.5], marker="o", ms=3, color=color[learner, inp], label=f"{learner} on {inp}")
        ax.fill_between(n, g[0.25], g[0.75], color=color[learner, inp], alpha=0.2)
    ax.axhline(0.1, ls="--", color="0.4"), ax.set_title(f"d = {d}"), ax.set_xlabel("n")
axes.flat[-1].axis("off"), axes[0, 0].set_ylabel("test error / Var f*")
axes.flat[-1].legend(*axes[0, 0].get_legend_handles_labels(), loc="center", fontsize=7)
fig.savefig(sys.argv[1] if len(sys.argv) > 1 else "readme_figure.png", dpi=120)
