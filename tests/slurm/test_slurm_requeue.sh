#!/usr/bin/env bash
# Integration test of jobs/slurm/array.sbatch on a real single-node Slurm:
# the time-limit signal makes a running array task checkpoint, exit 75,
# requeue itself and finish with --resume; its results must equal those of
# the same campaign run uninterrupted with jobs/local/campaign.sh (mpirun).
#
#   bash tests/slurm/test_slurm_requeue.sh        # from the repository root, as root
#
# Steps: start the cluster (tests/slurm/slurm_cluster.sh), write a tiny
# campaign (one configuration x dims 6 and 8 = 2 array tasks, 2 ranks each),
# submit it, wait until task 0 runs and has written some but not all of its
# rows, deliver the time-limit signal exactly as `--signal=B:USR1@N` would
# (`scancel --signal=USR1 --batch`), check that the task exits 75, is
# requeued (Restarts=1 in scontrol, two starts in its log) and completes;
# run the campaign again without Slurm and compare the /results columns
# d, n, seed, ridge, status, test_error, train_error (exactly equal, as sets
# of rows, no duplicates). Exit 0 on success; 77 (skip) when not root;
# otherwise 1 with a message saying which check failed, and the work
# directory is kept for inspection.
# The cluster is always stopped on exit.
#
# Slurm holds a requeued batch job back for ~2 minutes (its BeginTime); the
# test releases it at once with `scontrol update JobId=.. StartTime=now`
# (NEUREP_TEST_WAIT_BEGIN=1 waits the real delay instead).
#
# Environment:
#   NEUREP_BIN            program under test        (build/neurep; the test
#                         double tests/slurm/fake_neurep.sh also works)
#   NEUREP_TEST_TIMEOUT   overall limit, seconds     (600)
#   NEUREP_TEST_CONFIG    a configuration to use instead of the built-in one
#   NEUREP_TEST_DIMS      dims of the campaign       ("6 8")
#   NEUREP_TEST_KEEP      1: keep the work directory also on success
#   NEUREP_SLURM_DIR      scratch dir of the cluster (/tmp/neurep-slurm)
#   NEUREP_LAUNCHER       mpirun (default) | srun, for the Slurm jobs
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
T0=$SECONDS
TIMEOUT=${NEUREP_TEST_TIMEOUT:-600}
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
read -r -a DIMS <<<"${NEUREP_TEST_DIMS:-6 8}"

