"""Faults a cluster user hits, each with the behaviour the README promises:
- ranks that could disagree (a singular kernel under leave-one-out, on 2 and
  4 ranks; the eigen path on a singular kernel) end with exit 0 and a whole,
  readable file, never a torn file or a hang;
- long output names (240 characters, with the data files beside them and a
  checkpoint read back through MPI-IO) work, and a name too long for the
  file system is bad input (exit 2, one line, nothing written);
- a stop signal at any instant after launch, even before MPI_Init, ends in
  exit 75 with an `interrupted` file, and --resume completes it with the
  rows of an uninterrupted run. The instant is not a matter of timing: the
  test-only hook NEUREP_TEST_STOP_AT raises SIGUSR1 at a named phase;
- a test error that overflows is recorded as status non-finite, never NaN or
  inf with status ok.
A hang is a failed check (a timeout), never a wait for CTest's."""
import os
import subprocess

import h5py
import numpy as np

from common import Runner, parse_args, read_results

SMALL = """
[data]
dim = 4
n_test = 100
[sweep]
n_train = [40, 60]
seeds = 1
"""

TAYLOR = """
[data]
dim = 4
degrees = [2]
n_test = 100
[learner]
kind = "taylor"
width = 8
steps = 60
eval_every = 10
learning_rate = 0.05
[sweep]
n_train = [50]
seeds = 1
[run]
checkpoint_every = 10
"""


def run(r, *args, np_=1, env=None, timeout=240):
    """(rc, stderr); rc None when it had to be killed (a hang)."""
    cmd = [r.neurep, *args]
    if np_ > 1:
        cmd = [r.mpiexec, "-n", str(np_), "--oversubscribe", *cmd]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=r.tmp,
                           env={**os.environ, **(env or {})})
        return p.returncode, p.stderr
    except subprocess.TimeoutExpired as e:
        return None, (e.stderr or b"").decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")


def readable(path):
    """The whole results file reads back (every dataset), or the error."""
    def read(name, obj):  # visititems stops at the first callback that returns something
        if isinstance(obj, h5py.Dataset):
            obj[()]
    try:
        read_results(path)
        with h5py.File(path, "r") as f:
            f.visititems(read)
            return True, f.attrs["status"]
    except Exception as e:  # a torn file: h5py's own error, reported as a failed check
        return False, repr(e)[:200]


def neurep_lines(err):
    return [l for l in err.splitlines() if l.startswith("neurep")]


def rank_agreement(r):
    cfg = r.write("small.toml", SMALL)
    singular = ["--set", "data.dim=2", "--set", "data.degrees=[1]", "--set", "learner.ridge=[0.0]",
                "--set", "learner.kernel=linear"]
    cases = {"loo": singular + ["--set", "learner.ridge_selection=loo"],
             "eigen": singular + ["--set", "data.dim=3", "--set", "sweep.n_train=[50]", "--set", "learner.solver=eigen"],
             "cholesky": singular}
    for name, extra in cases.items():
        for np_ in (2, 4):
            out = f"sing-{name}-{np_}.h5"
            rc, err = run(r, "run", cfg, "-o", out, "-q", *extra, np_=np_)
            r.check(rc == 0, f"singular kernel, {name}, {np_} ranks: exit 0 (got {rc}; None = hung) {err.strip()[:200]}")
            if rc != 0:
                continue
            whole = True
            for path in (out, out + ".prev"):
                ok, status = readable(r.path(path))
                whole = whole and ok
                r.check(ok and status == b"complete" if path == out else ok,
                        f"singular kernel, {name}, {np_} ranks: {path} whole and readable ({status})")
            if not whole:
                continue
            res = read_results(r.path(out))
            r.check(all(s == "ok" or s.startswith("jitter=") for s in res["status"]),
                    f"singular kernel, {name}, {np_} ranks: statuses ok or jitter ({sorted(set(res['status']))})")


