"""A sweep killed at instants chosen from its own progress (SIGKILL, at least
10 times: after the k-th new commit of its output, or while a commit's
FILE.tmp is being written, or while its first data file is being written) and
resumed with --resume ends with the same results as an uninterrupted run, bit
for bit on the same grid; the results file is readable after every kill; SIGUSR1
leads to a clean stop with exit status 75 and state 'interrupted'; a --resume
started while the ranks of a killed mpiexec still run waits for them. The same
for an iterative learner stopped and killed inside its points, resuming from
its /checkpoint: equal rows and training curves; and one killed and one
stopped inside the refit of the chosen candidate (learner.refit, with the
trained output offset), resuming from that point's /checkpoint.

No check depends on how fast the machine is: every kill is placed by the
run's own progress (the output is replaced by a rename at every commit, so a
new inode is a new commit), never by a wall-clock delay."""
import os
import random
import signal
import subprocess
import time

import h5py
import numpy as np

from common import Runner, parse_args, read_results, run_checks

CONFIG = """
[data]
dim = 6
n_test = 300
noise = 0.1
[learner]
kernel = "nngp"
input_bias = true
ridge = [1e-4, 1e-2]
[sweep]
dims = [5, 6]
n_train = [60, 120, 240, 480]
seeds = 3
[run]
block = 16
save_data = true
"""
TAYLOR = """
[data]
dim = 6
degrees = [2]
n_test = 300
[learner]
kind = "taylor"
order = 2
m     = 16
learning_rate = 0.05
momentum = 0.5
steps = 6000
eval_every = 20
[sweep]
n_train = [300, 900]
seeds = 1
[run]
checkpoint_every = 150
block = 16
"""
TAYLOR_REFIT = """
[data]
dim = 6
degrees = [2]
n_test = 300
[learner]
kind = "taylor"
order = 2
m = 16
learning_rate = [0.05, 0.03]
momentum = 0.5
steps = 1500
eval_every = 20
validation_fraction = 0.2
output_bias = true
refit = true
[sweep]
n_train = [300]
seeds = 1
[run]
checkpoint_every = 30
block = 16
"""
COLUMNS = ("d", "n", "seed", "ridge", "test_error", "train_error", "status", "learner", "input")
# Compared too where a file has them (Taylor candidates, refit, offset).
OPTIONAL = ("candidate", "selected", "refit", "output_bias", "validation_error", "best_step", "steps_run")


def start(r, cfg, out, np_=2, resume=True, env=None):
    cmd = [r.mpiexec, "-n", str(np_), "--oversubscribe", r.neurep, "run", cfg, "-o", out, "-q"]
    if resume:
        cmd.append("--resume")
    return subprocess.Popen(cmd, cwd=r.tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True, text=True, env={**os.environ, **(env or {})})


def session_processes(sid):
    """The live processes of session `sid` (zombies have closed their files: left out)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # state, ppid, pgrp, session, ...
        if fields[0] != "Z" and int(fields[3]) == sid:
            found.append(int(entry))
    return found


def kill_run(p):
    """SIGKILL the whole run, mpiexec and every rank, as a crash or a batch system's kill would.
    os.killpg(mpiexec) is not enough: Open MPI puts each rank in a process group of its own,
    and the ranks of a killed mpiexec live on for seconds, committing to the output while the
    next --resume run writes it too. They keep mpiexec's session (start_new_session): kill
    every process of it, and return only when none is left."""
    while True:
        pids = session_processes(p.pid)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.005)
    p.wait()


def generation(path):
    """Identifies one committed generation of `path` (every commit renames a new file over it)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


def run_and_kill(r, cfg, out, commits, mid_commit=False, when_exists=None):
    """Starts a --resume run of `cfg` and SIGKILLs it once it has made `commits` new commits to
    `out` and then, with mid_commit, as soon as the next commit's FILE.tmp exists (a kill inside a
    commit), or, with when_exists, as soon as that path exists. Returns True if the run was killed,
    False if it ended first (its return code is then in the process)."""
    p = start(r, cfg, out)
    seen, count = generation(out), 0
    while p.poll() is None:
        g = generation(out)
        if g != seen:
            seen, count = g, count + 1
        if count >= commits and (not mid_commit or os.path.exists(out + ".tmp")) and \
                (when_exists is None or os.path.exists(when_exists)):
            kill_run(p)
            return True, p
        time.sleep(0.0005)
    return False, p


