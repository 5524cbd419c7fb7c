#!/usr/bin/python3
"""How close neurep plan's time is to a measured run: for each configuration,
`neurep plan --json` (its rates measured on this machine in the same run, just
before), then the run itself on the same ranks, and the ratio measured /
planned of the whole sweep (one array task per d; here every d in one run)
and of each n (plan's "seconds_per_n" against the points' durations in the
run's run.log). The issue's target: within a factor 1.5. Timing, so it is a
benchmark, not a test.

  /usr/bin/python3 bench/plan_accuracy.py [--build DIR] [--baseline DIR] [--ranks P] [--out FILE] [CONFIG.toml ...]

Without configurations it times the built-in ones: the quickstart (NTK kernel
regression, Cholesky, n = 256 ... 8192, one seed), a Taylor model at
jobs/configs/quad_rep.toml's sizes (patience 0: plan's figure is for all
steps, early stopping only shortens a run), a wide Taylor model on raw x
(m = 512, q = 12), and pcg at n = 2048, 4096. --baseline DIR: also the plan
of another build's neurep (e.g. the version before a change), with its own
ratio. Besides the tables it prints, per configuration, the seconds of each
kind of work plan counts in its largest point (plan --json's
point_seconds_by_kind), and it writes everything to --out (default
bench/results/plan-accuracy-<date>.json)."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = os.path.join(HERE, "..", "jobs", "configs")


def builtin():
    with open(os.path.join(CONFIGS, "quickstart.toml")) as f:
        quickstart = f.read().replace("seeds = 3", "seeds = 1")
    with open(os.path.join(CONFIGS, "quad_rep.toml")) as f:
        quad_rep = f.read().replace("seeds = 3", "seeds = 1").replace("patience = 10", "patience = 0")
    return {
        "quickstart.toml": quickstart,
        "quad_rep.toml": quad_rep,
        "taylor_wide.toml": """
[data]
dim = 12
degrees = [2]
n_test = 2000
[learner]
kind = "taylor"
order = 2
m = 512
learning_rate = [0.05]
steps = 1000
eval_every = 100
[sweep]
n_train = [2048, 4096]
seeds = 1
""",
        "kernel_pcg.toml": """
