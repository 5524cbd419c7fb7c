#!/usr/bin/env bash
# Figures and tables of the paper-p4 campaign from its result files, with the
# analysis tools: error versus n per d (with the degree-4 harmonic share of
# Var f*), the sample-complexity table and fitted exponents at eps = 0.1 and
# 0.05, the representation floors, and a CSV summary.
#   jobs/campaigns/paper-p4/make_figures.sh RESULTS_DIR
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../../.." && pwd)
results=${1:?usage: make_figures.sh RESULTS_DIR}
out="$results/figures"
mkdir -p "$out"
py() { PYTHONPATH="$top/analysis${PYTHONPATH:+:$PYTHONPATH}" /usr/bin/python3 -m neurep_analysis "$@"; }
shopt -s nullglob
main=("$results"/configs/*.h5)
floor=("$results"/floor/*.h5)
abs() { for f in "$@"; do readlink -f "$f"; done; }
mapfile -t main < <(abs "${main[@]}")
mapfile -t floor < <(abs "${floor[@]}")
o=$(readlink -f "$out")
py errors "${main[@]}" --ridge selected --eps 0.1 --harmonic-levels -o "$o/p4"
for eps in 0.1 0.05; do
  py complexity "${main[@]}" --ridge selected --eps "$eps" -o "$o/p4_eps$eps" | tee "$o/p4_eps$eps.txt"
done
py summary "${main[@]}" -o "$o/p4_summary" --format csv
if ((${#floor[@]})); then
  py summary "${floor[@]}" -o "$o/floor_summary" --format csv
fi
echo "figures and tables in $out"
