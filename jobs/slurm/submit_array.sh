#!/usr/bin/env bash
# Submit a campaign manifest (jobs/slurm/make_manifest.sh) as job arrays whose
# tasks are sized by `neurep plan`: each manifest line's --time and
# --mem-per-cpu come from `neurep plan CONFIG --set sweep.dims=[D] --ranks P
# --json` ("slurm"), and the lines with the same resources are submitted as
# one array (`--array=i,j,...`, the manifest's 0-based line numbers) of
# jobs/slurm/array.sbatch, so a small (configuration, d) no longer waits for
# the largest one's limit.
#
#   jobs/slurm/make_manifest.sh CONFIG_DIR 8 12 16 > campaign.txt
#   jobs/slurm/submit_array.sh [--ranks P] [--rate GFLOPS] [--dry-run] \
#       campaign.txt RESULTS_DIR [neurep run options...] [-- sbatch options...]
#
# Prints one line per group, "TIME MEM_PER_CPU TASKS sbatch ...", and submits
# it unless --dry-run (then it only prints). The run options (e.g.
# `--set learner.steps=500`) are given to plan as well, so it sizes what runs;
# sbatch options after `--` (e.g. `--partition=...`) go to every sbatch.
#
# Safety factor: plan's "slurm" time is twice its estimate of the task plus
# 10 minutes, its memory the model per rank + 25% + 512 MiB (README,
# "neurep plan"); NEUREP_TIME_FACTOR (default 1) multiplies that time again,
# e.g. 1.5 on a machine slower than the one plan measures. A task that still
# outlives its --time checkpoints and requeues itself (README.md).
#
# The rates are measured once, by the first plan (a few seconds, on this
# machine: run it where the tasks will run, or give the compute nodes' DGEMM
# rate with --rate), and passed to the others with --rates.
set -euo pipefail
usage() {
  echo "usage: $0 [--ranks P] [--rate GFLOPS] [--dry-run] MANIFEST RESULTS_DIR [neurep run options...] [-- sbatch options...]" >&2
  exit 2
}
ranks=4 rate="" dry=0
while (($#)); do
  case $1 in
    --ranks) (($# >= 2)) || usage; ranks=$2; shift 2 ;;
    --rate) (($# >= 2)) || usage; rate=$2; shift 2 ;;
    --dry-run) dry=1; shift ;;
    -h | --help) usage ;;
    *) break ;;
  esac
done
(($# >= 2)) || usage
manifest=$1 results=$2
shift 2
[[ $ranks =~ ^[1-9][0-9]*$ ]] || { echo "$0: --ranks '$ranks' is not a positive whole number" >&2; exit 2; }
[[ -r $manifest ]] || { echo "$0: cannot read manifest '$manifest'" >&2; exit 2; }
run_opts=() sbatch_opts=() plan_sets=()
while (($#)); do
  if [[ $1 == -- ]]; then
    shift
    sbatch_opts=("$@")
    break
  fi
  run_opts+=("$1")
  if [[ $1 == --set ]] && (($# >= 2)); then
    plan_sets+=(--set "$2")
    run_opts+=("$2")
    shift
  elif [[ $1 == --set=* ]]; then
    plan_sets+=(--set "${1#--set=}")
  fi
  shift
done
factor=${NEUREP_TIME_FACTOR:-1}
[[ $factor =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "$0: NEUREP_TIME_FACTOR '$factor' is not a positive number" >&2; exit 2; }

home=${NEUREP_HOME:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
bin=${NEUREP_BIN:-$home/build/neurep}
[[ -x $bin ]] || bin=$(command -v neurep || true)
[[ -n $bin && -x $bin ]] || { echo "$0: no neurep (set NEUREP_BIN or NEUREP_HOME)" >&2; exit 2; }

# A JSON field of plan's one-line output: a string or a number.
field() { sed -n "s/.*\"$2\": \"\{0,1\}\([^\",}]*\)\"\{0,1\}.*/\1/p" <<<"$1"; }
# Slurm's [D-]HH:MM:SS times factor, in whole minutes.
scale_time() {
  local t=$1 days=0 h m s
  [[ $t == *-* ]] && days=${t%%-*} t=${t#*-}
  IFS=: read -r h m s <<<"$t"
  awk -v d="$days" -v h="$h" -v m="$m" -v s="$s" -v f="$factor" 'BEGIN {
    t = int(((d * 24 + h) * 60 + m + s / 60) * f + 0.999999); if (t < 1) t = 1;
    dd = int(t / 1440); t -= dd * 1440;
    if (dd > 0) printf "%d-%02d:%02d:00\n", dd, int(t / 60), t % 60; else printf "%02d:%02d:00\n", int(t / 60), t % 60 }'
}

rates_opt=()
[[ -n $rate ]] && rates_opt=(--rate "$rate")
declare -A group_tasks=()
order=()
i=0
while IFS= read -r line || [[ -n $line ]]; do
  [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
  line=${line%"${line##*[![:space:]]}"}
  dim=${line##*[[:space:]]}
  config=${line%[[:space:]]*}
  config=${config%"${config##*[![:space:]]}"}
  dims=()
  if [[ $dim =~ ^[0-9]+$ ]]; then
    dims=(--set "sweep.dims=[$dim]")
  elif [[ $dim != - ]]; then
    echo "$0: manifest '$manifest' line $i: dimension '$dim' is not a whole number or '-'" >&2
    exit 2
  fi
  json=$("$bin" plan "$config" "${plan_sets[@]}" "${dims[@]}" --ranks "$ranks" --json "${rates_opt[@]}") || {
    echo "$0: neurep plan failed for manifest line $i ($config, d = $dim)" >&2
    exit 2
  }
  if [[ -z $rate && ${#rates_opt[@]} -eq 0 ]]; then  # measured once: the same rates for every line
    r=$(sed -n 's/.*"rates": {\([^}]*\)}.*/\1/p' <<<"$json" | sed 's/"[a-z_]*": //g; s/ //g')
    rates_opt=(--rates "$r")
  fi
  time=$(scale_time "$(field "$json" time)")
  mem=$(field "$json" mem_per_cpu)
  key="$time $mem"
  [[ -v "group_tasks[$key]" ]] || order+=("$key")
  group_tasks[$key]+="${group_tasks[$key]:+,}$i"
  i=$((i + 1))
done <"$manifest"
((i > 0)) || { echo "$0: manifest '$manifest' has no data lines" >&2; exit 2; }

script=$home/jobs/slurm/array.sbatch
for key in "${order[@]}"; do
  read -r time mem <<<"$key"
  cmd=(sbatch --array="${group_tasks[$key]}" --ntasks="$ranks" --time="$time" --mem-per-cpu="$mem"
       "${sbatch_opts[@]}" "$script" "$manifest" "$results" "${run_opts[@]}")
  echo "$time $mem ${group_tasks[$key]} ${cmd[*]}"
  if ((dry == 0)); then
    "${cmd[@]}" || { echo "$0: sbatch failed for tasks ${group_tasks[$key]}" >&2; exit 1; }
  fi
done
