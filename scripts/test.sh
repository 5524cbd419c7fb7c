#!/usr/bin/env bash
# The second command of the README: install what is missing, build, and run
# the whole test suite (C++ unit and MPI tests at 1, 2 and 4 ranks, command-
# line tests, the Python analysis tests, and the Slurm requeue test).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
source scripts/env.sh
cd build
ctest --output-on-failure -j"$(nproc)" "$@"
