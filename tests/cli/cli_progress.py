"""Progress a long job can be watched by: a Taylor sweep with run.log writes a
JSON-lines log (rank 0 only) whose events come in order — run_started, per
point point_started, one evaluation per eval_every steps with a finite loss
(equal to the point's /curves), checkpoints, point_done with the point's rows
(equal, bit for bit, to /results but for `selected`, which later candidates
change), run_finished —; a run stopped by SIGUSR1 inside a point logs the
checkpoint and run_interrupted, and its --resume appends to the same log,
reporting each evaluation once over both runs. With -q nothing is printed; without
it the progress lines inside the points on standard error are one per
evaluation. A pcg kernel point logs an `iteration` event per CG iteration of
each fit (iteration 1, 2, ... up to the iterations its rows report, the
largest residual of the ridges still iterating, a projected last iteration
within max_iterations, the label naming the fit and the converged ridges)
and prints a line for each. An unusable run.log is refused (exit 2, one line
naming the key, nothing written).

No check depends on how fast the machine is: the stop is sent once the log
shows the first checkpoint."""
import json
import math
import os
import re
import signal
import subprocess

import h5py
import numpy as np

from common import Runner, parse_args, read_results, run_checks

CONFIG = """
[data]
dim = 6
degrees = [2]
n_test = 200
noise = 0.2
[learner]
kind = "taylor"
order = 2
m = 16
learning_rate = [0.05, 0.1]
steps = {steps}
eval_every = {eval_every}
validation_fraction = 0.25
[sweep]
n_train = {n_train}
seeds = 1
[run]
checkpoint_every = {checkpoint_every}
log = "{log}"
"""

PCG = """
[data]
dim = 6
degrees = [2]
n_test = 200
noise = 0.1
[learner]
kind = "kernel"
ridge = [1e-3, 1e-1]
solver = "pcg"
preconditioner_rank = 16
tolerance = 1e-8
ridge_selection = "validation"
validation_fraction = 0.25
[sweep]
n_train = [300]
seeds = 1
[run]
log = "pcg.jsonl"
"""
ITERATION_LINE = re.compile(r"^\s+(d\d+_n\d+_s\d+\S*) (pcg.*) iteration (\d+)/(\d+)\s+residual (\S+)\s+(\d+/\d+) ridges converged\s+ETA ")

EVAL_LINE = re.compile(r"^\s+(d\d+_n\d+_s\d+\S*) step (\d+)/(\d+)\s+loss ")


