#!/usr/bin/env bash
# A campaign on a workstation: every configuration in a directory x every
# dimension, one mpirun after another (through jobs/local/run.sh).
#
#   jobs/local/campaign.sh [-n NP] CONFIG_DIR RESULTS_DIR [DIMS...] [-- neurep run options...]
#
# For each CONFIG_DIR/*.toml (sorted) and each D in DIMS the output is
# RESULTS_DIR/<config-stem>_d<D>.h5, run with `--set sweep.dims=[D]`; with no
# DIMS each configuration runs its own [sweep] dims into
# RESULTS_DIR/<config-stem>.h5. These are the names jobs/slurm/array.sbatch
# uses, so either can finish the other's campaign.
#
# Every run gets --resume (added by run.sh unless you pass -- --overwrite),
# so rerunning the campaign skips finished files (neurep returns at once)
# and continues an interrupted one. A run that fails
# (status 2 or 3 ...) is reported and the campaign goes on; an interruption
# (status 75: Ctrl-C, SIGTERM or SIGUSR1) stops the campaign, rerun the same
# command to continue. Exit status: 0 if every run completed, 75 if
# interrupted, otherwise 1. Environment: as jobs/local/run.sh.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
usage() { echo "usage: $0 [-n NP] CONFIG_DIR RESULTS_DIR [DIMS...] [-- neurep run options...]" >&2; exit 2; }

npargs=()
if [[ ${1:-} == -n ]]; then
  [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage
  npargs=(-n "$2")
  shift 2
fi
(($# >= 2)) || usage
cdir=$1 results=$2
shift 2
[[ -d $cdir ]] || { echo "campaign.sh: '$cdir' is not a directory" >&2; exit 2; }
dims=()
while (($# > 0)) && [[ $1 != -- ]]; do
  [[ $1 =~ ^[0-9]+$ ]] || { echo "campaign.sh: dimension '$1' is not a whole number" >&2; exit 2; }
  dims+=("$1")
  shift
done
[[ ${1:-} == -- ]] && shift
extra=("$@")

shopt -s nullglob
configs=("$cdir"/*.toml)
((${#configs[@]} > 0)) || { echo "campaign.sh: no *.toml in $cdir" >&2; exit 2; }
mkdir -p "$results"

# The runs, as "config<TAB>d" (d = "-": the configuration's own dims).
runs=()
for c in "${configs[@]}"; do
  if ((${#dims[@]} == 0)); then
    runs+=("$c"$'\t'-)
  else
    for d in "${dims[@]}"; do runs+=("$c"$'\t'"$d"); done
  fi
done

# Forward a stop request to the run in progress as SIGTERM (run.sh turns it
# into SIGUSR1 for neurep; SIGINT cannot be used: a background child of a
# script ignores it).
child=""
trap '[[ -n $child ]] && kill -TERM "$child" 2>/dev/null; stopping=1' INT TERM USR1
stopping=0

failed=() k=0 rc=0
for r in "${runs[@]}"; do
  k=$((k + 1))
  c=${r%$'\t'*} d=${r##*$'\t'}
  stem=$(basename "$c" .toml)
  if [[ $d == - ]]; then
    out=$results/$stem.h5 set=()
  else
    out=$results/${stem}_d$d.h5 set=(--set "sweep.dims=[$d]")
  fi
  echo "campaign.sh: [$k/${#runs[@]}] $c d=$d -> $out" >&2
  "$here/run.sh" "${npargs[@]}" "$c" "$out" "${set[@]}" "${extra[@]}" &
  child=$!
  while wait "$child"; rc=$?; kill -0 "$child" 2>/dev/null; do :; done
  wait "$child"
  rc=$?
  child=""
  if ((rc == 75 || stopping)); then
    echo "campaign.sh: interrupted at [$k/${#runs[@]}] $out: rerun the same command to continue" >&2
    exit 75
  fi
  ((rc == 0)) || failed+=("$out (status $rc)")
done
if ((${#failed[@]} > 0)); then
  echo "campaign.sh: ${#failed[@]} of ${#runs[@]} runs failed:" >&2
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "campaign.sh: all ${#runs[@]} runs complete in $results" >&2
