# Sourced by the scripts: the environment neurep runs best in here.
# Open MPI refuses root without these (containers and CI run as root).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Debian's OpenBLAS 0.3.21 falls back to its slowest kernels on some
# virtualised Xeons; this selects the AVX-512 ones (neurep warns when needed).
if [[ -z "${OPENBLAS_CORETYPE:-}" ]]; then
  if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then export OPENBLAS_CORETYPE=SkylakeX
  elif grep -qw avx2 /proc/cpuinfo 2>/dev/null; then export OPENBLAS_CORETYPE=Haswell; fi
fi
