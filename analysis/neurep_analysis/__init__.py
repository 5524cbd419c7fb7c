"""neurep_analysis: read neurep results files, compute n_eps(d) and exponents, plot.

    import neurep_analysis
    df = neurep_analysis.load(["a.h5", "b.h5"])      # a pandas DataFrame, a row per fit
    curves = neurep_analysis.load_curves("quad.h5")  # the training curves, a row per step
    cx = neurep_analysis.load_complexity("search.h5") # a search's /complexity, a row per (d, seed, target)

Modules: frame (the DataFrames), resultfile (read and validate files), stats
(seed medians, the choice of rows per point, n_eps, fits), theory (theory
exponents, harmonic shares of f*), plots (Agg figures), claims (a campaign's
claim table: exponents, intervals and verdicts per claim), cli (the
`neurep-analysis` / `python3 -m neurep_analysis` command line). Uses h5py,
NumPy, pandas and matplotlib.
"""

__version__ = "0.2.0"

from .frame import load, load_complexity, load_curves  # noqa: E402,F401