say() { printf '[%4ds] %s\n' $((SECONDS - T0)) "$*"; }
WORK="" WATCHDOG=""
fail() {
  say "FAIL: $*"
  if [[ -n $WORK ]]; then
    for f in "$WORK"/logs/*.log; do
      [[ -f $f ]] || continue
      echo "----- $f (last 40 lines)"; tail -n 40 "$f"
    done
  fi
  exit 1
}
CHILD=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [[ -n $WATCHDOG ]] && kill "$WATCHDOG" 2>/dev/null
  if [[ -n $CHILD ]] && kill -0 "$CHILD" 2>/dev/null; then
    kill -TERM "$CHILD" 2>/dev/null  # the local campaign: checkpoint and stop
    wait "$CHILD" 2>/dev/null
  fi
  "$CLUSTER" stop >/dev/null 2>&1 || say "warning: stopping the cluster failed"
  if ((rc == 0)) && [[ ${NEUREP_TEST_KEEP:-0} != 1 ]]; then
    rm -rf "$WORK"
  elif [[ -n $WORK ]]; then
    say "work directory kept: $WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'fail "interrupted or overall timeout (${TIMEOUT}s, NEUREP_TEST_TIMEOUT) reached"' TERM INT

# Overall bound, so CI never hangs: the watchdog signals this shell. Its
# sleep is killed with it (the watchdog is its own process group).
set -m
(trap 'kill $! 2>/dev/null; exit 0' TERM; sleep "$TIMEOUT" & wait $!; kill -TERM $$) &
WATCHDOG=$!
set +m

# wait_for SECONDS WHAT CMD...: poll CMD every second until it succeeds.
wait_for() {
  local limit=$1 what=$2 deadline=$((SECONDS + $1))
  shift 2
  until "$@"; do
    ((SECONDS < deadline)) || fail "timed out after ${limit}s waiting for: $what"
    sleep 1
  done
}

# ---------------------------------------------------------------- preconditions
if [[ $(id -u) != 0 ]]; then
  say "SKIP: must run as root (the test cluster's daemons run as root)"
  exit 77
fi
[[ -x $NEUREP_BIN ]] || fail "no executable neurep at $NEUREP_BIN (build it, or set NEUREP_BIN)"
$PY -c 'import h5py, numpy' 2>/dev/null || fail "$PY cannot import h5py and numpy (apt-get install python3-h5py)"
command -v mpirun >/dev/null || fail "mpirun not found (Open MPI)"
WORK=$(mktemp -d /tmp/neurep-slurm-test.XXXXXX)
mkdir -p "$WORK/configs" "$WORK/logs"
say "neurep: $NEUREP_BIN; work directory: $WORK"

# ---------------------------------------------------------------- campaign
if [[ -n ${NEUREP_TEST_CONFIG:-} ]]; then
  cp "$NEUREP_TEST_CONFIG" "$WORK/configs/campaign.toml" || fail "cannot copy $NEUREP_TEST_CONFIG"
else
  # A kernel campaign, as small as allows interrupting it: 5 n x 8 seeds = 40
  # points per d, ~10 s per array task with 2 ranks on a 2-core machine
  # (the n = 4096 points dominate), so the signal lands mid-run.
  cat >"$WORK/configs/campaign.toml" <<'EOF'
# tests/slurm/test_slurm_requeue.sh: a small kernel campaign.
[data]
dim = 6
n_test = 500

[learner]
kind = "kernel"

[sweep]
dims = [6, 8]
n_train = [256, 512, 1024, 2048, 4096]
seeds = 8
EOF
fi
# The fake "computes" a point in this many seconds; the real program ignores it.
export NEUREP_FAKE_SECONDS=${NEUREP_FAKE_SECONDS:-0.3}
"$ROOT/jobs/slurm/make_manifest.sh" "$WORK/configs" "${DIMS[@]}" >"$WORK/manifest.txt" 2>/dev/null \
  || fail "jobs/slurm/make_manifest.sh failed"
NTASKS=$(grep -c . "$WORK/manifest.txt")
((NTASKS == ${#DIMS[@]})) || fail "manifest has $NTASKS lines, expected ${#DIMS[@]}"

# "ROWS STATUS" of a results file ("0 none" while it does not exist or cannot be
# read: the writer may hold it open).
progress() {
  HDF5_USE_FILE_LOCKING=FALSE $PY - "$1" <<'EOF' 2>/dev/null || echo "0 none"
import sys, h5py
try:
    with h5py.File(sys.argv[1], "r") as f:
        st = f.attrs.get("status", "?")
        print(len(f["results"]["d"]), st.decode() if isinstance(st, bytes) else st)
except Exception:
    print("0 none")
EOF
}

# ---------------------------------------------------------------- cluster
say "starting the cluster in $NEUREP_SLURM_DIR"
"$CLUSTER" start || fail "the Slurm test cluster did not start"

# ---------------------------------------------------------------- submit
RESULTS=$WORK/slurm-results
JOB=$(sbatch --parsable --array=0-$((NTASKS - 1)) --ntasks=2 --cpus-per-task=1 --time=10 \
  --signal=B:USR1@10 --output="$WORK/logs/task-%A_%a.log" \
  jobs/slurm/array.sbatch "$WORK/manifest.txt" "$RESULTS") || fail "sbatch failed"
JOB=${JOB%%;*}
say "submitted array job $JOB ($NTASKS tasks)"
TASK=${JOB}_0
LOG=$WORK/logs/task-${JOB}_0.log
OUT0=$RESULTS/$(sed -n 1p "$WORK/manifest.txt" | awk '{print $1}' | xargs basename | sed 's/\.toml$//')_d${DIMS[0]}.h5

job_field() {  # job_field JOB FIELD: a field of `scontrol show job`
  scontrol -o show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n1
}
task_state() { job_field "$TASK" JobState; }
is_running() { [[ $(task_state) == RUNNING ]]; }
has_partial() {
  local n st
  read -r n st <<<"$(progress "$OUT0")"
  [[ $st == complete ]] && fail "task $TASK completed before it could be interrupted: make the campaign longer (NEUREP_TEST_CONFIG)"
  ((n >= 1))
}

wait_for 120 "task $TASK running" is_running
JOBID0=$(job_field "$TASK" JobId)
say "task $TASK (job id $JOBID0) is running"
wait_for 180 "partial results in $OUT0" has_partial
read -r N_BEFORE _ <<<"$(progress "$OUT0")"
say "task $TASK has written $N_BEFORE rows; sending the time-limit signal (scancel --signal=USR1 --batch)"
T_SIG=$SECONDS
scancel --signal=USR1 --batch "$TASK" || fail "scancel --signal=USR1 --batch $TASK failed"

# ---------------------------------------------------------------- requeue
requeued_or_ended() {
  [[ $(job_field "$TASK" Restarts) == 1 ]] && return 0
  case $(task_state) in
    COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY)
      fail "task $TASK ended $(task_state) (exit code $(job_field "$TASK" ExitCode)) without a requeue: the signal came too late, or the script did not requeue on status 75" ;;
  esac
  return 1
}
wait_for 120 "task $TASK to be requeued (Restarts=1)" requeued_or_ended
say "task $TASK requeued after $((SECONDS - T_SIG))s: state $(task_state), reason $(job_field "$TASK" Reason)"
grep -q 'neurep exited with status 75' "$LOG" || fail "log $LOG does not show neurep exiting with status 75"
grep -q 'requeued job' "$LOG" || fail "log $LOG does not show the requeue"
read -r N_SAVED ST_SAVED <<<"$(progress "$OUT0")"
((N_SAVED >= N_BEFORE)) || fail "the checkpointed file holds $N_SAVED rows, fewer than the $N_BEFORE seen before the signal"
[[ $ST_SAVED != complete ]] || fail "$OUT0 is already complete: the run finished before the signal took effect"
say "checkpointed file holds $N_SAVED rows (status $ST_SAVED)"
if [[ ${NEUREP_TEST_WAIT_BEGIN:-0} != 1 ]] && [[ $(task_state) == PENDING ]]; then
  # Slurm's requeue delay (BeginTime ~2 min ahead); release the task now.
  scontrol update JobId="$JOBID0" StartTime=now || fail "scontrol update StartTime=now failed"
fi

# ---------------------------------------------------------------- completion
all_done() { [[ -z $(squeue -h -j "$JOB" -o %i 2>/dev/null) ]]; }
wait_for $((TIMEOUT - (SECONDS - T0) - 60 > 60 ? TIMEOUT - (SECONDS - T0) - 60 : 60)) "array job $JOB to finish" all_done
say "array job $JOB finished"
for ((i = 0; i < NTASKS; i++)); do
  st=$(job_field "${JOB}_$i" JobState) ec=$(job_field "${JOB}_$i" ExitCode) rs=$(job_field "${JOB}_$i" Restarts)
  say "task ${JOB}_$i: state $st, exit code $ec, restarts $rs"
  [[ $st == COMPLETED && $ec == 0:0 ]] || fail "task ${JOB}_$i ended $st with exit code $ec"
done
starts=$(grep -c 'neurep-job: .* start: ' "$LOG")
((starts == 2)) || fail "log $LOG shows $starts starts, expected 2"
grep -q 'start: .*restart 1 ' "$LOG" || fail "the second start in $LOG is not 'restart 1'"
grep -q 'done: ' "$LOG" || fail "log $LOG does not end with a completed run"
say "task $TASK: two starts in its log, second with SLURM_RESTART_COUNT=1, then complete"
if [[ -f $NEUREP_SLURM_DIR/log/jobcomp.log ]]; then
  grep "JobId=$JOBID0 " "$NEUREP_SLURM_DIR/log/jobcomp.log" | sed 's/^/    jobcomp: /' | cut -c1-160
fi

# ---------------------------------------------------------------- reference
say "running the same campaign uninterrupted with jobs/local/campaign.sh -n 2"
LOCAL=$WORK/local-results
# In the background, so the overall timeout can interrupt it.
"$ROOT/jobs/local/campaign.sh" -n 2 "$WORK/configs" "$LOCAL" "${DIMS[@]}" >"$WORK/logs/local.log" 2>&1 &
CHILD=$!
wait "$CHILD" || fail "the local campaign failed with status $? (see $WORK/logs/local.log)"
CHILD=""

# ---------------------------------------------------------------- compare
say "comparing /results of the Slurm and local campaigns"
$PY - "$RESULTS" "$LOCAL" <<'EOF' || fail "results differ (see above)"
import os, sys
import h5py, numpy as np
slurm_dir, local_dir = sys.argv[1:3]
KEY = ["d", "n", "seed", "ridge"]
COLS = KEY + ["status", "test_error", "train_error"]
def load(path):
    with h5py.File(path, "r") as f:
        g = f["results"]
        missing = [c for c in COLS if c not in g]
        if missing:
            sys.exit(f"{path}: /results lacks {missing}")
        cols = {c: g[c][()] for c in COLS}
    cols["status"] = np.array([s.decode() if isinstance(s, bytes) else str(s) for s in cols["status"]])
    rows = list(zip(*(cols[c].tolist() for c in COLS)))
    keys = [r[:4] for r in rows]
    if len(set(keys)) != len(keys):
        sys.exit(f"{path}: duplicate sweep points (a finished point was recomputed)")
    return sorted(rows)
# Only the results files: neurep may keep other files beside them (e.g. the
# previous checkpoint generation, *.h5.prev).
def h5s(d):
    return sorted(x for x in os.listdir(d) if x.endswith(".h5"))
names = h5s(local_dir)
if h5s(slurm_dir) != names or not names:
    sys.exit(f"file sets differ: slurm {h5s(slurm_dir)} local {names}")
bad = 0
for name in names:
    a, b = load(os.path.join(slurm_dir, name)), load(os.path.join(local_dir, name))
    if len(a) != len(b):
        print(f"{name}: {len(a)} rows (slurm) vs {len(b)} (local)"); bad += 1; continue
    diff = [(x, y) for x, y in zip(a, b) if x != y]
    for x, y in diff[:5]:
        print(f"{name}: slurm {dict(zip(COLS, x))}\n{' ' * len(name)}  local {dict(zip(COLS, y))}")
    bad += bool(diff)
    nok = sum(r[4] == "ok" for r in a)
    print(f"  {name}: {len(a)} rows equal ({nok} ok)" if not diff else f"  {name}: {len(diff)} rows differ")
sys.exit(1 if bad else 0)
EOF
say "PASS: requeue after SIGUSR1 and resume give the uninterrupted results ($((SECONDS - T0))s)"