def rows(path):
    res = read_results(path)
    order = np.lexsort((res["ridge"], res["seed"], res["n"], res["d"]))
    return {k: res[k][order] for k in COLUMNS + OPTIONAL if k in res}


def same(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind == "f") for k in a)


def curves(path):
    with h5py.File(path, "r") as f:
        return {name: {k: f["curves"][name][k][()] for k in ("step", "train_loss", "train_error", "validation_error",
                                                              "test_error", "weight_norm")}
                for name in f["curves"]}


def same_curves(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[c][k], b[c][k], equal_nan=True) for c in a for k in a[c])


def taylor_checks(r, rng):
    """Kills and a signal inside the points of a gradient-descent learner."""
    cfg = r.write("taylor.toml", TAYLOR)
    rc, _, err = r.run("run", cfg, "-o", "taylor-ref.h5", "-q", np_=2)
    r.check(rc == 0, f"taylor: uninterrupted reference run (rc {rc}) {err.strip()[:200]}")
    ref, ref_curves = rows(r.path("taylor-ref.h5")), curves(r.path("taylor-ref.h5"))
    out = r.path("taylor-killed.h5")
    kills, resumed_from_checkpoint, finished = 0, 0, False
    for _ in range(60):  # each killed run commits at least one checkpoint: always progress
        killed, p = run_and_kill(r, cfg, out, commits=rng.randint(3, 10), mid_commit=rng.random() < 0.3)
        if killed:
            kills += 1
            if os.path.exists(out):
                with h5py.File(out, "r") as f:
                    resumed_from_checkpoint += "checkpoint" in f
            continue
        if p.returncode == 0 and kills >= 5:
            finished = True
            break
        os.remove(out)  # ended (or failed) before enough kills: start over
    r.check(finished and kills >= 5 and resumed_from_checkpoint >= 1,
            f"taylor: killed {kills} times, {resumed_from_checkpoint} times with a checkpoint inside a point, "
            f"then completed ({finished})")
    if not finished:
        return
    r.check(same(rows(out), ref) and same_curves(curves(out), ref_curves),
            "taylor: rows and curves after kills equal the uninterrupted run bit for bit")
    # SIGUSR1 inside a point: exit 75 with the point's state in /checkpoint.
    # NEUREP_TEST_WAIT_AFTER=checkpoint:1: rank 0 waits after the first checkpoint committed
    # inside a point until the stop signal has arrived, so the signal lands mid-point on any machine.
    out2 = r.path("taylor-usr1.h5")
    p = start(r, cfg, out2, resume=False, env={"NEUREP_TEST_WAIT_AFTER": "checkpoint:1"})
    for _ in range(3000):  # the first checkpoint creates the file; signal at once, mid-point
        if os.path.exists(out2) or p.poll() is not None:
            break
        time.sleep(0.01)
    p.send_signal(signal.SIGUSR1)
    p.communicate(timeout=120)
    with h5py.File(out2, "r") as f:
        has_ck = "checkpoint" in f and int(f["checkpoint"].attrs["step"]) > 0
    r.check(p.returncode == 75 and has_ck, f"taylor: SIGUSR1 gives 75 (got {p.returncode}) and a /checkpoint ({has_ck})")
    p = start(r, cfg, out2)
    p.wait(timeout=300)
    r.check(p.returncode == 0 and same(rows(out2), ref) and same_curves(curves(out2), ref_curves),
            "taylor: resume from the checkpoint ends with the same rows and curves")


def committed_rows(path):
    """The rows in the output's /results (0 without a readable file)."""
    try:
        with h5py.File(path, "r") as f:
            return len(f["results/d"])
    except (OSError, KeyError):
        return 0


