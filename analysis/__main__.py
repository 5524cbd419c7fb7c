"""python3 -m analysis COMMAND ... (see analysis/README.md)."""

import sys

from .cli import main

sys.exit(main())