def long_names(r):
    cfg = r.write("small.toml", SMALL)
    name = "n" * 237 + ".h5"  # 240 characters; FILE.prev and FILE.data/ have 245
    rc, err = run(r, "run", cfg, "-o", name, "-q", "--set", "run.save_data=true", np_=2)
    r.check(rc == 0, f"a 240-character output name with its data files, 2 ranks: exit 0 (got {rc}) {err.strip()[:200]}")
    if rc == 0:
        r.check(readable(r.path(name))[0] and os.path.isdir(r.path(name[:-3] + ".h5.data")),
                "  the file and its data folder are there")
        r.check(not [f for f in os.listdir(r.tmp) if f.startswith(name) and f.endswith(".lock")],
                "  and no lock file of Open MPI's sharedfp beside them")
    # A Taylor checkpoint under a long name: stopped inside the point, resumed through MPI-IO.
    tcfg = r.write("taylor.toml", TAYLOR)
    tname = "t" * 236 + ".h5"
    rc, err = run(r, "run", tcfg, "-o", tname, "-q", np_=2, env={"NEUREP_TEST_STOP_AT": "configured"})
    r.check(rc == 75, f"a long-named Taylor run stopped inside its point: exit 75 (got {rc}) {err.strip()[:200]}")
    ok, _ = readable(r.path(tname)) if os.path.exists(r.path(tname)) else (False, "no file")
    if ok:
        with h5py.File(r.path(tname), "r") as f:
            ok = "checkpoint" in f
    r.check(ok, "  with a checkpoint in the file")
    rc, err = run(r, "run", tcfg, "-o", tname, "-q", "--resume", np_=2)
    r.check(rc == 0, f"  and --resume reads the checkpoint back and completes (got {rc}) {err.strip()[:200]}")
    # Too long for the file system: bad input, before anything is written.
    before = sorted(os.listdir(r.tmp))
    rc, err = run(r, "run", cfg, "-o", "z" * 251 + ".h5", "-q", np_=2)
    lines = neurep_lines(err)
    r.check(rc == 2 and len(lines) == 1 and "limit of" in err,
            f"a name too long for the file system: exit 2, one line (got {rc}, {lines})")
    r.check(sorted(os.listdir(r.tmp)) == before, "  and nothing written")


def early_signals(r):
    cfg = r.write("sig.toml", SMALL)
    rc, err = run(r, "run", cfg, "-o", "whole.h5", "-q", np_=2)
    r.check(rc == 0, f"an uninterrupted run (rc {rc})")
    if rc != 0:
        return
    whole = read_results(r.path("whole.h5"))
    for phase in ("start", "start@1", "mpi", "configured"):
        out = f"sig-{phase.replace('@', '-')}.h5"
        rc, err = run(r, "run", cfg, "-o", out, np_=2, env={"NEUREP_TEST_STOP_AT": phase})
        r.check(rc == 75, f"SIGUSR1 at phase {phase}: exit 75 (got {rc}) {err.strip()[-200:]}")
        ok, status = readable(r.path(out)) if os.path.exists(r.path(out)) else (False, "no file")
        r.check(ok and status == b"interrupted", f"  the file says interrupted ({status})")
        rc, err = run(r, "run", cfg, "-o", out, "-q", "--resume", np_=2)
        again = read_results(r.path(out)) if rc == 0 else {"test_error": None}
        r.check(rc == 0 and np.array_equal(again["test_error"], whole["test_error"]),
                f"  --resume completes with the rows of an uninterrupted run (rc {rc})")
    # The Taylor model checkpoints inside its point: the signal from before MPI_Init stops it there.
    tcfg = r.write("taylor.toml", TAYLOR)
    rc, err = run(r, "run", tcfg, "-o", "tsig.h5", "-q", np_=2, env={"NEUREP_TEST_STOP_AT": "start"})
    r.check(rc == 75, f"Taylor, SIGUSR1 before MPI_Init: exit 75 (got {rc}) {err.strip()[-200:]}")


def never_nan_with_ok(r):
    """Numbers the input checks cannot refuse (a target of 1e200, not normalised, overflows the
    error sums): the row says so in its status instead of a NaN or inf error with status ok."""
    cfg = r.write("small.toml", SMALL)
    rc, err = run(r, "run", cfg, "-o", "huge.h5", "-q", "--set", "data.coefficients=[1e200]",
                  "--set", "data.normalize=false", np_=2)
    r.check(rc == 0, f"an overflowing target: the sweep goes on (rc {rc}) {err.strip()[:200]}")
    if rc == 0:
        res = read_results(r.path("huge.h5"))
        bad = [(e, s) for e, s in zip(res["test_error"], res["status"]) if not np.isfinite(e) and s == "ok"]
        r.check(not bad and "non-finite" in set(res["status"]),
                f"  no non-finite error with status ok (statuses {sorted(set(res['status']))})")


def main():
    r = Runner(parse_args())
    never_nan_with_ok(r)
    rank_agreement(r)
    long_names(r)
    early_signals(r)
    r.finish()


if __name__ == "__main__":
    main()
