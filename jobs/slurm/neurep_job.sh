# shellcheck shell=bash
# Shared body of jobs/slurm/run.sbatch and jobs/slurm/array.sbatch: sourced,
# never run. Provides
#   neurep_job_setup            environment for the ranks (threads, BLAS, launcher)
#   neurep_job_run CONFIG OUT [neurep options...]
#                               launch `neurep run CONFIG -o OUT --resume ...`,
#                               forward the time-limit signal, requeue on 75;
#                               does not return (exits the batch script).
#
# Exit-status handling of `neurep run` (DESIGN 3.1, 3.3, 5):
#   0   sweep complete                   -> job exits 0 (COMPLETED)
#   75  interrupted by SIGUSR1/SIGTERM,  -> `scontrol requeue $SLURM_JOB_ID`; the job
#       state checkpointed                  goes back to PENDING (Restarts+1) and,
#                                           when it starts again, the same script
#                                           runs `neurep run ... --resume`, which
#                                           continues from the checkpoint
#   2   bad input, nothing written       -> job exits 2 (FAILED), no requeue
#   3   runtime failure                  -> job exits 3 (FAILED), no requeue
#   other (e.g. 137 = a rank was killed) -> passed through, no requeue
#
# Signals: `#SBATCH --signal=B:USR1@<s>` makes Slurm send SIGUSR1 to this
# batch shell only, <s> seconds before the time limit. bash runs a trap only
# between commands, so the launcher runs in the background and the shell
# sits in `wait`; the trap forwards SIGUSR1 to the launcher: Open MPI's mpirun
# forwards SIGUSR1 to every rank by default (SIGTERM would make it kill the
# ranks instead), and srun forwards SIGUSR1 to its tasks. SIGTERM received by
# the shell (scancel, preemption, the time limit itself) is forwarded as
# SIGUSR1 too; Slurm also signals the ranks directly in those cases.
#
# Environment (all optional):
#   NEUREP_HOME          the neurep checkout ($SLURM_SUBMIT_DIR, i.e. submit from it)
#   NEUREP_BIN           the program ($NEUREP_HOME/build/neurep, else the installed
#                        $NEUREP_HOME/../../bin/neurep, else neurep on PATH)
#   NEUREP_LAUNCHER      mpirun (default) | srun
#   NEUREP_MPIRUN_ARGS   extra mpirun options (word-split)
#   NEUREP_SRUN_MPI      srun --mpi plugin (pmix)
#   NEUREP_SRUN_ARGS     extra srun options (word-split)
#   NEUREP_MAX_REQUEUES  stop requeueing after this many restarts (20)
#   NEUREP_REQUEUE       1 (default) requeue on 75; 0: just exit 75

neurep_log() { echo "neurep-job: $(date '+%F %T') $*"; }

neurep_job_setup() {
  : "${NEUREP_HOME:=${SLURM_SUBMIT_DIR:-$PWD}}"
  # The checkout's build, else an installed one (NEUREP_HOME=PREFIX/share/neurep
  # beside PREFIX/bin/neurep), else neurep on PATH (e.g. after `module load`).
  if [[ -z ${NEUREP_BIN:-} ]]; then
    NEUREP_BIN=$NEUREP_HOME/build/neurep
    [[ -x $NEUREP_BIN ]] || NEUREP_BIN=$NEUREP_HOME/../../bin/neurep
    [[ -x $NEUREP_BIN ]] || NEUREP_BIN=$(command -v neurep || echo "$NEUREP_HOME/build/neurep")
  fi
  : "${NEUREP_LAUNCHER:=mpirun}"
  export NEUREP_HOME NEUREP_BIN NEUREP_LAUNCHER

  # Debian's OpenBLAS picks a slow generic kernel on some CPUs unless told the
  # core type (neurep warns): AVX-512 -> SkylakeX, AVX2 -> Haswell, on this node.
  if [[ -z ${OPENBLAS_CORETYPE:-} ]]; then
    if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then export OPENBLAS_CORETYPE=SkylakeX
    elif grep -qw avx2 /proc/cpuinfo 2>/dev/null; then export OPENBLAS_CORETYPE=Haswell; fi
  fi
  # One BLAS/OpenMP thread per CPU Slurm gave each task.
  local threads=${SLURM_CPUS_PER_TASK:-1}
  export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
  # Since Slurm 22.05 srun no longer inherits --cpus-per-task from sbatch.
  [[ -n ${SLURM_CPUS_PER_TASK:-} ]] && export SRUN_CPUS_PER_TASK=$SLURM_CPUS_PER_TASK
  # Open MPI refuses to run as root unless told (containers, the test cluster).
  if [[ $(id -u) == 0 ]]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi

  if [[ ! -x $NEUREP_BIN ]]; then
    neurep_log "error: no executable neurep at '$NEUREP_BIN' (set NEUREP_BIN, or NEUREP_HOME to the checkout)"
    exit 2
  fi
  case $NEUREP_LAUNCHER in
    mpirun | srun) ;;
    *) neurep_log "error: NEUREP_LAUNCHER='$NEUREP_LAUNCHER', expected mpirun or srun"; exit 2 ;;
  esac
}

