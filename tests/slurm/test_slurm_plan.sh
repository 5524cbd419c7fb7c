#!/usr/bin/env bash
# Integration test of jobs/slurm/submit_array.sh on a real single-node Slurm:
# the array tasks of one manifest get the --time and --mem-per-cpu that
# `neurep plan --json` gives their (configuration, d), different ones for a
# small and a large configuration, and run to completion.
#
#   bash tests/slurm/test_slurm_plan.sh        # from the repository root, as root
#
# Steps: write two kernel configurations (small: one n = 256 point; large:
# n = 2048 and 3072, two seeds) and their manifest at d = 6; run
# submit_array.sh --dry-run with a fixed rate (--rate 0.05: slow enough that
# the large one's planned time exceeds the small one's by minutes, and the
# figures do not depend on this machine's speed) and check that its groups
# are exactly what `neurep plan CONFIG --set sweep.dims=[6] --ranks 2 --json
# --rate 0.05` says per line, that the two differ in --time, and that every
# manifest line is in one group; start the cluster, submit for real, check
# each array task's TimeLimit in scontrol against plan's, wait until both
# complete and check their results files. Exit 0 on success, 77 (skip) when
# not root, else 1 with the failed check; the cluster is always stopped.
#
# Environment: NEUREP_BIN (build/neurep), NEUREP_TEST_TIMEOUT (400 s),
# NEUREP_TEST_KEEP=1 (keep the work directory), NEUREP_SLURM_DIR (/tmp/neurep-slurm).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
T0=$SECONDS
TIMEOUT=${NEUREP_TEST_TIMEOUT:-400}
CLUSTER=$ROOT/tests/slurm/slurm_cluster.sh
PY=/usr/bin/python3
export NEUREP_SLURM_DIR=${NEUREP_SLURM_DIR:-/tmp/neurep-slurm}
export SLURM_CONF=$NEUREP_SLURM_DIR/etc/slurm.conf
export NEUREP_HOME=$ROOT
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-SkylakeX}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
NEUREP_BIN=${NEUREP_BIN:-build/neurep}
[[ $NEUREP_BIN == /* ]] || NEUREP_BIN=$ROOT/$NEUREP_BIN
export NEUREP_BIN
RATE=0.05

say() { printf '[%4ds] %s\n' $((SECONDS - T0)) "$*"; }
WORK="" WATCHDOG="" STARTED=0
fail() {
  say "FAIL: $*"
  if [[ -n $WORK ]]; then
    for f in "$WORK"/logs/*.log; do
      [[ -f $f ]] || continue
      echo "----- $f (last 30 lines)"; tail -n 30 "$f"
    done
  fi
  exit 1
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [[ -n $WATCHDOG ]] && kill "$WATCHDOG" 2>/dev/null
  ((STARTED)) && { "$CLUSTER" stop >/dev/null 2>&1 || say "warning: stopping the cluster failed"; }
  if ((rc == 0)) && [[ ${NEUREP_TEST_KEEP:-0} != 1 ]]; then
    rm -rf "$WORK"
  elif [[ -n $WORK ]]; then
    say "work directory kept: $WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'fail "interrupted or overall timeout (${TIMEOUT}s, NEUREP_TEST_TIMEOUT) reached"' TERM INT
set -m
(trap 'kill $! 2>/dev/null; exit 0' TERM; sleep "$TIMEOUT" & wait $!; kill -TERM $$) &
WATCHDOG=$!
set +m

if [[ $(id -u) != 0 ]]; then
  say "SKIP: must run as root (the test cluster's daemons run as root)"
  exit 77
fi
[[ -x $NEUREP_BIN ]] || fail "no executable neurep at $NEUREP_BIN (build it, or set NEUREP_BIN)"
$PY -c 'import h5py' 2>/dev/null || fail "$PY cannot import h5py (apt-get install python3-h5py)"
WORK=$(mktemp -d /tmp/neurep-slurm-plan.XXXXXX)
mkdir -p "$WORK/configs" "$WORK/logs"
cd "$WORK" || fail "cannot enter $WORK"

cat >"$WORK/configs/large.toml" <<'EOF'
# tests/slurm/test_slurm_plan.sh: the larger task.
[data]
dim = 6
n_test = 500
[learner]
kind = "kernel"
[sweep]
n_train = [2048, 3072]
seeds = 2
EOF
cat >"$WORK/configs/small.toml" <<'EOF'
# tests/slurm/test_slurm_plan.sh: the smaller task.
[data]
dim = 6
n_test = 200
[learner]
kind = "kernel"
[sweep]
n_train = [256]
seeds = 1
EOF
"$ROOT/jobs/slurm/make_manifest.sh" "$WORK/configs" 6 >"$WORK/manifest.txt" 2>/dev/null || fail "make_manifest.sh failed"
mapfile -t LINES < <(grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$WORK/manifest.txt")
((${#LINES[@]} == 2)) || fail "the manifest has ${#LINES[@]} lines, expected 2"

# ---------------------------------------------------------------- plan per line
declare -a WANT_TIME WANT_MEM
for i in 0 1; do
  cfg=${LINES[$i]% *}
  json=$("$NEUREP_BIN" plan "$cfg" --set 'sweep.dims=[6]' --ranks 2 --json --rate "$RATE") || fail "neurep plan $cfg failed"
  WANT_TIME[$i]=$(sed -n 's/.*"time": "\([^"]*\)".*/\1/p' <<<"$json")
  WANT_MEM[$i]=$(sed -n 's/.*"mem_per_cpu": "\([^"]*\)".*/\1/p' <<<"$json")
  [[ -n ${WANT_TIME[$i]} && -n ${WANT_MEM[$i]} ]] || fail "plan --json of $cfg has no slurm time or memory: $json"
  say "plan: line $i ($(basename "$cfg")): --time=${WANT_TIME[$i]} --mem-per-cpu=${WANT_MEM[$i]}"
done
[[ ${WANT_TIME[0]} != "${WANT_TIME[1]}" ]] || fail "plan gives both tasks --time=${WANT_TIME[0]}: the test needs them to differ"

# ---------------------------------------------------------------- dry run
RESULTS=$WORK/results
DRY=$("$ROOT/jobs/slurm/submit_array.sh" --ranks 2 --rate "$RATE" --dry-run "$WORK/manifest.txt" "$RESULTS" \
  -- --output="$WORK/logs/task-%A_%a.log") || fail "submit_array.sh --dry-run failed"
echo "$DRY"
((($(grep -c . <<<"$DRY")) == 2)) || fail "expected two groups (different --time), got: $DRY"
for i in 0 1; do
  line=$(awk -v i="$i" '$3 == i' <<<"$DRY")
  [[ -n $line ]] || fail "no group holds exactly task $i"
  [[ $line == *"--array=$i "* && $line == *"--time=${WANT_TIME[$i]} "* && $line == *"--mem-per-cpu=${WANT_MEM[$i]} "* \
     && $line == *"--ntasks=2 "* && $line == *"jobs/slurm/array.sbatch $WORK/manifest.txt $RESULTS"* ]] \
    || fail "task $i's group is not plan's --time=${WANT_TIME[$i]} --mem-per-cpu=${WANT_MEM[$i]}: $line"
done
# A factor on plan's time: NEUREP_TIME_FACTOR=2 doubles it (whole minutes).
DRY2=$(NEUREP_TIME_FACTOR=2 "$ROOT/jobs/slurm/submit_array.sh" --ranks 2 --rate "$RATE" --dry-run "$WORK/manifest.txt" "$RESULTS") \
  || fail "submit_array.sh with NEUREP_TIME_FACTOR=2 failed"
minutes() { local h m s; IFS=: read -r h m s <<<"$1"; echo $((10#$h * 60 + 10#$m)); }
t0=$(awk '$3 == 0 {print $1}' <<<"$DRY2")
(($(minutes "$t0") == 2 * $(minutes "${WANT_TIME[0]}"))) || fail "NEUREP_TIME_FACTOR=2: $t0, plan ${WANT_TIME[0]}"

# ---------------------------------------------------------------- submit
say "starting the cluster in $NEUREP_SLURM_DIR"
STARTED=1
"$CLUSTER" start || fail "the Slurm test cluster did not start"
OUT=$("$ROOT/jobs/slurm/submit_array.sh" --ranks 2 --rate "$RATE" "$WORK/manifest.txt" "$RESULTS" \
  -- --output="$WORK/logs/task-%A_%a.log") || fail "submit_array.sh failed: $OUT"
echo "$OUT"
mapfile -t JOBS < <(sed -n 's/^Submitted batch job \([0-9]*\).*/\1/p' <<<"$OUT")
((${#JOBS[@]} == 2)) || fail "expected two sbatch submissions, got ${#JOBS[@]}"

# scontrol's TimeLimit of array task i (whichever job holds it), normalised to HH:MM:SS.
limit_of() {
  local j
  for j in "${JOBS[@]}"; do
    scontrol -o show job "$j" 2>/dev/null | tr ' ' '\n' | paste -sd ' ' | grep -q "ArrayTaskId=$1 " || continue
    scontrol -o show job "$j" | tr ' ' '\n' | sed -n 's/^TimeLimit=//p' | head -n1
    return
  done
}
norm() { [[ $1 == *:*:* ]] && echo "$1" || echo "00:$1"; }
for i in 0 1; do
  got=$(limit_of "$i")
  [[ -n $got ]] || fail "scontrol knows no array task $i"
  [[ $(norm "$got") == "${WANT_TIME[$i]}" ]] || fail "array task $i has TimeLimit=$got, plan says ${WANT_TIME[$i]}"
  say "array task $i: TimeLimit=$got (plan ${WANT_TIME[$i]})"
done

all_done() {
  local j st
  for j in "${JOBS[@]}"; do
    st=$(scontrol -o show job "$j" 2>/dev/null | tr ' ' '\n' | sed -n 's/^JobState=//p' | head -n1)
    case $st in
      COMPLETED) ;;
      FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY) fail "job $j ended $st" ;;
      *) return 1 ;;
    esac
  done
}
deadline=$((SECONDS + TIMEOUT - 30))
until all_done; do
  ((SECONDS < deadline)) || fail "the tasks did not complete in time"
  sleep 2
done
for stem in large small; do
  f=$RESULTS/${stem}_d6.h5
  st=$($PY -c 'import sys, h5py
s = h5py.File(sys.argv[1], "r").attrs["status"]
print(s.decode() if isinstance(s, bytes) else s)' "$f" 2>/dev/null)
  [[ $st == complete ]] || fail "$f: status '$st', expected complete"
done
say "PASS: the two array tasks got plan's --time (${WANT_TIME[0]}, ${WANT_TIME[1]}) and completed"
