#!/usr/bin/env bash
# Campaign paper-2 on a Slurm cluster: one job-array task per (configuration, d)
# of a folder (default cluster/: what does not fit the workstation), each
# requeued and resumed through its time limit (jobs/slurm/array.sbatch).
# ntk_x and quad_h_quadratic (f* = (beta.x)^4) get, per d, a copy of the
# configuration whose sweep.target_error adds 0.5 x the degree-4 share at that d
# (written to RESULTS_DIR/configs/d<D>/), as run_local.sh does for part 1;
# the NTK on x at d = 28 runs 5 seeds there.
#
#   jobs/campaigns/paper-2/run_slurm.sh [--part P] [RESULTS_DIR] [sbatch options...]
#   e.g. run_slurm.sh results/paper-2 --ntasks=16 --time=24:00:00    (P default: cluster)
#
# The options per configuration (ranks, time, memory): neurep plan CONFIG --ranks P
# (README.md, "Budget"). Then: jobs/campaigns/paper-2/make_figures.sh RESULTS_DIR
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../../.." && pwd)
part=cluster
if [[ ${1:-} == --part ]]; then part=part$2; [[ $2 == cluster ]] && part=cluster; shift 2; fi
[[ -d $here/$part ]] || { echo "run_slurm.sh: no folder $here/$part" >&2; exit 2; }
results=${1:-results/paper-2}
shift || true
mkdir -p "$results/$part"
results=$(cd "$results" && pwd)
manifest=$results/$part/manifest.txt
: > "$manifest"
for c in "$here/$part"/*.toml; do
  stem=$(basename "$c" .toml)
  for d in $(sed -n 's/^dims *= *\[\([0-9, ]*\)\].*/\1/p' "$c" | tr ',' ' '); do
    if [[ $stem == ntk_x || $stem == quad_h_quadratic ]]; then
      s=$(PYTHONPATH="$top/analysis" /usr/bin/python3 -c \
        "from neurep_analysis.theory import harmonic_shares as h; print('%.6g' % (0.5 * h([4], [1.0], $d)[4]))")
      mkdir -p "$results/configs/d$d"
      seeds=(); [[ $stem == ntk_x ]] && ((d >= 28)) && seeds=(-e "s/^seeds = .*/seeds = 5/")  # d = 28: 5 seeds
      sed -e "s/^target_error = .*/target_error = [0.1, $s, 0.05]/" "${seeds[@]}" "$c" > "$results/configs/d$d/$stem.toml"
      echo "$results/configs/d$d/$stem.toml $d" >> "$manifest"
    else
      echo "$c $d" >> "$manifest"
    fi
  done
done
count=$(grep -c . "$manifest")
echo "submitting $count tasks ($manifest)"
NEUREP_HOME=$top sbatch --array=0-$((count - 1)) "$@" "$top/jobs/slurm/array.sbatch" "$manifest" "$results/$part"
