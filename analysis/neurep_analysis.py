#!/usr/bin/python3
"""Stand-alone entry point: analysis/neurep_analysis.py COMMAND ... (same as python3 -m analysis)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from analysis.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
