#!/usr/bin/env bash
# The paper-p4 campaign on a workstation: every configuration in configs/ and
# floor/, one mpirun after another, then the figures and tables.
#
#   jobs/campaigns/paper-p4/run_local.sh [-n NP] [RESULTS_DIR] [-- neurep run options...]
#
# Rerunning continues where it stopped (every run gets --resume). Results go
# to RESULTS_DIR (default results/paper-p4 under the current folder); the
# figures and tables to RESULTS_DIR/figures. A smoke run of the whole pipeline
# in a few minutes:
#   run_local.sh /tmp/p4-smoke -- --set sweep.dims=[8] --set sweep.seeds=1 \
#       --set sweep.n_train=[64,256] --set learner.steps=200
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../../.." && pwd)
np=2
if [[ ${1:-} == -n ]]; then np=$2; shift 2; fi
results=results/paper-p4
if [[ $# -gt 0 && $1 != -- ]]; then results=$1; shift; fi
start=$(date +%s)
status=0
for part in configs floor; do
  "$top/jobs/local/campaign.sh" -n "$np" "$here/$part" "$results/$part" "$@" || status=$?
  [[ $status == 75 ]] && exit 75
done
"$here/make_figures.sh" "$results"
echo "campaign: $(( ($(date +%s) - start) / 60 )) minutes on $np ranks, exit status $status"
exit "$status"