def checkpoint_point(path):
    """The point of the output's /checkpoint ('' without one or without a file)."""
    try:
        with h5py.File(path, "r") as f:
            if "checkpoint" not in f:
                return ""
            point = f["checkpoint"].attrs["point"]
            return point.decode() if isinstance(point, bytes) else str(point)
    except (OSError, KeyError):
        return ""


def refit_checks(r):
    """learner.refit: a run killed (SIGKILL) and one stopped (SIGUSR1) once the refit of the chosen
    candidate has committed a checkpoint resume from it to the uninterrupted run's rows and curves."""
    cfg = r.write("refit.toml", TAYLOR_REFIT)
    rc, _, err = r.run("run", cfg, "-o", "refit-ref.h5", "-q", np_=2)
    r.check(rc == 0, f"refit: uninterrupted reference run (rc {rc}) {err.strip()[:200]}")
    ref, ref_curves = rows(r.path("refit-ref.h5")), curves(r.path("refit-ref.h5"))
    r.check(list(ref["refit"]) == [0, 0, 1] and list(ref["selected"]) == [0, 0, 1] and
            np.all(np.isfinite(ref["output_bias"])), f"refit: two candidate rows and the refit row, selected ({ref['refit']})")
    for how in ("SIGKILL", "SIGUSR1"):
        out = r.path(f"refit-{how}.h5")
        p = start(r, cfg, out, resume=False)
        seen = ""
        while p.poll() is None and not seen.endswith("_refit"):  # until the refit point has checkpointed
            seen = checkpoint_point(out)
            time.sleep(0.01)
        if how == "SIGKILL":
            kill_run(p)
        else:
            p.send_signal(signal.SIGUSR1)
            p.communicate(timeout=120)
        inside = checkpoint_point(out).endswith("_refit")
        r.check(seen.endswith("_refit") and inside and (how == "SIGKILL" or p.returncode == 75),
                f"refit: {how} inside the refit point, its checkpoint in the file (seen {seen!r}, rc {p.returncode})")
        p = start(r, cfg, out)
        _, err = p.communicate(timeout=300)
        r.check(p.returncode == 0 and same(rows(out), ref) and same_curves(curves(out), ref_curves),
                f"refit: resumed after {how} with the same rows and curves (rc {p.returncode}) {err.strip()[:200]}")


def orphan_check(r, cfg, ref):
    """Only mpiexec killed, as a user's kill -9 of mpirun: its ranks live on for a while. A
    --resume started at once must wait for them to end (they hold the output's lock) rather than
    write the same file beside them, and end with the same results."""
    out = r.path("orphans.h5")
    p = start(r, cfg, out, resume=False)
    for _ in range(3000):
        if os.path.exists(out) or p.poll() is not None:
            break
        time.sleep(0.01)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    orphans = len(session_processes(p.pid))
    p2 = start(r, cfg, out)
    _, err = p2.communicate(timeout=300)
    kill_run(p)
    r.check(p2.returncode == 0 and same(rows(out), ref),
            f"a --resume beside {orphans} surviving ranks of a killed mpiexec waits for them and ends with the "
            f"same results (rc {p2.returncode}) {err.strip()[:200]}")


def stale_semaphore_check(r, cfg):
    """A run killed while creating FILE.tmp can leave Open MPI's shared-file-pointer semaphore
    /dev/shm/sem.OMPIO_<name> locked; a later run creating that file name must not hang on it."""
    out = r.path("stale-sem.h5")
    sem = "/dev/shm/sem.OMPIO_" + os.path.basename(out) + ".tmp"
    with open(sem, "wb") as f:
        f.write(bytes(32))  # a glibc semaphore with value 0: locked, as a killed holder leaves it
    try:
        p = start(r, cfg, out, resume=False)
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            kill_run(p)
        r.check(p.returncode == 0, f"a run beside a locked OMPIO semaphore of its file name completes (rc {p.returncode})")
    finally:
        os.remove(sem)


