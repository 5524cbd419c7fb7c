#!/usr/bin/env bash
# Figures and tables of the paper-p4 campaign from its result files, with the
# analysis package neurep_analysis: error versus n per d (with the degree-4
# harmonic share of Var f*), the NTK on x beside its theory learning curve,
# the sample-complexity table and fitted exponents (bootstrap over seeds) at
# eps = 0.1 (and 0.5 x the degree-4 share) and 0.05, training curves of the Quad model, and CSV summaries
# of the campaign and of the representation floors. Every number uses the
# rows each run selected on its validation split (the analysis' default);
# nothing is chosen on the test set.
#   jobs/campaigns/paper-p4/make_figures.sh RESULTS_DIR
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../../.." && pwd)
results=${1:?usage: make_figures.sh RESULTS_DIR}
py() { PYTHONPATH="$top/analysis${PYTHONPATH:+:$PYTHONPATH}" /usr/bin/python3 -m neurep_analysis "$@"; }
cd "$results"      # file names in the tables relative to the results directory
mkdir -p figures
shopt -s nullglob
main=(configs/*.h5)
floor=(floor/*.h5)
py errors "${main[@]}" --eps 0.1 --harmonic-levels -o figures/p4
# the NTK on x beside its theory learning curve (THEORY.md)
ntk_x=(configs/ntk_x*.h5)
if ((${#ntk_x[@]})); then
  py errors "${ntk_x[@]}" --eps 0.1 --theory -o figures/p4_theory
fi
# exponents with bootstrap intervals over seeds; at eps = 0.1 also the
# thresholds relative to theory, eps(d) = 0.5 x the degree-4 share of Var f*
for eps in 0.1 0.05; do
  share=()
  [[ $eps == 0.1 ]] && share=(--eps-share 0.5)
  py complexity "${main[@]}" --eps "$eps" "${share[@]}" -o "figures/p4_eps$eps" | tee "figures/p4_eps$eps.txt"
done
if [[ -f configs/quad_h_quadratic.h5 ]]; then
  py curves configs/quad_h_quadratic.h5 --d 8 --d 16 --d 24 -o figures/p4
fi
py summary "${main[@]}" -o figures/p4_summary.csv
if ((${#floor[@]})); then
  py summary "${floor[@]}" -o figures/floor_summary.csv
fi
echo "figures and tables in $results/figures"
