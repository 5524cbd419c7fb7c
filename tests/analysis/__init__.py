"""Tests of the Python analysis package neurep_analysis (run from the repo root:
/usr/bin/python3 -m unittest discover -s tests/analysis -t .).

They test the checkout's analysis/neurep_analysis, not an installed copy:
analysis/ goes first on sys.path."""

import os
import sys

ANALYSIS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "analysis")
if ANALYSIS_DIR not in sys.path:
    sys.path.insert(0, ANALYSIS_DIR)
