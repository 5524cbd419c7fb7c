#!/usr/bin/env bash
# Campaign paper-2 on a workstation, one part at a time (each part is sized by
# `neurep plan` to at most two hours on 2 cores; see README.md, "Budget").
#
#   jobs/campaigns/paper-2/run_local.sh [-n NP] [--part P]... [--dims D[,D...]] [--commit] \
#       [RESULTS_DIR] [-- neurep run options...]
#
# --part P   1a, 1b, 2, 3, 4a, 4b, 5a, 5b, or a prefix (4 = 4a and 4b); repeatable;
#            default: every part in the order of README.md.
# --dims     run only these d (one file per configuration and d,
#            RESULTS_DIR/partP/<config>_d<D>.h5); default: each configuration's own dims
#            (parts 1a, 1b always run one file per d: its search adds the target
#            0.5 x the degree-4 share of Var f* at that d with --set sweep.target_error).
# --commit   after each part that completed, `git add` its result folder and commit it.
# Every run gets --resume: rerunning continues where it stopped (a part stopped
# by SIGTERM exits 75; rerun the same command). The figures: make_figures.sh RESULTS_DIR.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../../.." && pwd)
np=2 parts=() dims=() commit=0
all=(1a 1b 2 3 4a 4b 5a 5b)
while (($# > 0)); do
  case $1 in
    -n) np=$2; shift 2 ;;
    --part) parts+=("$2"); shift 2 ;;
    --dims) IFS=, read -ra dims <<< "$2"; shift 2 ;;
    --commit) commit=1; shift ;;
    *) break ;;
  esac
done
results=results/paper-2
if [[ $# -gt 0 && $1 != -- ]]; then results=$1; shift; fi
[[ ${1:-} == -- ]] && shift
extra=("$@")
((${#parts[@]})) || parts=("${all[@]}")
selected=()
for p in "${parts[@]}"; do
  hit=0
  for q in "${all[@]}"; do [[ $q == "$p"* ]] && { selected+=("$q"); hit=1; }; done
  ((hit)) || { echo "run_local.sh: no part '$p' (parts: ${all[*]})" >&2; exit 2; }
done

# the d a configuration sweeps: --dims, or its [sweep] dims
dims_of() { if ((${#dims[@]})); then echo "${dims[@]}"; else
  sed -n 's/^dims *= *\[\([0-9, ]*\)\].*/\1/p' "$1" | tr ',' ' '; fi; }
# 0.5 x the share of Var f* in degree 4 at d (analysis/neurep_analysis/theory.py)
share_of() { PYTHONPATH="$top/analysis" /usr/bin/python3 -c \
  "from neurep_analysis.theory import harmonic_shares as h; print('%.6g' % (0.5 * h([4], [1.0], $1)[4]))"; }

start=$(date +%s)
status=0
for part in "${selected[@]}"; do
  cdir=$here/part$part out=$results/part$part
  pstatus=0
  if [[ $part == 1* ]]; then
    for c in "$cdir"/*.toml; do
      for d in $(dims_of "$c"); do
        s=$(share_of "$d")
        tmp=$(mktemp -d); cp "$c" "$tmp/"
        "$top/jobs/local/campaign.sh" -n "$np" "$tmp" "$out" "$d" -- "${extra[@]}" \
          --set "sweep.target_error=[0.1,$s,0.05]" || pstatus=$?
        rm -rf "$tmp"
        [[ $pstatus == 75 ]] && exit 75
      done
    done
  else
    "$top/jobs/local/campaign.sh" -n "$np" "$cdir" "$out" "${dims[@]}" -- "${extra[@]}" || pstatus=$?
    [[ $pstatus == 75 ]] && exit 75
  fi
  echo "part $part: exit status $pstatus, $(( ($(date +%s) - start) / 60 )) minutes so far"
  if [[ $pstatus == 0 && $commit == 1 ]]; then
    files=("$(cd "$out" && pwd)"/*.h5)   # not the .h5.prev copies
    git -C "$top" add -f -- "${files[@]}" && git -C "$top" commit -q -m "paper-2 part $part: result files" -- "${files[@]}" \
      || echo "run_local.sh: part $part: nothing committed" >&2
  fi
  ((pstatus)) && status=1
done
exit "$status"
