#!/usr/bin/python3
"""The budget of campaign paper-2 from `neurep plan`, per part and in total.

    jobs/campaigns/paper-2/plan_budget.py [--neurep build/neurep] [--ranks 2] [--rate GFLOPS] [PART...]

For every configuration of the parts (default: all) it runs `neurep plan --json`
twice per d: with the configuration's own sweep.n_max (the plan's upper bound
for a search: every point costed at n_max) and with n_max set to the power of
two above the n_0.05 that the first campaign measured or that theory
extrapolates (EXPECTED below; the search stops there, or earlier at a floor).
Prints one line per configuration and a total per part, in hours on --ranks ranks.
"""
import argparse, json, os, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
# the n the search is expected to reach (first campaign, docs/results/paper-p4/RESULTS.md:
# NTK on x n_0.05 = 887, 3357, 11400 at d = 8, 12, 16, ~ d^3.7 beyond; Quad on
# quadratic features n_0.05 = 241 ... 1997 at d = 8 ... 24, ~ d^2 beyond;
# step/relu/infinite-width and Quad on x: never reached ε in 4096-8192, so
# the configuration's n_max)
EXPECTED = {
    "ntk_x": {8: 1024, 12: 4096, 16: 16384, 20: 32768, 24: 65536, 28: 131072},
    "quad_h_quadratic": {8: 512, 12: 1024, 16: 2048, 20: 2048, 24: 4096, 32: 4096, 40: 8192, 48: 8192},
    "p3_ntk_x_bias": {8: 512, 12: 1024, 16: 4096, 20: 8192},
    "p3_ntk_x_nobias": {8: 512, 12: 1024, 16: 4096, 20: 8192},
    "p3_quad_h_quadratic": {8: 512, 12: 1024, 16: 2048, 20: 2048, 24: 4096},
    "sum2_ntk_x": {8: 2048, 12: 8192, 16: 32768},
    "sum2_quad_h_quadratic": {8: 1024, 12: 2048, 16: 4096, 20: 4096, 24: 8192},
    "noise_ntk_x": {8: 2048, 12: 8192, 16: 32768},
    "noise_quad_h_quadratic": {8: 1024, 12: 2048, 16: 4096, 20: 4096, 24: 8192},
}


def plan(neurep, cfg, ranks, rate, sets):
    cmd = [neurep, "plan", cfg, "--ranks", str(ranks), "--json"]
    if rate:
        cmd += ["--rate", str(rate)]
    for s in sets:
        cmd += ["--set", s]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit("%s: %s" % (" ".join(cmd), out.stderr.strip()))
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--neurep", default=os.path.join(HERE, "../../../build/neurep"))
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--rate", type=float, default=0, help="GFLOP/s per rank (default: measured)")
    ap.add_argument("parts", nargs="*")
    a = ap.parse_args()
    parts = a.parts or sorted(p for p in os.listdir(HERE) if os.path.isdir(os.path.join(HERE, p))
                              and (p.startswith("part") or p == "cluster"))
    print("%-10s %-28s %5s %9s %12s %12s" % ("part", "config", "d", "points", "upper (h)", "expected (h)"))
    grand = {}
    for part in parts:
        tot_up = tot_ex = 0.0
        for f in sorted(os.listdir(os.path.join(HERE, part))):
            if not f.endswith(".toml"):
                continue
            cfg = os.path.join(HERE, part, f)
            stem = f[:-5]
            up = plan(a.neurep, cfg, a.ranks, a.rate, [])
            for row in up["dims"]:
                d = row["d"]
                ex_n = EXPECTED.get(stem, {}).get(d)
                ex = row["seconds_per_task"]
                if ex_n and up.get("points_upper_bound"):
                    one = plan(a.neurep, cfg, a.ranks, a.rate,
                               ["sweep.dims=[%d]" % d, "sweep.n_max=%d" % ex_n])
                    ex = one["dims"][0]["seconds_per_task"]
                print("%-10s %-28s %5d %9d %12.2f %12.2f" % (part, stem, d, row["points"],
                                                             row["seconds_per_task"] / 3600, ex / 3600))
                tot_up += row["seconds_per_task"]
                tot_ex += ex
        print("%-10s %-28s %5s %9s %12.2f %12.2f" % (part, "TOTAL", "", "", tot_up / 3600, tot_ex / 3600))
        grand[part] = (tot_up, tot_ex)
    local = [p for p in grand if p != "cluster"]
    print("workstation parts: upper %.2f h, expected %.2f h on %d ranks"
          % (sum(grand[p][0] for p in local) / 3600, sum(grand[p][1] for p in local) / 3600, a.ranks))


if __name__ == "__main__":
    main()
