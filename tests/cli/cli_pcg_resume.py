"""learner.solver = "pcg" killed inside its conjugate-gradient solves and
resumed with --resume from /checkpoint (saved every run.checkpoint_every
iterations) ends with the same rows as an uninterrupted run, bit for bit;
SIGUSR1 inside a solve stops cleanly with exit status 75 and a checkpoint.
Each kill comes after a checkpoint of a later iteration than the last one has
been seen in the file (never after a wall-clock delay)."""
import os
import signal
import time

import h5py
import numpy as np

from cli_kill_resume import kill_run, start
from common import Runner, parse_args, run_checks

CONFIG = """
[data]
dim = 8
n_test = 200
[learner]
kernel = "ntk"
ridge = [1e-7, 1e-3]
solver = "pcg"
tolerance = 1e-11
preconditioner_rank = 0
[sweep]
n_train = [700, 900]
seeds = 1
[run]
block = 32
checkpoint_every = 5
"""
COLUMNS = ("d", "n", "seed", "ridge", "test_error", "train_error", "status", "residual", "iterations")


def rows(path):
    with h5py.File(path, "r") as f:
        r = f["results"]
        return {k: r[k][()] for k in COLUMNS}


def same(a, b):
    return all(np.array_equal(a[k], b[k]) for k in COLUMNS)


def checkpoint_iteration(path):
    """(point, iteration) of the file's /checkpoint, or None; the file is whole (written by rename)."""
    try:
        with h5py.File(path, "r") as f:
            if "checkpoint" not in f:
                return None
            a = f["checkpoint"].attrs
            return (a["point"].decode() if isinstance(a["point"], bytes) else str(a["point"]), int(a["iteration"]))
    except (OSError, KeyError):
        return None


def wait_for_checkpoint(p, path, after):
    """Polls until a checkpoint other than `after` is in the file (returned), or the run ends (None)."""
    while p.poll() is None:
        ck = checkpoint_iteration(path)
        if ck is not None and ck != after:
            return ck
        time.sleep(0.005)
    return None


def main():
    args = parse_args()
    r = Runner(args)
    cfg = r.write("pcg.toml", CONFIG)
    rc, _, err = r.run("run", cfg, "-o", "ref.h5", "-q", np_=2)
    r.check(rc == 0, f"uninterrupted reference run (rc {rc}) {err.strip()[:300]}")
    ref = rows(r.path("ref.h5"))
    r.check(all(s == b"ok" or s == "ok" for s in ref["status"]) and min(ref["iterations"]) >= 20,
            f"the reference solves converge in many iterations: {ref['iterations']}, {ref['status']}")

    out = r.path("killed.h5")
    kills, seen = 0, []
    for _ in range(4):
        p = start(r, cfg, out)
        last = checkpoint_iteration(out)  # what the previous run left
        ck = wait_for_checkpoint(p, out, last)
        ck = wait_for_checkpoint(p, out, ck) if ck is not None else None  # the second new checkpoint of this run
        if ck is None:  # the run finished first
            break
        kill_run(p)
        kills += 1
        seen.append(ck)
    if p.poll() is None or kills == 4:
        p = start(r, cfg, out)
    p.wait(timeout=600)
    r.check(p.returncode == 0, f"the last resumed run completes (rc {p.returncode})")
    r.check(kills >= 3, f"killed {kills} times after checkpoints {seen}")
    # A resume that ignored /checkpoint would restart the solve and see the same iterations again.
    r.check(len(seen) >= 2 and all(a[0] != b[0] or a[1] < b[1] for a, b in zip(seen, seen[1:])),
            "every run continued from the previous run's checkpoint (iterations grow from kill to kill)")
    got = rows(out)
    r.check(same(got, ref), f"rows after kills and resumes equal the uninterrupted run bit for bit "
                            f"(iterations {got['iterations']} vs {ref['iterations']})")

    # SIGUSR1 after a checkpoint inside a solve: exit 75, state saved, resume equal.
    out2 = r.path("usr1.h5")
    p = start(r, cfg, out2, resume=False)
    ck = wait_for_checkpoint(p, out2, None)
    p.send_signal(signal.SIGUSR1)
    p.communicate(timeout=300)
    ck2 = checkpoint_iteration(out2)
    r.check(ck is not None and p.returncode == 75 and ck2 is not None and ck2[1] > 0,
            f"SIGUSR1 gives 75 (got {p.returncode}) and a /checkpoint inside a solve ({ck2})")
    p = start(r, cfg, out2)
    p.wait(timeout=600)
    r.check(p.returncode == 0 and same(rows(out2), ref), "resume after SIGUSR1 ends with the same rows")
    r.finish()


if __name__ == "__main__":
    run_checks(main)
