#!/usr/bin/env bash
# Every benchmark of bench/RESULTS.md in one run (about 8 minutes on 2 cores):
# the machine's DGEMM/SGEMM/DPOTRF rates, neurep's phases at 1 rank x 2 threads
# and 2 ranks x 1 thread (kernel regression at n = 16384 with peak memory per
# rank, the Cholesky at block 64/128/256, one Taylor step per order in double
# and single, the representation and its whitening), the peers (NumPy/SciPy,
# scikit-learn, PyTorch) on the same data and threads, and 1/2/4-rank scaling.
# Writes bench/results/<date>.json and prints a table with every target.
#
#   bench/run.sh [--repeats R] [--n N] [--quick] [--build DIR] [--keep] [--wait-quiet S]
#
#   --repeats R  runs of each neurep kernel-regression configuration and peer
#                (best of R; default 1). The short benchmarks always take the
#                best of 3.
#   --n N        kernel-regression training points (default 16384).
#   --quick      n = 4096, a smoke test of the script (figures meaningless).
#   --build DIR  build directory (default: $NEUREP_BUILD or <checkout>/build);
#                configured and built here when needed.
#   --keep       keep the work folder (data, results files, logs).
#   --wait-quiet S  before each section wait up to S seconds for the other
#                processes to leave the CPUs (< 10 % busy over 2 s).
#
# The peers need scikit-learn, PyTorch and threadpoolctl: scripts/install-deps.sh --bench.
# Timings are only as good as the machine is quiet: the load average and the
# CPU time other processes took are recorded beside every section.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
repeats=1 n=16384 keep=0 quick=0 wait=0
build=${NEUREP_BUILD:-$root/build}
while (($#)); do
  case $1 in
    --repeats) repeats=$2; shift 2 ;;
    --n) n=$2; shift 2 ;;
    --quick) quick=1 n=4096; shift ;;
    --build) build=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --wait-quiet) wait=$2; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
py=/usr/bin/python3
cores=$(nproc)

# --- build ------------------------------------------------------------------
targets=(neurep bench_blas bench_factor bench_taylor_step bench_representation)
if [[ ! -f $build/CMakeCache.txt ]]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" -j"$cores" --target "${targets[@]}" >/dev/null
bin=$build/neurep
bb=$build/bench

# --- environment: the BLAS kernel, MPI as root --------------------------------
# Debian's OpenBLAS picks a generic kernel on some virtualised Xeons; neurep
# warns, and this (like jobs/) applies the fix. Every timing, neurep's and the
# peers', runs with the same setting.
if [[ -z ${OPENBLAS_CORETYPE:-} ]]; then
  if grep -qw avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX
  elif grep -qw avx2 /proc/cpuinfo; then export OPENBLAS_CORETYPE=Haswell; fi
fi
if [[ $(id -u) == 0 ]]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
unset OMP_NUM_THREADS OPENBLAS_NUM_THREADS MKL_NUM_THREADS

date=$(date -u +%Y-%m-%dT%H%M%SZ)
mkdir -p "$here/results"
work=$(mktemp -d "${TMPDIR:-/tmp}/neurep-bench.XXXXXX")
((keep)) || trap 'rm -rf "$work"' EXIT
raw=$work/raw.jsonl
: >"$raw"
log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }

# CPU seconds (user + system, all processes) from /proc/stat.
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '/^cpu /{print ($2+$3+$4+$7+$8)/hz}' /proc/stat; }

# Percentage of the CPUs busy over 2 s.
busy_percent() {
  local a b
  a=$(awk '/^cpu /{print $2+$3+$4+$7+$8, $5+$6}' /proc/stat); sleep 2
  b=$(awk '/^cpu /{print $2+$3+$4+$7+$8, $5+$6}' /proc/stat)
  echo "$a $b" | awk '{busy = $3 - $1; idle = $4 - $2; print int(100 * busy / (busy + idle + 1e-9))}'
}
wait_quiet() {
  ((wait > 0)) || return 0
  local start=$SECONDS
  while (($(busy_percent) >= 10 && SECONDS - start < wait)); do :; done
}