# Forward a signal the batch shell caught to the launcher (as SIGUSR1, the
# signal both launchers hand on to the ranks); remember it for the log.
_neurep_on_signal() {
  _neurep_signalled=$1
  neurep_log "caught SIG$1; forwarding SIGUSR1 to $NEUREP_LAUNCHER (pid ${_neurep_pid:-none yet})"
  [[ -n ${_neurep_pid:-} ]] && kill -USR1 "$_neurep_pid" 2>/dev/null
  return 0
}

neurep_job_run() {
  local config=$1 out=$2
  shift 2
  local ntasks=${SLURM_NTASKS:-1} threads=${SLURM_CPUS_PER_TASK:-1}
  local -a launch
  if [[ $NEUREP_LAUNCHER == srun ]]; then
    # shellcheck disable=SC2206
    launch=(srun --mpi="${NEUREP_SRUN_MPI:-pmix}" ${NEUREP_SRUN_ARGS:-})
  else
    launch=(mpirun -np "$ntasks")
    # Several threads per rank: give each rank its own cores, not one.
    ((threads > 1)) && launch+=(--map-by "slot:PE=$threads" --bind-to core)
    # shellcheck disable=SC2206
    launch+=(${NEUREP_MPIRUN_ARGS:-})
  fi
  local -a cmd=("$NEUREP_BIN" run "$config" -o "$out" --resume "$@")

  mkdir -p "$(dirname "$out")"
  neurep_log "start: job ${SLURM_JOB_ID:-?}${SLURM_ARRAY_TASK_ID:+ (array ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID})}" \
    "restart ${SLURM_RESTART_COUNT:-0} on $(hostname -s), $ntasks tasks x $threads threads"
  neurep_log "command: ${launch[*]} ${cmd[*]}"

  _neurep_pid="" _neurep_signalled=""
  trap '_neurep_on_signal USR1' USR1
  trap '_neurep_on_signal TERM' TERM
  "${launch[@]}" "${cmd[@]}" &
  _neurep_pid=$!
  [[ -n $_neurep_signalled ]] && kill -USR1 "$_neurep_pid" 2>/dev/null
  # A caught signal interrupts `wait` (status > 128) while the launcher is
  # still running: wait again until it has really exited. The last `wait`
  # returns the launcher's own status (bash keeps it after reaping).
  local rc
  while wait "$_neurep_pid"; rc=$?; kill -0 "$_neurep_pid" 2>/dev/null; do :; done
  wait "$_neurep_pid"
  rc=$?
  neurep_log "neurep exited with status $rc${_neurep_signalled:+ (after SIG$_neurep_signalled)}"

  case $rc in
    0)
      neurep_log "done: $out complete"
      exit 0 ;;
    75)
      local restarts=${SLURM_RESTART_COUNT:-0} max=${NEUREP_MAX_REQUEUES:-20}
      if [[ ${NEUREP_REQUEUE:-1} != 1 ]]; then
        neurep_log "interrupted, checkpoint saved; NEUREP_REQUEUE=0, not requeueing (resubmit to continue)"
        exit 75
      fi
      if ((restarts >= max)); then
        neurep_log "interrupted, checkpoint saved; already restarted $restarts times (NEUREP_MAX_REQUEUES=$max): not requeueing"
        exit 75
      fi
      # Slurm answers a requeue by signalling this shell: ignore that.
      trap '' USR1 TERM
      if scontrol requeue "$SLURM_JOB_ID"; then
        neurep_log "interrupted, checkpoint saved; requeued job $SLURM_JOB_ID (restart $((restarts + 1))), it will rerun with --resume"
        exit 0
      fi
      neurep_log "interrupted, checkpoint saved; scontrol requeue refused (job cancelled?) - resubmit the same job to continue"
      exit 75 ;;
    2)
      neurep_log "bad input (status 2): fix the configuration or arguments; not requeueing"
      exit 2 ;;
    *)
      neurep_log "failed with status $rc; not requeueing"
      exit "$rc" ;;
  esac
}
