"""Tests of the Python analysis package (run from the repo root:
/usr/bin/python3 -m unittest discover -s tests/analysis -t .)."""