# section NAME -- CMD...: runs CMD with its stdout's JSON lines
# tagged with the section, the load average and the CPU seconds that the
# whole machine spent during it (compare with the command's own: `other`).
section() {
  local name=$1; shift
  [[ $1 == -- ]] && shift
  local load0 cpu0 t0 rc=0
  wait_quiet
  load0=$(cut -d' ' -f1 /proc/loadavg) cpu0=$(cpu_seconds) t0=$(date +%s.%N)
  log "$name: $*"
  local TIMEFORMAT='%U %S'
  { time "$@" >"$work/out.txt" 2>"$work/err.txt" || rc=$?; } 2>"$work/self.time"
  if ((rc != 0)); then
    log "$name failed (exit $rc):"; tail -5 "$work/err.txt" >&2
    printf '{"section": "%s", "bench": "failed", "exit": %d, "command": "%s"}\n' "$name" "$rc" "$*" >>"$raw"
    return 0
  fi
  grep -v '^{' "$work/err.txt" | grep -iv 'oversubscri' | sed 's/^/    /' >&2 || true
  local wall cpu self
  wall=$(echo "$(date +%s.%N) - $t0" | bc) cpu=$(echo "$(cpu_seconds) - $cpu0" | bc)
  self=$(awk '{print $1 + $2}' "$work/self.time")
  local tag
  tag=$(printf '"section": "%s", "load1_before": %s, "load1_after": %s, "wall": %.2f, "machine_cpu_seconds": %.1f, "own_cpu_seconds": %.1f, ' \
    "$name" "$load0" "$(cut -d' ' -f1 /proc/loadavg)" "$wall" "$cpu" "$self")
  grep '^{' "$work/out.txt" | sed "s/^{/{$tag/" >>"$raw" || true
}

mpi() { # mpi NP THREADS CMD...: NP ranks with THREADS BLAS/OpenMP threads each
  local np=$1 th=$2; shift 2
  local extra=()
  ((np > cores)) && extra=(--oversubscribe)
  OMP_NUM_THREADS=$th OPENBLAS_NUM_THREADS=$th mpirun -np "$np" "${extra[@]}" --bind-to none "$@"
}

# Peak resident memory of every rank: /usr/bin/time around each one.
rss() { # rss TAG CMD...
  local tag=$1; shift
  bash -c 'exec /usr/bin/time -f "%M %e" -o "$0.${OMPI_COMM_WORLD_RANK:-0}" "$@"' "$work/rss.$tag" "$@"
}

# --- 1. the machine's rates ----------------------------------------------------
section blas_2threads -- env OPENBLAS_NUM_THREADS=2 "$bb/bench_blas" --gemm 4096 --potrf 8192 --repeats 3
section blas_1thread -- env OPENBLAS_NUM_THREADS=1 "$bb/bench_blas" --gemm 4096 --potrf 8192 --repeats 3

# --- 2. the Cholesky against LAPACK; block size ---------------------------------
fn=$((quick ? 2048 : 8192))
section factor_1x2 -- mpi 1 2 "$bb/bench_factor" --n "$fn" --blocks 128 --repeats 3
section factor_2x1 -- mpi 2 1 "$bb/bench_factor" --n "$fn" --blocks 64,128,256 --repeats 2
section eigen_2x1 -- mpi 2 1 "$bb/bench_factor" --n $((quick ? 1024 : 4096)) --blocks 128 --repeats 1 --syevd $((quick ? 1024 : 4096))

