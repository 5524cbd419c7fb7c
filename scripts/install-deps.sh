#!/usr/bin/env bash
# Installs everything neurep needs to build, test and analyse, from Debian's
# packages (Debian 12). Safe to run again; needs root (or sudo).
#   --no-slurm   leave out the single-node Slurm of the Slurm test (containers)
#   --bench      add the benchmark peers of bench/ (threadpoolctl, scikit-learn, PyTorch)
set -euo pipefail
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
PACKAGES=(
  build-essential cmake pkg-config git
  openmpi-bin libopenmpi-dev libscalapack-openmpi-dev libopenblas-dev liblapack-dev
  libboost-mpi-dev libboost-serialization-dev
  libhdf5-openmpi-dev hdf5-tools
  catch2 librandom123-dev libtomlplusplus-dev libcli11-dev libfmt-dev
  python3-h5py python3-numpy python3-matplotlib python3-pandas python3-scipy
  python3-pip python3-setuptools python3-wheel
)
slurm=1
for a in "$@"; do
  case $a in
    --no-slurm) slurm=0 ;;
    --bench) PACKAGES+=(python3-threadpoolctl python3-sklearn python3-torch) ;;
    *) echo "install-deps.sh: unknown option '$a' (use --no-slurm or --bench)" >&2; exit 2 ;;
  esac
done
if ((slurm)); then PACKAGES+=(slurm-wlm munge); fi
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