[data]
dim = 16
degrees = [2]
n_test = 2000
[learner]
kind = "kernel"
kernel = "ntk"
ridge = [1e-6, 1e-3]
solver = "pcg"
preconditioner_rank = 256
[sweep]
n_train = [2048, 4096]
seeds = 1
""",
    }


def plan_of(neurep, cfg, ranks):
    out = subprocess.run([neurep, "plan", cfg, "--json", "--ranks", str(ranks)], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.environ.get("NEUREP_BUILD", os.path.join(HERE, "..", "build")))
    p.add_argument("--baseline", help="another build directory whose plan is compared too")
    p.add_argument("--ranks", type=int, default=1)
    p.add_argument("--mpiexec", default="mpiexec")
    p.add_argument("--out", default="", help="JSON file of the results (default bench/results/plan-accuracy-<date>.json)")
    p.add_argument("configs", nargs="*")
    a = p.parse_args()
    neurep = os.path.join(a.build, "neurep")
    work = tempfile.mkdtemp(prefix="neurep-plan-accuracy-")
    configs = a.configs
    if not configs:
        for name, text in builtin().items():
            with open(os.path.join(work, name), "w") as f:
                f.write(text)
            configs.append(os.path.join(work, name))
    launch = [a.mpiexec, "-n", str(a.ranks), "--oversubscribe"] if a.ranks > 1 else []
    load = os.getloadavg()[0]
    print(f"load average at start {load:.2f}; {a.ranks} rank(s)")
    head = f"{'configuration':<18} {'GFLOP/s':>8} {'planned s':>10} {'measured s':>11} {'measured/planned':>17}"
    if a.baseline:
        head += f" {'baseline planned s':>19} {'measured/baseline':>18}"
    print(head)
    worst = 1.0
    per_n, records, kinds = [], [], []
    for cfg in configs:
        plan = plan_of(neurep, cfg, a.ranks)
        kinds.append((os.path.basename(cfg), plan["dims"][-1]["d"], plan["dims"][-1].get("point_seconds_by_kind", {})))
        planned = sum(d["seconds_per_task"] for d in plan["dims"])
        base = None
        if a.baseline:
            base = sum(d["seconds_per_task"] for d in plan_of(os.path.join(a.baseline, "neurep"), cfg, a.ranks)["dims"])
        out = os.path.join(work, os.path.basename(cfg) + ".h5")
        log = os.path.join(work, os.path.basename(cfg) + ".jsonl")
        t0 = time.perf_counter()
        subprocess.run(launch + [neurep, "run", cfg, "-q", "--overwrite", "-o", out, "--set", f'run.log="{log}"'],
                       check=True)
        measured = time.perf_counter() - t0
        ratio = measured / planned
        worst = max(worst, ratio, 1 / ratio)
        line = (f"{os.path.basename(cfg):<18} {plan['gflops_per_rank']:>8.1f} {planned:>10.2f} {measured:>11.2f} "
                f"{ratio:>17.2f}")
        if base is not None:
            line += f" {base:>19.2f} {measured / base:>18.2f}"
        print(line, flush=True)
        records.append({"config": os.path.basename(cfg), "plan": plan, "planned_seconds": planned,
                        "measured_seconds": measured, "ratio": ratio, "baseline_planned_seconds": base})
        # Per (d, n): the points' durations (point_started to point_done, summed
        # over candidates, averaged over seeds) against plan's.
        started, took, seeds = {}, {}, {}
        with open(log) as f:
            for e in map(json.loads, f):
                if e["event"] == "point_started":
                    started[e["point"]] = e["elapsed"]
                elif e["event"] == "point_done":
                    row = e["rows"][0]
                    key = (row["d"], row["n"])
                    took[key] = took.get(key, 0.0) + e["elapsed"] - started[e["point"]]
                    seeds.setdefault(key, set()).add(row["seed"])
        for dim in plan["dims"]:
            ns = sorted(n for d, n in took if d == dim["d"])
            for n, s_plan in zip(ns, dim["seconds_per_n"]):
                per_n.append((os.path.basename(cfg), dim["d"], n, s_plan, took[dim["d"], n] / len(seeds[dim["d"], n])))
    print(f"worst factor {worst:.2f} ({'within' if worst <= 1.5 else 'outside'} the target 1.5)")
    print("\nper n (one seed's points; measured: point_started to point_done in run.log):")
    print(f"{'configuration':<18} {'d':>4} {'n':>6} {'planned s':>10} {'measured s':>11} {'measured/planned':>17}")
    for name, d, n, s_plan, s_meas in per_n:
        print(f"{name:<18} {d:>4} {n:>6} {s_plan:>10.3f} {s_meas:>11.3f} {s_meas / s_plan:>17.2f}")
    print("\nplan's seconds of the largest point by kind of work (cost.hpp):")
    for name, d, by_kind in kinds:
        print(f"{name:<18} d = {d}: " + ", ".join(f"{k} {v:.3g}" for k, v in by_kind.items() if v > 0))
    out = a.out or os.path.join(HERE, "results", time.strftime("plan-accuracy-%Y-%m-%dT%H%M%SZ.json", time.gmtime()))
    with open(out, "w") as f:
        json.dump({"command": " ".join(sys.argv), "load_average_at_start": load, "ranks": a.ranks, "worst_factor": worst,
                   "configs": records,
                   "per_n": [{"config": c, "d": d, "n": n, "planned_seconds": sp, "measured_seconds": sm}
                             for c, d, n, sp, sm in per_n]}, f, indent=1)
    print(f"\nwritten {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
