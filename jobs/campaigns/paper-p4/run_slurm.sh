#!/usr/bin/env bash
# The paper-p4 campaign on a Slurm cluster: one job-array task per
# configuration (configs/ and floor/, or cluster/ with --cluster), each
# requeued and resumed through its time limit (jobs/slurm/array.sbatch).
#
#   jobs/campaigns/paper-p4/run_slurm.sh [--cluster] [RESULTS_DIR] [sbatch options...]
#
# When every task has finished: jobs/campaigns/paper-p4/make_figures.sh RESULTS_DIR
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../../.." && pwd)
parts=(configs floor)
if [[ ${1:-} == --cluster ]]; then parts=(cluster); shift; fi
results=${1:-results/paper-p4}
shift || true
mkdir -p "$results"
manifest="$results/manifest.txt"
: > "$manifest"
for part in "${parts[@]}"; do
  mkdir -p "$results/$part"
  "$top/jobs/slurm/make_manifest.sh" "$here/$part" >> "$manifest"
done
count=$(grep -c . "$manifest")
echo "submitting $count tasks"
NEUREP_HOME=$top sbatch --array=0-$((count - 1)) "$@" "$top/jobs/slurm/array.sbatch" "$manifest" "$results"
