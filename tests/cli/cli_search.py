"""sweep.target_error: n found by search. A real small search (kernel regression,
tiny d) is checked against an independent replay of the search rule in Python on
the file's own rows (the same n visited in the same brackets, the /complexity table
consistent: the bracket holds the crossing, n_lo <= n_eps <= n_hi); killed (SIGKILL,
placed by the run's own commits, never by time) and resumed with --resume it ends
with the same rows and the same /complexity; and it gives the same search on 1, 2
and 4 ranks. Bad input names the key; check, --help-config and plan show the keys."""
import math
import os
import random

import h5py
import numpy as np

from cli_kill_resume import kill_run, run_and_kill, start
from common import Runner, parse_args, read_results, run_checks

CONFIG = """
[data]
dim = 5
degrees = [2]
n_test = 300
[learner]
kernel = "ntk"
input_bias = true
ridge = [1e-4, 1e-1]
ridge_selection = "validation"
validation_fraction = 0.25
[sweep]
dims = [4, 5]
seeds = 2
target_error = [0.3, 0.1, 1e-4]
n_min = 8
n_max = 400
[run]
block = 16
"""
RESOLUTION = 2 ** 0.25


def complexity(path):
    with h5py.File(path, "r") as f:
        g = f["complexity"]
        out = {k: g[k][()] for k in g.keys()}
    for k, v in out.items():
        if v.dtype.kind == "S":
            out[k] = np.array([s.decode() for s in v])
    return out


def selected_errors(res, d, seed):
    """{n: the test error of the row the run selected} at (d, seed)."""
    out = {}
    for n in sorted(set(res["n"][(res["d"] == d) & (res["seed"] == seed)].tolist())):
        m = (res["d"] == d) & (res["seed"] == seed) & (res["n"] == n) & (res["selected"] == 1)
        e = res["test_error"][m]
        out[n] = float(e[0]) if len(e) == 1 and np.isfinite(e[0]) else math.inf
    return out


def replay(errors, targets, n_min, n_max, d):
    """The search rule of README (sweep) written again: the n it visits, in order, taking the
    errors from `errors` (KeyError if the run skipped one), and per target (status, n_lo, n_hi)."""
    ladder = []
    n = n_min
    while n < n_max:
        ladder.append(n)
        n *= 2
    ladder.append(n_max)
    seen = {}
    while True:
        rungs = 0
        while rungs < len(ladder) and ladder[rungs] in seen:
            rungs += 1
        stop = ""
        if rungs == len(ladder):
            stop = "n_max"
        elif rungs >= 3:
            last = seen[ladder[rungs - 1]]
            largest = max([1.0] + [seen[n] for n in ladder[:rungs] if math.isfinite(seen[n])])
            window = max(2, math.ceil(math.log2(d) - 1e-9))  # flat over log2 d doublings
            flat = rungs > window and not last < 0.9 * seen[ladder[rungs - 1 - window]]
            if not math.isfinite(last) or (flat and last <= 0.5 * largest):
                stop = "floor"
        nxt, result = None, []
        for t in sorted(targets, reverse=True):
            below = [n for n in sorted(seen) if seen[n] < t]
            if not below:
                if not stop:
                    nxt = ladder[rungs]
                    break
                result.append((stop, max(seen), 0))
                continue
            hi = below[0]
            lower = [n for n in seen if n < hi]
            if not lower:
                result.append(("below-n_min", 0, hi))
                continue
            lo = max(lower)
            if (hi - 0.5) / (lo + 0.5) > RESOLUTION and hi - lo > 1:
                nxt = min(max(int(math.floor(math.sqrt(lo * hi) + 0.5)), lo + 1), hi - 1)
                break
            result.append(("reached", lo, hi))
        if nxt is None:
            return list(seen), result
        seen[nxt] = errors[nxt]


