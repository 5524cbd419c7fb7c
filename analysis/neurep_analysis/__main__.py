"""python3 -m neurep_analysis COMMAND ... (see analysis/README.md)."""

import sys

from .cli import main

sys.exit(main())