def read_log(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def curves(path):
    with h5py.File(path, "r") as f:
        return {name: (g["step"][()], g["train_loss"][()]) for name, g in f["curves"].items()}


def same(a, b):
    """Bit for bit; a JSON null stands for a NaN."""
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    a = float("nan") if a is None else float(a)
    b = float("nan") if b is None else float(b)
    return (math.isnan(a) and math.isnan(b)) or a == b


def check_rows(r, events, out, what):
    """The point_done rows equal the /results rows (every column but `selected`)."""
    res = read_results(out)
    logged = [row for e in events if e["event"] == "point_done" for row in e["rows"]]
    r.check(len(logged) == len(res["d"]), f"{what}: {len(logged)} logged rows for {len(res['d'])} in /results")
    bad = []
    for i, row in enumerate(logged[: len(res["d"])]):
        key = (row["d"], row["n"], row["seed"], row.get("candidate"))
        match = [j for j in range(len(res["d"]))
                 if (res["d"][j], res["n"][j], res["seed"][j], res["candidate"][j]) == key]
        if len(match) != 1:
            bad.append(f"row {key}: {len(match)} matches")
            continue
        for col in res:
            if col != "selected" and not same(row.get(col), res[col][match[0]]):
                bad.append(f"{key} {col}: {row.get(col)} vs {res[col][match[0]]}")
    r.check(not bad, f"{what}: point_done rows equal /results bit for bit {bad[:3]}")


def check_events(r, events, out, what, sessions=1):
    kinds = [e["event"] for e in events]
    r.check(kinds.count("run_started") == sessions and kinds[0] == "run_started",
            f"{what}: {sessions} run_started, the first line one ({kinds[:1]})")
    r.check(kinds[-1] == "run_finished" and kinds.count("run_finished") == 1,
            f"{what}: ends with the one run_finished ({kinds[-1:]})")
    # Inside a session: point_started, its evaluations and checkpoints, point_done.
    current, order_ok = None, True
    for e in events:
        k = e["event"]
        if k == "point_started":
            order_ok &= current is None
            current = e["point"]
        elif k in ("evaluation", "checkpoint"):
            order_ok &= e["point"] == current
        elif k == "point_done":
            order_ok &= e["point"] == current
            current = None
        elif k in ("run_started", "run_interrupted", "run_finished"):
            current = None
    r.check(order_ok, f"{what}: each point's events between its point_started and point_done")
    # One evaluation per eval_every steps, each once, equal to the point's curve.
    ok, detail = True, ""
    for name, (steps, loss) in curves(out).items():
        ev = [e for e in events if e["event"] == "evaluation" and e["point"] == name]
        got = [e["step"] for e in ev]
        if got != [int(s) for s in steps] or not all(e["train_loss"] is not None and math.isfinite(e["train_loss"])
                                                      for e in ev):
            ok, detail = False, f"{name}: steps {got} vs curve {list(steps)}"
        elif not all(e["train_loss"] == float(l) for e, l in zip(ev, loss)):
            ok, detail = False, f"{name}: losses differ from the curve"
    r.check(ok and len(curves(out)) > 0, f"{what}: one evaluation per curve point, finite loss equal to the curve {detail}")
    check_rows(r, events, out, what)


def main():
    r = Runner(parse_args())

    # -q at 2 ranks: nothing printed, the log written (by rank 0 only: each line whole).
    cfg = r.write("small.toml", CONFIG.format(steps=100, eval_every=20, n_train="[40, 80]", checkpoint_every=40,
                                              log="small.jsonl"))
    rc, out, err = r.run("run", cfg, "-o", "small.h5", "-q", np_=2)
    r.check(rc == 0 and out == "" and err == "", f"-q: exit 0, nothing on stdout/stderr (rc {rc}) {(out + err)[:200]!r}")
    events = read_log(r.path("small.jsonl"))
    evals = [e for e in events if e["event"] == "evaluation"]
    r.check(len(evals) == 4 * 6, f"-q: 6 evaluations (steps 0..100 every 20) for each of 4 points, got {len(evals)}")
    kinds = [e["event"] for e in events]
    r.check(kinds.count("point_started") == 4 and kinds.count("point_done") == 4 and kinds.count("checkpoint") == 4 * 2,
            f"-q: 4 points started and done, 2 checkpoints each (steps 40, 80): {kinds.count('checkpoint')}")
    check_events(r, events, r.path("small.h5"), "-q")

    # Without -q: the progress lines inside the points, one per evaluation, on rank 0 only.
    rc, out, err = r.run("run", cfg, "-o", "loud.h5", "--set", 'run.log="loud.jsonl"', np_=2)
    lines = [m for m in map(EVAL_LINE.match, err.splitlines()) if m]
    loud = [e for e in read_log(r.path("loud.jsonl")) if e["event"] == "evaluation"]
    r.check(rc == 0 and len(lines) == len(loud) == 24 and
            [(m.group(1), int(m.group(2))) for m in lines] == [(e["point"], e["step"]) for e in loud],
            f"progress: one line per evaluation on stderr ({len(lines)} lines, {len(loud)} evaluations, rc {rc})")
    points = [l for l in err.splitlines() if l.startswith("[")]
    r.check(len(points) == 4 and all("m=16 learning_rate=0." in l for l in points),
            f"progress: a line per point with the candidate's m and rate {points[:1]}")

    # Stopped inside a point once the log shows a checkpoint, then resumed: the log is appended.
    big = r.write("big.toml", CONFIG.format(steps=20000, eval_every=1000, n_train="[400]", checkpoint_every=2000,
                                            log="big.jsonl"))
    log = r.path("big.jsonl")
    p = subprocess.Popen([r.neurep, "run", big, "-o", "big.h5", "-q"], cwd=r.tmp,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen = False
    while p.poll() is None and not seen:
        try:
            with open(log) as f:
                seen = any('"event":"checkpoint"' in line for line in f if line.endswith("\n"))
        except FileNotFoundError:
            pass
        if not seen:
            try:
                p.wait(timeout=0.005)
            except subprocess.TimeoutExpired:
                pass
    if p.poll() is None:
        p.send_signal(signal.SIGUSR1)
    p.wait(timeout=600)
    first = read_log(log)
    r.check(p.returncode == 75 and first[-1]["event"] == "run_interrupted" and
            any(e["event"] == "checkpoint" and e["interrupted"] for e in first),
            f"stop: exit 75, the stop's checkpoint and run_interrupted logged (rc {p.returncode}, last {first[-1]['event']})")
    rc, _, err = r.run("run", big, "-o", "big.h5", "--resume", "-q")
    events = read_log(log)
    r.check(rc == 0 and events[: len(first)] == first and events[len(first)]["event"] == "run_started" and
            events[len(first)]["resumed"] is True,
            f"--resume: appended to the log after the first run's lines (rc {rc}) {err.strip()[:200]}")
    check_events(r, events, r.path("big.h5"), "stop and resume", sessions=2)

    # pcg: an iteration event (and a line) per CG iteration of each fit.
    pcg = r.write("pcg.toml", PCG)
    rc, out, err = r.run("run", pcg, "-o", "pcg.h5", np_=2)
    events = read_log(r.path("pcg.jsonl"))
    its = [e for e in events if e["event"] == "iteration"]
    done = [e for e in events if e["event"] == "point_done"]
    r.check(rc == 0 and len(done) == 1 and len(its) > 0, f"pcg: exit 0, one point, iteration events ({rc}, {len(its)})")
    if done and its:
        rows = done[0]["rows"]
        want = int(max(row["iterations"] for row in rows))
        fits = {}
        for e in its:
            fits.setdefault(e["label"], []).append(e)
        main_fit = fits.get("pcg", [])
        r.check([e["iteration"] for e in main_fit] == list(range(1, want + 1)),
                f"pcg: iterations 1..{want} of the fit on all n, each once: {[e['iteration'] for e in main_fit]}")
        r.check(len(fits) == 2 and all(e["iteration"] >= 1 for e in fits.get("pcg (validation fit)", [])),
                f"pcg: the validation fit's iterations labelled apart: {list(fits)}")
        r.check(all(isinstance(e["residual"], (int, float)) and 0 <= e["residual"] < 10 and
                    e["iteration"] <= e["last_iteration"] <= 1000 and e["point"] == done[0]["point"] for e in its),
                f"pcg: finite residuals, last_iteration within [iteration, max_iterations] {its[:2]}")
        r.check(main_fit and main_fit[-1]["note"] == "2/2 ridges converged" and
                all(row["status"] == "ok" for row in rows),
                f"pcg: the last iteration's note counts both ridges converged: {main_fit[-1:]}")
        lines = [m for m in map(ITERATION_LINE.match, err.splitlines()) if m]
        r.check([(m.group(2), int(m.group(3))) for m in lines] == [(e["label"], e["iteration"]) for e in its],
                f"pcg: one progress line per iteration ({len(lines)} lines, {len(its)} events) {err[:300]!r}")

    # An unusable run.log: exit 2, one line naming the key, nothing written.
    rc, out, err = r.run("run", cfg, "-o", "bad.h5", "--set", 'run.log="no/such/folder/x.jsonl"')
    r.check(rc == 2 and "error: run.log: " in err and len(err.strip().splitlines()) == 1 and
            not os.path.exists(r.path("bad.h5")),
            f"bad run.log: exit 2, one line naming run.log, no output (rc {rc}) {err.strip()[:200]!r}")

    r.finish()


if __name__ == "__main__":
    run_checks(main)
