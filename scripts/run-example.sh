#!/usr/bin/env bash
# The first command of the README: install what is missing, build, and run the
# quickstart sweep (NTK regression on a degree-4 target) on 2 ranks.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
source scripts/env.sh
mpirun -np 2 build/neurep run jobs/configs/quickstart.toml -o quickstart.h5 --overwrite
build/neurep info quickstart.h5