def main():
    r = Runner(parse_args())
    cfg = r.write("search.toml", CONFIG)

    # Reference: one rank.
    rc, _, err = r.run("run", cfg, "-o", "ref.h5", "-q", np_=1)
    r.check(rc == 0, f"search run on 1 rank (rc {rc}) {err.strip()[:300]}")
    res, cx = read_results(r.path("ref.h5")), complexity(r.path("ref.h5"))
    targets = [0.3, 0.1, 1e-4]
    r.check(len(cx["d"]) == 2 * 2 * 3, f"/complexity has a row per (d, seed, target): {len(cx['d'])}")
    ladder = {8, 16, 32, 64, 128, 256, 400}
    bisected = set(res["n"].tolist()) - ladder
    r.check(len(bisected) > 0, f"points off the doubling ladder were computed (bisection): {sorted(bisected)}")
    statuses = set()
    for d in (4, 5):
        for seed in (0, 1):
            errors = selected_errors(res, d, seed)
            try:
                visited, result = replay(errors, targets, 8, 400, d)
            except KeyError as e:
                r.check(False, f"d={d} seed={seed}: the replay needs n={e} which the run did not compute")
                continue
            r.check(sorted(visited) == sorted(errors),
                    f"d={d} seed={seed}: the run computed the n of the replayed search "
                    f"({sorted(errors)} vs {sorted(visited)})")
            for t, (status, lo, hi) in zip(targets, result):
                m = (cx["d"] == d) & (cx["seed"] == seed) & np.isclose(cx["target"], t)
                if m.sum() != 1:
                    r.check(False, f"d={d} seed={seed} target={t}: one /complexity row ({m.sum()})")
                    continue
                i = int(np.nonzero(m)[0][0])
                statuses.add(cx["status"][i])
                same = (cx["status"][i], int(cx["n_lo"][i]), int(cx["n_hi"][i])) == (status, lo, hi)
                r.check(same, f"d={d} seed={seed} target={t}: /complexity {cx['status'][i]} "
                        f"[{cx['n_lo'][i]}, {cx['n_hi'][i]}] = replay {status} [{lo}, {hi}]")
                r.check(int(cx["points"][i]) == len(errors), f"d={d} seed={seed}: points = {len(errors)}")
                r.check(cx["learner"][i] == "kernel:ntk" and cx["input"][i] == "x",
                        f"learner and input as in /results ({cx['learner'][i]}, {cx['input'][i]})")
                if status == "reached":
                    n_eps = float(cx["n_eps"][i])
                    e_lo, e_hi = errors[lo], errors[hi]
                    r.check(e_lo >= t > e_hi and cx["error_lo"][i] == e_lo and cx["error_hi"][i] == e_hi,
                            f"d={d} seed={seed} target={t}: the bracket holds the crossing "
                            f"({e_lo:.4g} >= {t} > {e_hi:.4g})")
                    r.check(lo <= n_eps <= hi and ((hi - 0.5) / (lo + 0.5) <= RESOLUTION or hi - lo <= 1),
                            f"d={d} seed={seed} target={t}: {lo} <= n_eps {n_eps:.5g} <= {hi}, "
                            f"within the resolution")
                    expect = math.exp(math.log(lo) + (math.log(t) - math.log(e_lo)) /
                                      (math.log(e_hi) - math.log(e_lo)) * (math.log(hi) - math.log(lo)))
                    r.check(abs(n_eps - expect) <= 1e-9 * expect,
                            f"n_eps is the log-log interpolation ({n_eps} vs {expect})")
                else:
                    r.check(math.isnan(cx["n_eps"][i]), f"{status}: n_eps is NaN")
    r.check("reached" in statuses and statuses & {"floor", "n_max"},
            f"targets reached and not reached (floor or n_max) occur: {sorted(statuses)}")

    # 2 and 4 ranks: the same search.
    for np_ in (2, 4):
        out = f"ranks{np_}.h5"
        rc, _, err = r.run("run", cfg, "-o", out, "-q", np_=np_)
        c = complexity(r.path(out)) if rc == 0 else None
        same = c is not None and all(np.array_equal(c[k], cx[k]) for k in ("d", "seed", "target", "n_lo", "n_hi",
                                                                            "points", "status")) and \
            np.allclose(c["n_eps"], cx["n_eps"], rtol=1e-8, equal_nan=True)
        r.check(same, f"{np_} ranks: the same /complexity as 1 rank (rc {rc}) {err.strip()[:200]}")

    # Kills placed by commits, then --resume: the same rows and /complexity as an uninterrupted run.
    rc, _, err = r.run("run", cfg, "-o", "ref2.h5", "-q", np_=2)
    ref_res, ref_cx = read_results(r.path("ref2.h5")), complexity(r.path("ref2.h5"))
    rng = random.Random(14)
    out = r.path("killed.h5")
    kills, finished = 0, False
    for _ in range(60):
        killed, p = run_and_kill(r, cfg, out, commits=rng.randint(1, 3), mid_commit=rng.random() < 0.4)
        if killed:
            kills += 1
            continue
        if p.returncode == 0 and kills >= 6:
            finished = True
            break
        os.remove(out)
    r.check(finished and kills >= 6, f"killed {kills} times inside the search, then completed ({finished})")
    if finished:
        got_res, got_cx = read_results(out), complexity(out)
        order = lambda x: np.lexsort((x["ridge"], x["n"], x["seed"], x["d"]))  # noqa: E731
        a, b = order(ref_res), order(got_res)
        same_rows = len(a) == len(b) and all(
            np.array_equal(ref_res[k][a], got_res[k][b], equal_nan=ref_res[k].dtype.kind == "f")
            for k in ("d", "n", "seed", "ridge", "test_error", "selected", "status"))
        r.check(same_rows, f"after kills: the same rows, no point computed twice ({len(b)} rows, {len(a)} expected)")
        r.check(all(np.array_equal(ref_cx[k], got_cx[k], equal_nan=ref_cx[k].dtype.kind == "f") for k in ref_cx),
                "after kills: the same /complexity, bit for bit")
    # A --resume of the finished search leaves the file as it is.
    with open(r.path("ref2.h5"), "rb") as fh:
        before = fh.read()
    p = start(r, cfg, r.path("ref2.h5"))
    p.wait(timeout=120)
    with open(r.path("ref2.h5"), "rb") as fh:
        r.check(p.returncode == 0 and fh.read() == before, "a --resume of a finished search changes nothing")

    # Bad input, check, --help-config, plan.
    bad = r.write("bad.toml", CONFIG.replace("n_min = 8", "n_min = 8\nn_train = [8, 16]"))
    rc, _, err = r.run("run", bad, "-o", "bad.h5")
    r.check(rc == 2 and err.strip().startswith("neurep: error: sweep.n_train:") and len(err.strip().splitlines()) == 1 and
            not os.path.exists(r.path("bad.h5")), f"n_train beside target_error: exit 2, one line ({err.strip()})")
    for key, value in (("sweep.n_resolution", "1"), ("sweep.n_max", "4"), ("sweep.target_error", "[-1]")):
        rc, _, err = r.run("run", cfg, "-o", "bad.h5", "--set", f"{key}={value}")
        r.check(rc == 2 and err.strip().startswith(f"neurep: error: {key}:") and len(err.strip().splitlines()) == 1 and
                not os.path.exists(r.path("bad.h5")),
                f"{key} = {value}: exit 2 naming the key ({err.strip()})")
    rc, out_text, _ = r.run("check", cfg)
    r.check(rc == 0 and "target_error = [ 0.3, 0.1, 0.0001 ]" in out_text and "n_min = 8" in out_text and
            "n_resolution = " in out_text and "n_train" not in out_text, "check prints the search keys, not n_train")
    rc, out_text, _ = r.run("check", "--help-config")
    r.check(all(k in out_text for k in ("target_error = []", "n_min = 64", "n_max = 65536", "n_resolution = ")),
            "--help-config lists the search keys")
    rc, out_text, err = r.run("plan", cfg, "--rate", "10")
    r.check(rc == 0 and "at most" in out_text and "doubling ladder 8..400" in out_text,
            f"plan says what a search may compute ({out_text.strip()[:300]} {err.strip()[:200]})")
    r.finish()


if __name__ == "__main__":
    run_checks(main)
