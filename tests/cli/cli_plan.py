"""neurep plan and neurep check's printout.

plan: its memory per rank is the model run checks (a sweep just over this
node's memory is refused by run naming the dominant key, with plan's figure,
at 1 and 2 ranks; just under, plan's figure is under the limit); its point
and candidate counts are the rows a real small run writes; --json parses and
has the fields; bad input exits 2 with one line and prints nothing.
check: numbers as written (0.1), only the keys of the chosen kinds, and its
printout is a configuration that checks to the same printout.
No assertion depends on timing (plan's time against a run: bench/plan_accuracy.py)."""
import json
import os

from common import Runner, parse_args, read_results, run_checks

KERNEL = """
[data]
dim = 6
degrees = [2]
n_test = 200
[learner]
kind = "kernel"
ridge = [0.1]
[sweep]
n_train = [{n}]
seeds = 1
"""

TAYLOR = """
[data]
dim = 5
degrees = [2]
n_test = 100
[learner]
kind = "taylor"
m = 8
init_scale = 0.1
learning_rate = [0.05, 0.1]
steps = 60
eval_every = 20
validation_fraction = 0.25
[sweep]
n_train = [30, 60]
seeds = 2
dims = [4, 5]
"""

TAYLOR_ONLY = ["order", "learning_rate", "steps", "regularizer", "momentum", "init_scale"]
KERNEL_ONLY = ["kernel", "ridge", "ridge_selection", "solver"]


