#!/usr/bin/env bash
# Print the manifest of a campaign for jobs/slurm/array.sbatch: one line
# "CONFIG D" per configuration file (*.toml in CONFIG_DIR, sorted, absolute
# paths) and dimension D, in that order. With no DIMS each configuration
# gets one line "CONFIG -" (run its own [sweep] dims).
#
#   jobs/slurm/make_manifest.sh CONFIG_DIR [DIMS...] > campaign.txt
#   jobs/slurm/submit_array.sh --ranks 4 campaign.txt results/    # each task sized by neurep plan
#   sbatch --array=0-$(($(grep -c . campaign.txt) - 1)) jobs/slurm/array.sbatch campaign.txt results/   # all alike
#
# The number of lines and the matching --array range are printed on stderr.
set -euo pipefail
if (($# < 1)) || [[ ! -d $1 ]]; then
  echo "usage: $0 CONFIG_DIR [DIMS...]   (CONFIG_DIR holds the *.toml configurations)" >&2
  exit 2
fi
dir=$(cd "$1" && pwd)
shift
for d in "$@"; do
  [[ $d =~ ^[0-9]+$ ]] || { echo "$0: dimension '$d' is not a whole number" >&2; exit 2; }
done
shopt -s nullglob
configs=("$dir"/*.toml)
((${#configs[@]} > 0)) || { echo "$0: no *.toml in $dir" >&2; exit 2; }
n=0
for c in "${configs[@]}"; do
  if (($# == 0)); then
    echo "$c -"; n=$((n + 1))
  else
    for d in "$@"; do echo "$c $d"; n=$((n + 1)); done
  fi
done
echo "$0: $n tasks: jobs/slurm/submit_array.sh MANIFEST RESULTS_DIR (sized by neurep plan), or sbatch --array=0-$((n - 1)) jobs/slurm/array.sbatch MANIFEST RESULTS_DIR" >&2
