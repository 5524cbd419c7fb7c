#!/usr/bin/env bash
# Every figure and table of campaign paper-2 from its result files
# (RESULTS_DIR/part*/ and, when present, RESULTS_DIR/cluster/), with neurep_analysis:
# per part, error versus n (with the top-degree harmonic share), n_eps(d) and its
# exponent (bootstrap over seeds) at eps = 0.1 and 0.05 from the searches'
# /complexity tables, a CSV summary; part 1 and the NTK on x also beside the
# theory curve, part 1 (with the cluster's ntk_x and quad_h_quadratic) at eps(d) = 0.5 x
# the degree-4 share, the searched target of each d (n_eps(d), exponent,
# bootstrap, per-seed fits in p1_share.txt, p1_complexity.csv, p1_exponents.csv, p1_share_complexity.png),
# part 2 the convergence check (training error of the selected rows <= eps/10,
# figures/p2_convergence.csv), and the claim table of README.md from the files
# (claims.toml maps each claim to its configurations; figures/claims.md, claims.csv,
# claims_floors.csv: exponents with bootstrap intervals at each threshold, the searches
# that did not reach, rows that did not converge, a suggested verdict by the rule it
# states, the least-squares floors). Rows: those each run selected on its validation split.
#   jobs/campaigns/paper-2/make_figures.sh RESULTS_DIR
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../../.." && pwd)
results=${1:?usage: make_figures.sh RESULTS_DIR}
export PYTHONPATH="$top/analysis${PYTHONPATH:+:$PYTHONPATH}"
py() { /usr/bin/python3 -m neurep_analysis "$@"; }
cd "$results"
mkdir -p figures
shopt -s nullglob
# searched EPS FILE...: the files holding a finished search (/complexity), with EPS (not -)
# those whose searches had that target (exponents.is_target: the analysis' own tolerance)
searched() {
  /usr/bin/python3 - "$@" <<'PY'
import sys, h5py
from neurep_analysis.exponents import is_target
eps, files = sys.argv[1], sys.argv[2:]
for f in files:
    with h5py.File(f, "r") as h:
        if "complexity" in h and (eps == "-" or any(is_target(t, float(eps)) for t in h["complexity"]["target"][:])):
            print(f)
PY
}
# the figures and tables of one set of files: figures/NAME_*
figures_of() {
  local name=$1; shift
  local files=("$@") mixed=() search=() ntk_x=() f eps
  [[ $name == part5* || $name == cluster* ]] && mixed=(--allow-mixed)  # several targets: one line each
  mapfile -t search < <(searched - "${files[@]}")
  py errors "${files[@]}" "${mixed[@]}" --eps 0.1 --harmonic-levels -o "figures/$name"
  py summary "${files[@]}" "${mixed[@]}" -o "figures/${name}_summary.csv"
  for f in "${files[@]}"; do [[ $(basename "$f") == *ntk_x* ]] && ntk_x+=("$f"); done
  if ((${#ntk_x[@]})); then py errors "${ntk_x[@]}" "${mixed[@]}" --eps 0.1 --theory -o "figures/${name}_theory"; fi
  if ((${#search[@]})); then
    for eps in 0.1 0.05; do
      # the files whose searches had this target (part 1a's d = 20 searched 0.1 and the share only)
      local with=()
      mapfile -t with < <(searched "$eps" "${search[@]}")
      ((${#with[@]})) || continue
      py complexity "${with[@]}" "${mixed[@]}" --eps "$eps" -o "figures/${name}_eps$eps" | tee "figures/${name}_eps$eps.txt"
    done
  fi
}
for dir in part1a part1b part2 part3 part4a part4b part5a part5b cluster; do
  # the NTK without input bias (p3_ntk_x_nobias) has the same learner, input and target
  # labels as p3_ntk_x_bias: pooled, the two would be one line (and one exponent), so
  # its figures and tables are its own (figures/<part>_nobias_*)
  files=() apart=()
  for f in "$dir"/*.h5; do [[ $(basename "$f") == *_nobias* ]] && apart+=("$f") || files+=("$f"); done
  ((${#files[@]})) && figures_of "$dir" "${files[@]}"
  ((${#apart[@]})) && figures_of "${dir}_nobias" "${apart[@]}"
done
# part 1 at eps(d) = 0.5 x the degree-4 share: each d's file searched that target
# (run_local.sh, run_slurm.sh); the analysis recomputes it per d and fits across d
p1=(part1?/*.h5 cluster/ntk_x*.h5 cluster/quad_h_quadratic*.h5)
if ((${#p1[@]})); then
  py complexity "${p1[@]}" --eps 0.1 --eps-share 0.5 -o figures/p1 | tee figures/p1_share.txt
fi
# part 2: the training error of every selected row against eps/10
/usr/bin/python3 - <<'PY'
import glob, h5py, numpy as np
lines = []
for f in sorted(glob.glob("part2/*.h5")) + sorted(glob.glob("cluster/quad_x*.h5")):
    r = h5py.File(f, "r")["results"]
    sel = r["selected"][:] == 1 if "selected" in r else np.ones(len(r["n"]), bool)
    for d, n, s, tr, te in zip(r["d"][sel], r["n"][sel], r["seed"][sel], r["train_error"][sel], r["test_error"][sel]):
        ok = [str(tr <= e / 10) for e in (0.1, 0.05)]
        lines.append("%s,%d,%d,%d,%.4g,%.4g,%s" % (f, d, n, s, tr, te, ",".join(ok)))
if lines:
    open("figures/p2_convergence.csv", "w").write(
        "file,d,n,seed,train_error,test_error,train<=0.01,train<=0.005\n" + "\n".join(lines) + "\n")
    print("figures/p2_convergence.csv: %d selected rows, %d with train error <= 0.01"
          % (len(lines), sum(l.split(",")[-2] == "True" for l in lines)))
PY
# the NTK on h against the NTK on x seed by seed: a seed's training and test sets are the
# same in both (they depend on run.seed, seed and d only), so the ratio of the two n_eps
# cancels most of the test set's sampling error (4000 points estimate the degree-4
# energy of (b.x)^4 to about 15 %), which a median over 3 seeds does not
/usr/bin/python3 - <<'PY'
import glob
from neurep_analysis.exponents import search_values
from neurep_analysis.resultfile import load
def searches(pattern, eps):
    """{(d, seed): (n_eps, status)} of the files' searches at eps (the analysis' own reading)."""
    out = {}
    for path in sorted(glob.glob(pattern)):
        cx = load(path).complexity
        if cx is not None:
            values, status = search_values(cx, eps)
            out.update({(d, s): (n, status[d][s]) for d in values for s, n in values[d].items()})
    return out
lines = []
for name in ("ntk_h_relu", "ntk_h_step", "ntk_hinf_relu", "ntk_hinf_step"):
    for eps in (0.1, 0.05):
        x, h = searches("part1a/ntk_x_d*.h5", eps), searches("part4?/%s*.h5" % name, eps)
        for (d, s), (n, st) in sorted(h.items()):
            nx, stx = x.get((d, s), (None, None))
            both = st == "reached" and stx == "reached"
            lines.append("%s,%g,%d,%d,%s,%s,%s" % (
                name, eps, d, s, "%.1f" % n if st == "reached" else "not reached",
                "%.1f" % nx if stx == "reached" else "", "%.3f" % (n / nx) if both else ""))
if lines:
    open("figures/ntk_h_vs_x_by_seed.csv", "w").write(
        "config,eps,d,seed,n_eps_h,n_eps_x,ratio\n" + "\n".join(lines) + "\n")
    print("figures/ntk_h_vs_x_by_seed.csv: %d (config, eps, d, seed) searches" % len(lines))
PY
# the claim table: every claim of README.md, its configurations' files measured
claim_files=(part*/*.h5 cluster/*.h5)
if ((${#claim_files[@]})); then
  py claims --spec "$here/claims.toml" --source "$results" "${claim_files[@]}" -o figures/claims
fi
echo "figures and tables in $results/figures"
