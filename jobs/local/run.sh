#!/usr/bin/env bash
# One neurep run on a workstation with mpirun.
#
#   jobs/local/run.sh [-n NP] CONFIG.toml OUT.h5 [neurep run options...]
#
# Resume-safe: `--resume` is passed unless you pass --overwrite (or --resume)
# yourself, so the same command starts a fresh run when OUT does not exist
# and continues an interrupted one when it does; completed sweep points are
# never recomputed. There is no retry loop: locally an interruption is you.
#
# Stopping: Ctrl-C (SIGINT), SIGTERM, SIGHUP or SIGUSR1 to this script is forwarded
# to mpirun as SIGUSR1, which mpirun hands on to every rank: neurep
# checkpoints at its next safe point and exits 75; rerun the same command to
# continue. A second Ctrl-C/SIGTERM forwards SIGTERM (mpirun then kills the
# ranks at once; the checkpoint on disk still resumes, DESIGN 5, and this
# script exits 75).
#
# Exit status: neurep's own - 0 complete, 2 bad input (nothing written),
# 3 runtime failure, 75 interrupted (checkpointed; rerun to continue).
#
# Environment:
#   NEUREP_BIN          the program           (<checkout>/build/neurep, else the
#                       installed PREFIX/bin/neurep, else neurep on PATH)
#   NEUREP_NP           ranks if -n not given  (number of cores)
#   OMP_NUM_THREADS     threads per rank       (cores / ranks, at least 1); also
#                       used for OPENBLAS_NUM_THREADS unless that is set
#   OPENBLAS_CORETYPE   Debian OpenBLAS kernel (SkylakeX with AVX-512, Haswell with AVX2)
#   NEUREP_MPIRUN       launcher               (mpirun)
#   NEUREP_MPIRUN_ARGS  extra mpirun options, word-split (e.g. "--bind-to none")
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
usage() { echo "usage: $0 [-n NP] CONFIG.toml OUT.h5 [neurep run options...]" >&2; exit 2; }

cores=$(nproc)
np=${NEUREP_NP:-$cores}
if [[ ${1:-} == -n ]]; then
  [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage
  np=$2
  shift 2
fi
(($# >= 2)) || usage
config=$1 out=$2
shift 2

# The checkout's build, else an installed one (PREFIX/share/neurep/jobs/local
# beside PREFIX/bin/neurep), else neurep on PATH.
bin=${NEUREP_BIN:-$root/build/neurep}
if [[ -z ${NEUREP_BIN:-} && ! -x $bin ]]; then
  bin=$root/../../bin/neurep
  [[ -x $bin ]] || bin=$(command -v neurep || echo "$root/build/neurep")
fi
if [[ ! -x $bin ]]; then
  echo "run.sh: no executable neurep at '$bin' (build it, or set NEUREP_BIN)" >&2
  exit 2
fi

mode=--resume
for a in "$@"; do
  [[ $a == --overwrite || $a == --resume ]] && mode=
done

threads=${OMP_NUM_THREADS:-$((cores / np > 0 ? cores / np : 1))}
export OMP_NUM_THREADS=$threads
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-$threads}
# Debian's OpenBLAS picks a generic kernel on some virtualised Xeons (neurep
# warns): select the AVX-512 or AVX2 one. Setting it yourself wins.
if [[ -z ${OPENBLAS_CORETYPE:-} ]]; then
  if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then export OPENBLAS_CORETYPE=SkylakeX
  elif grep -qw avx2 /proc/cpuinfo 2>/dev/null; then export OPENBLAS_CORETYPE=Haswell; fi
fi
# Open MPI refuses to run as root unless told (containers, CI).
if [[ $(id -u) == 0 ]]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi

launch=("${NEUREP_MPIRUN:-mpirun}" -np "$np")
((np > cores)) && launch+=(--oversubscribe)
# Open MPI binds each of up to 2 ranks to one core by default, which would
# leave a rank's further threads sharing that core: give it `threads` cores.
if ((threads > 1)); then
  if ((np * threads <= cores)); then launch+=(--map-by "slot:PE=$threads" --bind-to core)
  else launch+=(--bind-to none); fi
fi
# shellcheck disable=SC2206
launch+=(${NEUREP_MPIRUN_ARGS:-})
cmd=("$bin" run "$config" -o "$out" ${mode:+"$mode"} "$@")

[[ $(dirname "$out") == . ]] || mkdir -p "$(dirname "$out")"
echo "run.sh: ${launch[*]} ${cmd[*]}   ($threads threads per rank)" >&2

pid="" stops=0
# shellcheck disable=SC2317  # called from the traps below
on_stop() {
  stops=$((stops + 1))
  [[ -n $pid ]] || return 0
  if ((stops == 1)); then
    echo "run.sh: $1: asking neurep to checkpoint and stop (SIGUSR1); again to kill" >&2
    kill -USR1 "$pid" 2>/dev/null
  else
    echo "run.sh: $1 again: terminating mpirun" >&2
    kill -TERM "$pid" 2>/dev/null
  fi
  return 0
}
trap 'on_stop SIGINT' INT
trap 'on_stop SIGTERM' TERM
trap 'on_stop SIGUSR1' USR1
trap 'on_stop SIGHUP' HUP

# mpirun gets a session of its own, so a Ctrl-C on the terminal reaches this
# script only (which asks for a checkpoint) and not mpirun (which would kill
# the ranks at once). Not a process-group leader, setsid execs without forking.
if command -v setsid >/dev/null 2>&1; then
  setsid "${launch[@]}" "${cmd[@]}" &
else
  "${launch[@]}" "${cmd[@]}" &
fi
pid=$!
# A trapped signal interrupts `wait`; wait again until mpirun has exited.
while wait "$pid"; rc=$?; kill -0 "$pid" 2>/dev/null; do :; done
wait "$pid"
rc=$?
case $rc in
  0) ;;
  75) echo "run.sh: interrupted, checkpoint saved in $out: rerun the same command to continue" >&2 ;;
  2) echo "run.sh: bad input (status 2), nothing written" >&2 ;;
  *)
    if ((stops > 0)); then
      # Stopped hard (second signal): the last checkpoint still resumes.
      echo "run.sh: stopped (mpirun status $rc): rerun the same command to continue from the last checkpoint" >&2
      rc=75
    else
      echo "run.sh: neurep failed with status $rc" >&2
    fi ;;
esac
exit "$rc"
