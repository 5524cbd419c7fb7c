#!/usr/bin/env bash
# Configuring with a serial HDF5 stops with a message naming the problem; the
# same stand-in HDF5 with H5_HAVE_PARALLEL in its H5pubconf.h passes that check.
# The stand-in is an HDF5 prefix (headers, an empty libhdf5.so) and an h5cc
# wrapper printing its flags, so FindHDF5 finds it; pkg-config is off so
# Debian's parallel HDF5 cannot step in.
#   test_serial_hdf5_refused.sh SOURCE_DIR CMAKE
set -uo pipefail
src=$1 cmake=$2
tmp=$(mktemp -d /tmp/neurep-serial-hdf5-XXXXXX)
failures=0
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what"; failures=$((failures + 1)); fi
}

fake_hdf5() {  # fake_hdf5 DIR PARALLEL(0|1)
  local d=$1
  mkdir -p "$d/include" "$d/lib" "$d/bin"
  {
    echo '#define H5_VERSION "1.14.0"'
    echo '#define H5_VERS_MAJOR 1'
    echo '#define H5_VERS_MINOR 14'
    echo '#define H5_VERS_RELEASE 0'
    (($2)) && echo '#define H5_HAVE_PARALLEL 1'
  } >"$d/include/H5pubconf.h"
  echo '#include "H5pubconf.h"' >"$d/include/hdf5.h"
  : >"$d/lib/libhdf5.so"
  cat >"$d/bin/h5cc" <<WRAP
#!/bin/sh
case " \$* " in
  *" -showconfig "*) printf 'HDF5 Version: 1.14.0\nParallel HDF5: %s\n' "$( (($2)) && echo yes || echo no)" ;;
  *) echo "cc -I$d/include \$* -L$d/lib -lhdf5" ;;
esac
WRAP
  chmod +x "$d/bin/h5cc"
}

configure() {  # configure HDF5_DIR LOG
  "$cmake" -S "$src" -B "$tmp/build-$(basename "$1")" -DBUILD_TESTING=OFF \
    -DCMAKE_DISABLE_FIND_PACKAGE_PkgConfig=ON -DHDF5_ROOT="$1" \
    -DHDF5_C_COMPILER_EXECUTABLE="$1/bin/h5cc" -DHDF5_NO_FIND_PACKAGE_CONFIG_FILE=ON >"$2" 2>&1
}

fake_hdf5 "$tmp/serial" 0
configure "$tmp/serial" "$tmp/serial.log"
rc=$?
check "configure with a serial HDF5 fails (status $rc; log $tmp/serial.log)" test $rc -ne 0
# CMake wraps a message's lines: compare with the words joined by single spaces.
message=$(tr -s ' \n' '  ' <"$tmp/serial.log")
check "and says why: 'is serial: its H5pubconf.h does not define H5_HAVE_PARALLEL'" \
  grep -qF "is serial: its H5pubconf.h does not define H5_HAVE_PARALLEL" <<<"$message"
check "naming the HDF5 it found ($tmp/serial/lib/libhdf5.so)" grep -qF "$tmp/serial/lib/libhdf5.so" <<<"$message"

fake_hdf5 "$tmp/parallel" 1
configure "$tmp/parallel" "$tmp/parallel.log"
check "the same stand-in with H5_HAVE_PARALLEL is accepted as parallel HDF5 (log $tmp/parallel.log)" \
  grep -q "neurep: parallel HDF5 from FindHDF5: $tmp/parallel/lib/libhdf5.so" "$tmp/parallel.log"
check "and not refused" bash -c "! grep -q 'is serial' '$tmp/parallel.log'"

echo "$failures failed"
((failures)) || rm -rf "$tmp"
exit $((failures ? 1 : 0))