def main():
    args = parse_args()
    r = Runner(args)

    def plan(cfg, *extra):
        code, out, err = r.run("plan", cfg, "--json", "--rate", "10", *extra)
        return code, (json.loads(out) if code == 0 else None), err

    # --json: fields and the counts a real run writes.
    taylor = r.write("taylor.toml", TAYLOR)
    code, p, err = plan(taylor)
    r.check(code == 0, f"plan --json exits 0 ({code}: {err.strip()})")
    for key in ("ranks", "gflops_per_rank", "candidates", "points", "points_per_d", "memory_per_rank_bytes",
                "memory_key", "dims", "slurm"):
        r.check(key in p, f"plan --json has '{key}'")
    r.check(set(p["slurm"]) >= {"time", "mem_per_cpu", "array", "ntasks"}, f"slurm options {p['slurm']}")
    r.check(p["slurm"]["array"] == "0-1", f"one array task per d: {p['slurm']['array']}")
    r.check([d["d"] for d in p["dims"]] == [4, 5] and all(d["m"] == [8] and d["dim_u"] == d["d"] for d in p["dims"]),
            f"sizes per d {p['dims']}")
    r.check(all(d["seconds_per_task"] > 0 and d["seconds_per_point"] > 0 for d in p["dims"]), "positive times")
    code, _, err = r.run("run", taylor, "-q", "-o", r.path("taylor.h5"))
    r.check(code == 0, f"the small Taylor run exits 0 ({err.strip()})")
    rows = read_results(r.path("taylor.h5"))
    r.check(p["candidates"] == 2 and p["points"] == len(rows["d"]) == 2 * 2 * 2 * 2,
            f"plan's points {p['points']} (candidates {p['candidates']}) = the run's rows {len(rows['d'])}")
    for d in p["dims"]:
        r.check(d["points"] == int((rows["d"] == d["d"]).sum()), f"d = {d['d']}: {d['points']} points = rows")

    # Memory: find the n at which plan's figure crosses the limit run checks (0.9 of this node's memory per rank).
    node = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    for ranks in (1, 2):
        limit = 0.9 * node / ranks
        lo, hi = 1000, 1000000
        mem = {}
        while hi - lo > 8:
            mid = (lo + hi) // 2
            _, q, _ = plan(r.write("big.toml", KERNEL.format(n=mid)), "--ranks", str(ranks))
            mem[mid] = q["memory_per_rank_bytes"]
            lo, hi = (mid, hi) if mem[mid] <= limit else (lo, mid)
        r.check(mem.get(lo, 0) <= limit < mem[hi], f"{ranks} rank(s): n = {lo} plans {mem.get(lo, 0):.4g} B, "
                f"n = {hi} plans {mem[hi]:.4g} B, limit {limit:.4g} B")
        _, q, _ = plan(r.write("big.toml", KERNEL.format(n=hi)), "--ranks", str(ranks))
        r.check(q["memory_key"] == "sweep.n_train", f"plan names the dominant key {q['memory_key']}")
        code, out, err = r.run("run", r.path("big.toml"), "-q", "-o", r.path("big.h5"), np_=ranks)
        lines = [line for line in err.splitlines() if line.startswith("neurep")]  # not mpiexec's notice
        figure = f"needs about {q['memory_per_rank_bytes'] / 2**30:.1f} GiB"
        r.check(code == 2 and len(lines) == 1 and lines[0].startswith("neurep: error: sweep.n_train:")
                and figure in lines[0], f"{ranks} rank(s): run refuses n = {hi}, naming the key and plan's "
                f"figure '{figure}': {code} {lines}")
        r.check(not os.path.exists(r.path("big.h5")), "nothing written")

    # Bad input: exit 2, one line, nothing on stdout.
    small = r.write("small.toml", KERNEL.format(n=50))
    for bad, key in ((["--ranks", "0"], "--ranks"), (["--rate", "-1"], "--rate"),
                     (["--set", "learner.ridge=-1"], "learner.ridge"), (["--set", "data.nope=1"], "data.nope"),
                     (["--rates", "1,2,3"], "--rates"), (["--rates", "1,2,3,4,5,6,7,8,x"], "--rates"),
                     (["--rates", "1,2,3,4,5,6,7,8,0"], "--rates"), (["--rates", "1,2,3,4,5,6,7,8"], "--rates")):
        code, out, err = r.run("plan", small, *bad)
        lines = err.strip().splitlines()
        r.check(code == 2 and len(lines) == 1 and key in lines[0] and not out, f"plan {bad}: {code} {lines}")
    # --rates: all nine rates as given, in --json's order; twice the rates, half the time.
    code, p1, err = plan(small)
    keys = ("flops_per_second", "elements_per_second", "entries_per_second", "seconds_per_call",
            "seconds_per_handover", "seconds_per_commit", "products_per_second", "cached_elements_per_second",
            "seconds_per_start")
    r.check(tuple(p1["rates"]) == keys, f"plan --json's rates in --rates' order: {list(p1['rates'])}")
    rates = ",".join(str(p1["rates"][k]) for k in keys)
    doubled = ",".join(str(p1["rates"][k] / 2 if k.startswith("seconds") else 2 * p1["rates"][k]) for k in keys)
    c1, q1, _ = r.run("plan", small, "--json", "--rates", rates)
    c2, q2, _ = r.run("plan", small, "--json", "--rates", doubled)
    if c1 == 0 and c2 == 0:
        t1, t2 = json.loads(q1)["dims"][0]["seconds_per_task"], json.loads(q2)["dims"][0]["seconds_per_task"]
        r.check(t1 == p1["dims"][0]["seconds_per_task"] and abs(t2 - t1 / 2) <= 1e-9 * t1,
                f"--rates: the --rate plan's rates give its time ({t1}), doubled rates half of it ({t2})")
    else:
        r.check(False, f"plan --rates exits 0 ({c1}, {c2})")
    code, out, err = r.run("plan", r.path("missing.toml"))
    r.check(code == 2 and len(err.strip().splitlines()) == 1 and not out, f"plan of a missing file: {code} {err}")
    # Without --rate, the measured rate is printed.
    code, out, err = r.run("plan", small)
    r.check(code == 0 and "measured" in out and "--array=0-0" in out, f"plan's table: {code} {out} {err}")

    # check: numbers as written, only the keys of the chosen kinds, its printout checks to itself.
    for cfg, number, absent in ((small, "ridge = [ 0.1 ]", TAYLOR_ONLY), (taylor, "init_scale = 0.1", KERNEL_ONLY)):
        code, out, err = r.run("check", cfg)
        keys = [line.split(" = ")[0] for line in out.splitlines() if " = " in line]
        r.check(code == 0 and number in out.splitlines(), f"check {os.path.basename(cfg)} prints '{number}'")
        r.check("0000000" not in out, "no long round-off digits")
        r.check(not set(keys) & set(absent), f"no key of the other learner kind: {sorted(set(keys) & set(absent))}")
        again = r.write("again.toml", out)
        code2, out2, _ = r.run("check", again)
        r.check(code2 == 0 and out2.splitlines()[1:] == out.splitlines()[1:], "check's printout checks to itself")
    r.finish()


if __name__ == "__main__":
    run_checks(main)