# --- 3. kernel regression: neurep and the peers on the same data ------------------
cat >"$work/kernel.toml" <<EOF
# NTK kernel regression on raw x, d = 16 (bench/run.sh)
[data]
dim = 16
n_test = 4000
[learner]
kind = "kernel"
kernel = "ntk"
input_bias = true
ridge = [1e-6]
[sweep]
n_train = [$n]
seeds = 1
[run]
save_data = false
EOF
# The process's own footprint (MPI, libraries): the fixed overhead of the memory target.
section kernel_baseline -- rss baseline "$bin" run "$work/kernel.toml" -o "$work/baseline.h5" -q --set sweep.n_train=[256]
kernel_run() { # kernel_run TAG NP THREADS [neurep options]
  local tag=$1 np=$2 th=$3; shift 3
  local r
  for ((r = 1; r <= repeats; r++)); do
    rm -rf "$work/kernel_$tag.$r.h5" "$work/kernel_$tag.$r.h5.data"
    section "kernel_$tag" -- mpi "$np" "$th" bash -c 'exec /usr/bin/time -f "%M %e" -o "$0.${OMPI_COMM_WORLD_RANK:-0}" "$@"' \
      "$work/rss.kernel_$tag.$r" "$bin" run "$work/kernel.toml" -o "$work/kernel_$tag.$r.h5" -q "$@"
  done
}
kernel_run 1x2 1 2 --set run.save_data=true
kernel_run 2x1 2 1
# The same run in single precision (float K, pspotrf/pspotrs): speed-up and accuracy cost.
kernel_run 2x1_single 2 1 --set run.precision=single
data=$work/kernel_1x2.1.h5.data/d16_seed0.h5
for ((r = 1; r <= repeats; r++)); do
  section peer_numpy -- "$py" "$here/peers.py" kernel --peer numpy --data "$data" --threads 2
  section peer_sklearn -- "$py" "$here/peers.py" kernel --peer sklearn --data "$data" --threads 2
done
# Scaling on the same problem: 1 rank x 1 thread, and 4 ranks (oversubscribed on 2 cores).
kernel_run 1x1 1 1
kernel_run 4x1 4 1

# --- 4. one Taylor step per order, double and single; PyTorch ------------------------
# Each bench_taylor_step interleaves the step, its two products and plain
# dgemm/sgemm round by round (best of 6 rounds of 2 steps): the machine's
# rate drifts too much for separate measurements. Pr x 1 grids (2x1) take
# the gather/reduce-scatter products, "auto" (1x2) PBLAS.
tq=$((quick ? 256 : 1024)) tn=$((quick ? 2048 : 8192))
ts=(--n "$tn" --q "$tq" --m "$tq" --repeats 6 --steps 2)
for ((r = 1; r <= repeats; r++)); do
  section taylor_1x2 -- mpi 1 2 "$bb/bench_taylor_step" "${ts[@]}" --orders 1,2,full --precisions double,single
  for p in double single; do
    section peer_torch -- env OPENBLAS_NUM_THREADS=2 "$py" "$here/peers.py" taylor --n "$tn" --q "$tq" --m "$tq" --precision $p --threads 2
  done
  section taylor_2x1 -- mpi 2 1 "$bb/bench_taylor_step" "${ts[@]}" --orders 2 --precisions double,single --grid 2x1
done
for b in 64 128 256; do  # block size, on the PBLAS path
  section taylor_blocks -- mpi 2 1 "$bb/bench_taylor_step" "${ts[@]}" --orders 2 --precisions double --grid 1x2 --block $b
done
section taylor_1x1 -- mpi 1 1 "$bb/bench_taylor_step" "${ts[@]}" --orders 2 --precisions double
section taylor_4x1 -- mpi 4 1 "$bb/bench_taylor_step" "${ts[@]}" --orders 2 --precisions double --grid 4x1

# --- 5. the representation and its whitening ---------------------------------------
rw=$((quick ? 512 : 2048))
section representation_1x2 -- mpi 1 2 "$bb/bench_representation" --d 32 --width "$rw" --n 8192
section representation_2x1 -- mpi 2 1 "$bb/bench_representation" --d 32 --width "$rw" --n 8192
# The same in single precision: the zca product in float, the estimate in double.
section representation_2x1_single -- mpi 2 1 "$bb/bench_representation" --d 32 --width "$rw" --n 8192 --precision single
section peer_representation -- "$py" "$here/peers.py" representation --d 32 --width "$rw" --n 8192 --threads 2

# --- report ---------------------------------------------------------------------------
out=$here/results/$date.json
"$py" "$here/report.py" --raw "$raw" --work "$work" --n "$n" --repeats "$repeats" \
  --command "bench/run.sh $*" --out "$out"
((keep)) && log "work folder kept: $work"
log "wrote $out"
