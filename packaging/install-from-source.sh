#!/usr/bin/env bash
# Builds neurep from a source tree and installs it under a prefix: the steps
# of the container build (packaging/neurep.def), usable on any machine whose
# libraries CMake finds (see "Building on a cluster" in README.md).
#   packaging/install-from-source.sh SOURCE_DIR PREFIX [cmake -D options...]
# The build folder is a temporary one, removed afterwards; tests are not built.
set -euo pipefail
(($# >= 2)) || { echo "usage: $0 SOURCE_DIR PREFIX [cmake options...]" >&2; exit 2; }
src=$1 prefix=$2
shift 2
build=$(mktemp -d "${TMPDIR:-/tmp}/neurep-build-XXXXXX")
trap 'rm -rf "$build"' EXIT
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF "$@"
cmake --build "$build" --target neurep -j"$(nproc)"
cmake --install "$build" --prefix "$prefix"
"$prefix/bin/neurep" --version