def main():
    r = Runner(parse_args())
    cfg = r.write("kill.toml", CONFIG)
    rc, _, err = r.run("run", cfg, "-o", "reference.h5", "-q", np_=2)
    r.check(rc == 0, f"uninterrupted reference run (rc {rc}) {err.strip()[:200]}")
    ref = rows(r.path("reference.h5"))
    r.check(len(ref["n"]) == 2 * 4 * 3 * 2, "the reference has every row")

    rng = random.Random(1234)
    out = r.path("killed.h5")
    first_data = r.path("killed.h5.data/d5_seed0.h5.tmp")  # save_data's first file, being written before any commit
    kills, readable, finished = 0, True, False
    for attempt in range(60):  # each killed run (but the first) commits at least one point: progress
        if attempt == 0:  # before the first commit, while the first data file is being written
            killed, p = run_and_kill(r, cfg, out, commits=0, when_exists=first_data)
        else:
            killed, p = run_and_kill(r, cfg, out, commits=rng.randint(1, 2), mid_commit=rng.random() < 0.5)
        if killed:
            kills += 1
            if os.path.exists(out):  # whatever instant it died at, the file is whole
                try:
                    with h5py.File(out, "r") as f:
                        _ = f["results/test_error"][()]
                except Exception as e:  # noqa: BLE001 - any failure to read is the finding
                    readable = False
                    print("unreadable after a kill:", e)
            continue
        if p.returncode == 0 and kills >= 10:
            finished = True
            break
        if os.path.exists(out):  # ended (or failed) before enough kills: start over
            os.remove(out)
    r.check(kills >= 10 and finished, f"killed {kills} times, then completed ({finished})")
    r.check(readable, "the results file was readable after every kill")
    if finished:
        with h5py.File(out, "r") as f:
            r.check(f.attrs["status"] in (b"complete", "complete"), "the resumed run completed")
        r.check(same(rows(out), ref), "results after kills and resumes equal the uninterrupted run bit for bit")

    orphan_check(r, cfg, ref)
    stale_semaphore_check(r, cfg)
    taylor_checks(r, rng)
    refit_checks(r)

    # SIGUSR1: a clean stop at the next safe point, exit 75, then resume to the end.
    # NEUREP_TEST_WAIT_AFTER=3: rank 0 waits after its 3rd committed point until the
    # signal arrives, so the run cannot finish first however fast the machine.
    out2 = r.path("usr1.h5")
    p = start(r, cfg, out2, resume=False, env={"NEUREP_TEST_WAIT_AFTER": "3"})
    for _ in range(6000):
        if p.poll() is not None or committed_rows(out2) >= 3:
            break
        time.sleep(0.01)
    p.send_signal(signal.SIGUSR1)  # mpirun forwards SIGUSR1 to the ranks
    _, err = p.communicate(timeout=120)
    r.check(p.returncode == 75, f"SIGUSR1: exit status 75 (got {p.returncode}) {err.strip()[:200]}")
    with h5py.File(out2, "r") as f:
        status = f.attrs["status"]
        n_rows = len(f["results/d"])
    r.check(status in (b"interrupted", "interrupted") and 0 < n_rows < len(ref["n"]),
            f"SIGUSR1: state 'interrupted' with {n_rows} rows committed")
    p = start(r, cfg, out2)
    p.wait(timeout=300)
    r.check(p.returncode == 0 and same(rows(out2), ref), "resume after SIGUSR1 completes with the same results")
    # A --resume of a complete file has nothing to do and leaves it, with the
    # provenance of the binary that wrote it, untouched.
    with open(out2, "rb") as fh:
        before = (fh.read(), os.stat(out2).st_mtime_ns)
    p = start(r, cfg, out2)
    p.wait(timeout=120)
    with open(out2, "rb") as fh:
        after = (fh.read(), os.stat(out2).st_mtime_ns)
    r.check(p.returncode == 0 and before == after, "a --resume of a complete file leaves it untouched")
    r.finish()


if __name__ == "__main__":
    run_checks(main)
