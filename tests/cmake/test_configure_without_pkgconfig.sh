#!/usr/bin/env bash
# The CMake path of a cluster without Debian's pkg-config names: configure
# neurep in a scratch folder with pkg-config disabled and the libraries given
# as explicit variables (as on a cluster with modules), build the neurep
# target, and run it: --version, check, and a tiny sweep that writes its
# results with parallel HDF5 through ScaLAPACK.
#   test_configure_without_pkgconfig.sh SOURCE_DIR CMAKE SCALAPACK_LIBRARIES LAPACK_LIBRARIES BLAS_LIBRARIES
# The library lists are ;-separated, as CMake writes them.
set -uo pipefail
src=$1 cmake=$2 scalapack=$3 lapack=$4 blas=$5
tmp=$(mktemp -d /tmp/neurep-nopc-XXXXXX)
failures=0
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what"; failures=$((failures + 1)); fi
}
finish() {
  echo "$failures failed"
  ((failures)) || rm -rf "$tmp"
  exit $((failures ? 1 : 0))
}

# -O0: this test is about finding and linking the libraries, not speed.
PKG_CONFIG_PATH=/nonexistent "$cmake" -S "$src" -B "$tmp/build" -DCMAKE_BUILD_TYPE=None \
  -DCMAKE_CXX_FLAGS=-O0 -DCMAKE_C_FLAGS=-O0 -DBUILD_TESTING=OFF \
  -DCMAKE_DISABLE_FIND_PACKAGE_PkgConfig=ON \
  "-DSCALAPACK_LIBRARIES=$scalapack" "-DLAPACK_LIBRARIES=$lapack" "-DBLAS_LIBRARIES=$blas" \
  >"$tmp/configure.log" 2>&1
rc=$?
check "configure without pkg-config (status $rc; log $tmp/configure.log)" test $rc -eq 0
if ((rc)); then tail -30 "$tmp/configure.log"; finish; fi
cache=$tmp/build/CMakeCache.txt
check "pkg-config not looked for (no PKG_CONFIG_EXECUTABLE, no NEUREP_PC_ entry in the cache)" \
  bash -c "! grep -qE '^(PKG_CONFIG_EXECUTABLE|NEUREP_PC_)' '$cache'"
check "the explicit SCALAPACK_LIBRARIES is the one used" grep -qF "neurep: ScaLAPACK $scalapack;" "$tmp/configure.log"
check "parallel HDF5 found by CMake's FindHDF5" grep -q "neurep: parallel HDF5 from FindHDF5" "$tmp/configure.log"

"$cmake" --build "$tmp/build" --target neurep -j2 >"$tmp/build.log" 2>&1
rc=$?
check "build of the neurep target (status $rc; log $tmp/build.log)" test $rc -eq 0
if ((rc)); then tail -30 "$tmp/build.log"; finish; fi
bin=$tmp/build/neurep
first_scalapack=${scalapack%%;*}
if [[ $first_scalapack == /* ]]; then
  lib=$(basename "$first_scalapack")
  check "the binary loads $lib" bash -c "ldd '$bin' | grep -qF '${lib%%.so*}'"
fi
out=$("$bin" --version 2>&1)
check "--version prints 'neurep VERSION (git REV)': '$out'" \
  bash -c "[[ '$out' =~ ^neurep\ [0-9]+\.[0-9]+\.[0-9]+\ \(git\ [^\ ]+\)$ ]]"
check "check of jobs/configs/quickstart.toml" "$bin" check "$src/jobs/configs/quickstart.toml"
(cd "$tmp" && "$bin" run "$src/jobs/configs/quickstart.toml" -o tiny.h5 -q --set sweep.n_train=[64] \
   --set sweep.seeds=1 --set data.n_test=64) >"$tmp/run.log" 2>&1
rc=$?
check "a tiny sweep runs to completion (status $rc; log $tmp/run.log)" test $rc -eq 0
check "its results file says complete" bash -c "'$bin' info '$tmp/tiny.h5' | grep -q 'status complete'"
finish
