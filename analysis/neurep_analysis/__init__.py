"""neurep analysis: read results files, compute n_eps(d) and exponents, plot.

Modules: resultfile (load and validate), stats (seed medians, n_eps, fits),
theory (theory exponents, harmonic shares of f*), plots (Agg figures),
cli (the `python3 -m neurep_analysis` entry point).  Uses only h5py, numpy, matplotlib.
"""

__version__ = "0.1.0"
