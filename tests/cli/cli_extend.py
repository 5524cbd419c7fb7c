"""neurep run --extend: a results file grown to a configuration that adds values
to the sweep (n, seeds, d, ridges, Taylor candidates) ends as one run of the
larger sweep writes it — every /results column but the wall-clock ones, the
/curves and the /data files bit for bit, rows in the same order — and the
points the earlier file had are not computed again (run.log: no point_done for
them; a kernel point whose ridge list grew, and a refit whose candidates grew,
are computed again, as documented). The file's /config becomes the larger
configuration and its `history` attribute records each extension. Any other
change is refused with one line naming each key, old -> new (exit 2, the file's
bytes unchanged), and so is dropping a value, --extend on a missing file and
--extend with --overwrite; an extension that adds nothing does nothing (exit 0).
At 1, 2 and 4 ranks (the comparisons are on the same number of ranks: bit
for bit holds on one grid)."""
import json
import os
import shutil
import subprocess

import h5py
import numpy as np

from common import Runner, parse_args, read_results, run_checks

KERNEL = """
[data]
dim = 6
degrees = [2]
n_test = 200
noise = 0.1
[learner]
kind = "kernel"
kernel = "ntk"
ridge = {ridge}
ridge_selection = "validation"
validation_fraction = 0.25
[sweep]
dims = {dims}
n_train = {n_train}
seeds = {seeds}
[run]
save_data = true
log = "{log}"
"""

TAYLOR = """
[data]
dim = 5
degrees = [2]
n_test = 150
[learner]
kind = "taylor"
order = 2
m = 8
learning_rate = {rates}
steps = 60
eval_every = 20
validation_fraction = 0.25
refit = {refit}
[sweep]
n_train = {n_train}
seeds = 1
[run]
log = "{log}"
"""


def done_points(r, log):
    """The points a run computed, from its run.log (point_done events)."""
    with open(r.path(log)) as f:
        return [e["point"] for e in map(json.loads, f) if e["event"] == "point_done"]


def same_results(a, b):
    """Every /results column but the wall-clock ones (seconds*), bit for bit (a NaN only where the other has one)."""
    ra, rb = read_results(a), read_results(b)
    cols = sorted(k for k in ra if not k.startswith("seconds"))
    if cols != sorted(k for k in rb if not k.startswith("seconds")):
        return f"columns differ: {sorted(set(ra) ^ set(rb))}"
    for k in cols:
        x, y = ra[k], rb[k]
        same = x.shape == y.shape and (np.array_equal(x, y) if x.dtype.kind in "USO" else
                                       np.array_equal(x, y, equal_nan=True))
        if not same:
            return f"column {k}: {x} vs {y}"
    return ""


def same_curves(a, b):
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        ca, cb = fa.get("curves"), fb.get("curves")
        if (ca is None) != (cb is None):
            return "one file has /curves, the other not"
        if ca is None:
            return ""
        if sorted(ca) != sorted(cb):
            return f"curve names {sorted(ca)} vs {sorted(cb)}"
        for name in ca:
            for k in ca[name]:
                if not np.array_equal(ca[name][k][()], cb[name][k][()], equal_nan=True):
                    return f"curve {name}/{k} differs"
            for k in ("d", "n", "seed"):
                if ca[name].attrs[k] != cb[name].attrs[k]:
                    return f"curve {name} attribute {k} differs"
    return ""


def same_data(r, a, b):
    """The /data files of two outputs: the same names, inputs, labels and features."""
    da, db = r.path(a + ".data"), r.path(b + ".data")
    names = sorted(os.listdir(da))
    if names != sorted(os.listdir(db)):
        return f"data files {names} vs {sorted(os.listdir(db))}"
    for name in names:
        with h5py.File(os.path.join(da, name), "r") as fa, h5py.File(os.path.join(db, name), "r") as fb:
            for k in fb:
                if k not in fa or not np.array_equal(fa[k][()], fb[k][()]):
                    return f"{name}/{k} differs"
    return ""


def config_text(path):
    with h5py.File(path, "r") as f:
        return f["config/toml"][()].decode(), f.attrs.get("history", b"").decode() if isinstance(
            f.attrs.get("history", b""), bytes) else f.attrs.get("history", "")


def file_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def kernel_case(r, np_):
    tag = f"k{np_}"
    a = r.write(f"{tag}_a.toml", KERNEL.format(ridge="[1e-6]", dims="[6]", n_train="[40, 80]", seeds=1,
                                               log=f"{tag}_a.jsonl"))
    # B1: more n (one of them smaller than the others), another seed, another d, listed out of order.
    b1 = r.write(f"{tag}_b1.toml", KERNEL.format(ridge="[1e-6]", dims="[6, 8]", n_train="[30, 40, 80, 120]",
                                                 seeds=2, log=f"{tag}_b1.jsonl"))
    # B: B1 with another ridge.
    b = r.write(f"{tag}_b.toml", KERNEL.format(ridge="[1e-6, 1e-3]", dims="[6, 8]", n_train="[30, 40, 80, 120]",
                                               seeds=2, log=f"{tag}_b.jsonl"))
    out = f"{tag}.h5"
    rc, _, err = r.run("run", a, "-o", out, "-q", np_=np_)
    r.check(rc == 0, f"{np_} ranks: kernel sweep A (rc {rc}) {err.strip()[:200]}")

    rc, _, err = r.run("run", b1, "-o", out, "-q", "--extend", np_=np_)
    r.check(rc == 0, f"{np_} ranks: --extend A to more n, seeds and d (rc {rc}) {err.strip()[:300]}")
    computed = done_points(r, f"{tag}_b1.jsonl")
    r.check(len(computed) == 2 * 2 * 4 - 2 and not {"d6_n40_s0", "d6_n80_s0"} & set(computed),
            f"{np_} ranks: the extension computed the 14 new points and not A's 2 ({sorted(computed)})")
    shutil.copy(r.path(out), r.path(f"{tag}_b1_extended.h5"))
    rc, _, err = r.run("run", b1, "-o", f"{tag}_b1_fresh.h5", "-q", "--set", 'run.log=""', np_=np_)
    r.check(rc == 0, f"{np_} ranks: fresh run of B1 (rc {rc}) {err.strip()[:200]}")
    diff = same_results(r.path(out), r.path(f"{tag}_b1_fresh.h5"))
    r.check(not diff, f"{np_} ranks: A extended to B1 equals one run of B1, bit for bit, rows in order {diff}")
    diff = same_data(r, out, f"{tag}_b1_fresh.h5")
    r.check(not diff, f"{np_} ranks: the /data files (n_max 80 -> 120: written again) equal the fresh run's {diff}")

    rc, _, err = r.run("run", b, "-o", out, "-q", "--extend", np_=np_)
    r.check(rc == 0, f"{np_} ranks: --extend B1 with another ridge (rc {rc}) {err.strip()[:300]}")
    computed = done_points(r, f"{tag}_b.jsonl")
    r.check(len(computed) == 16, f"{np_} ranks: a new ridge computes every kernel point again, all ridges "
                                 f"together ({len(computed)} of 16)")
    rc, _, err = r.run("run", b, "-o", f"{tag}_b_fresh.h5", "-q", "--set", 'run.log=""', np_=np_)
    r.check(rc == 0, f"{np_} ranks: fresh run of B (rc {rc}) {err.strip()[:200]}")
    diff = same_results(r.path(out), r.path(f"{tag}_b_fresh.h5"))
    r.check(not diff, f"{np_} ranks: A extended to B1 then B equals one run of B, bit for bit {diff}")
    toml, history = config_text(r.path(out))
    fresh_toml, _ = config_text(r.path(f"{tag}_b_fresh.h5"))
    lines = history.strip().splitlines()
    r.check(toml.replace(f"{tag}_b.jsonl", "") == fresh_toml and len(lines) == 3 and "created by" in lines[0]
            and "extended by" in lines[1] and "sweep.n_train: [ 40, 80 ] -> [ 30, 40, 80, 120 ]" in lines[1]
            and "learner.ridge: [ 1e-06 ] -> [ 1e-06, 0.001 ]" in lines[2],
            f"{np_} ranks: /config is B's, the history has the creation and both extensions {lines}")
    return out, b


def taylor_case(r, np_, refit):
    tag = f"t{np_}{'r' if refit else ''}"
    cfg = lambda name, rates, n: r.write(f"{tag}_{name}.toml", TAYLOR.format(  # noqa: E731
        rates=rates, refit=str(refit).lower(), n_train=n, log=f"{tag}_{name}.jsonl"))
    a = cfg("a", "[0.1]", "[40]")
    # B: a candidate before A's (A's is renumbered 0 -> 1) and another n.
    b = cfg("b", "[0.05, 0.1]", "[40, 60]")
    out = f"{tag}.h5"
    rc, _, err = r.run("run", a, "-o", out, "-q", np_=np_)
    r.check(rc == 0, f"{np_} ranks: Taylor sweep A (refit {refit}) (rc {rc}) {err.strip()[:200]}")
    rc, _, err = r.run("run", b, "-o", out, "-q", "--extend", np_=np_)
    r.check(rc == 0, f"{np_} ranks: --extend with a learning rate and an n (rc {rc}) {err.strip()[:300]}")
    computed = done_points(r, f"{tag}_b.jsonl")
    expect = {"d5_n40_s0_c0", "d5_n60_s0_c0", "d5_n60_s0_c1"} | (
        {"d5_n40_s0_refit", "d5_n60_s0_refit"} if refit else set())
    r.check(sorted(computed) == sorted(expect),
            f"{np_} ranks: only the new candidates and n computed (and the refits of grown candidates) {computed}")
    rc, _, err = r.run("run", b, "-o", f"{tag}_fresh.h5", "-q", "--set", 'run.log=""', np_=np_)
    r.check(rc == 0, f"{np_} ranks: fresh run of the larger Taylor sweep (rc {rc}) {err.strip()[:200]}")
    diff = same_results(r.path(out), r.path(f"{tag}_fresh.h5")) or same_curves(r.path(out), r.path(f"{tag}_fresh.h5"))
    r.check(not diff, f"{np_} ranks: Taylor (refit {refit}) extended equals one run, /results and /curves {diff}")
    return out, b


def run_stopped(r, *args, np_=1):
    """Runs neurep with the test hook that raises SIGUSR1 once configured: a run stops (75) at its
    first safe point, inside an iterative point (its checkpoint committed) or after a kernel point."""
    cmd = [r.neurep, *args]
    if np_ > 1:
        cmd = [r.mpiexec, "-n", str(np_), "--oversubscribe", *cmd]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=r.tmp,
                       env={**os.environ, "NEUREP_TEST_STOP_AT": "configured"})
    return p.returncode, p.stderr


def interrupted_case(r, np_):
    """An interrupted file extended (its checkpoint renamed to the point's new name and continued, or
    its point started again when a new point runs first), and an interrupted extension continued with
    --resume: still one run of the larger sweep."""
    tag = f"i{np_}"
    cfg = lambda name, rates, n: r.write(f"{tag}_{name}.toml", TAYLOR.format(  # noqa: E731
        rates=rates, refit="false", n_train=n, log=f"{tag}_{name}.jsonl"))
    # B's new candidate after A's: A's point, d5_n40_s0, is d5_n40_s0_c0 in B and runs first.
    a, b = cfg("a", "[0.1]", "[40]"), cfg("b", "[0.1, 0.2]", "[40, 60]")
    out = f"{tag}.h5"
    rc, err = run_stopped(r, "run", a, "-o", out, "-q", np_=np_)
    with h5py.File(r.path(out), "r") as f:
        point = f["checkpoint"].attrs["point"] if "checkpoint" in f else b""
    point = point.decode() if isinstance(point, bytes) else point
    r.check(rc == 75 and point == "d5_n40_s0", f"{np_} ranks: Taylor A stopped inside its point, checkpoint "
                                               f"{point!r} (rc {rc}) {err.strip()[:200]}")
    rc, err = run_stopped(r, "run", b, "-o", out, "-q", "--extend", np_=np_)
    with h5py.File(r.path(out), "r") as f:
        point = f["checkpoint"].attrs["point"] if "checkpoint" in f else b""
    point = point.decode() if isinstance(point, bytes) else point
    r.check(rc == 75 and point == "d5_n40_s0_c0",
            f"{np_} ranks: --extend of the interrupted file, itself stopped: A's point continues as d5_n40_s0_c0 "
            f"({point!r}, rc {rc}) {err.strip()[:200]}")
    rc, _, err = r.run("run", b, "-o", out, "-q", "--resume", np_=np_)
    r.check(rc == 0, f"{np_} ranks: the extension continued with --resume (rc {rc}) {err.strip()[:200]}")
    with open(r.path(f"{tag}_b.jsonl")) as f:
        events = [json.loads(line) for line in f]
    first = [e["step"] for e in events if e["event"] == "evaluation" and e["point"] == "d5_n40_s0_c0"]
    r.check(bool(first) and first[0] > 0, f"{np_} ranks: the renamed point continued from A's checkpoint "
                                          f"(its first evaluation in the extension's log: step {first[:1]})")
    rc, _, err = r.run("run", b, "-o", f"{tag}_fresh.h5", "-q", "--set", 'run.log=""', np_=np_)
    diff = same_results(r.path(out), r.path(f"{tag}_fresh.h5")) or same_curves(r.path(out), r.path(f"{tag}_fresh.h5"))
    r.check(rc == 0 and not diff, f"{np_} ranks: interrupted, extended, interrupted, resumed: one run of B {diff}")

    # A candidate before A's: a new point runs first, its commit leaves A's checkpoint out of the file,
    # so A's point (now d5_n40_s0_c1) starts again: the extension completes, equal to one run.
    c = cfg("c", "[0.05, 0.1]", "[40]")
    out = f"{tag}c.h5"
    rc, err = run_stopped(r, "run", a, "-o", out, "-q", np_=np_)
    r.check(rc == 75, f"{np_} ranks: Taylor A stopped inside its point (rc {rc}) {err.strip()[:200]}")
    rc, _, err = r.run("run", c, "-o", out, "-q", "--extend", np_=np_)
    r.check(rc == 0, f"{np_} ranks: --extend of the interrupted file with a candidate before A's (rc {rc}) "
                     f"{err.strip()[:200]}")
    rc, _, err = r.run("run", c, "-o", f"{tag}c_fresh.h5", "-q", "--set", 'run.log=""', np_=np_)
    diff = same_results(r.path(out), r.path(f"{tag}c_fresh.h5")) or same_curves(r.path(out), r.path(f"{tag}c_fresh.h5"))
    r.check(rc == 0 and not diff, f"{np_} ranks: interrupted A's point run again after the new one: one run {diff}")


def refusals(r, out, b, taylor_out, taylor_b):
    before = file_bytes(r.path(out))
    for cfg, path, sets, key in [
            (b, out, ["--set", "data.degrees=[3]"], "data.degrees: [ 2 ] -> [ 3 ]"),
            (b, out, ["--set", "data.noise=0.2"], "data.noise: 0.1 -> 0.2"),
            (b, out, ["--set", "sweep.dims=[]", "--set", "data.dim=7"], "sweep.dims: [ 6, 8 ] -> [ 7 ] (drops 6, 8;"),
            (b, out, ["--set", "sweep.n_train=[40, 80, 120]"], "sweep.n_train: [ 30, 40, 80, 120 ] -> [ 40, 80, 120 ] "
                                                                "(drops 30;"),
            (b, out, ["--set", "learner.kernel=nngp", "--set", "data.n_test=300"],
             "data.n_test: 200 -> 300; learner.kernel: \"ntk\" -> \"nngp\""),
            (taylor_b, taylor_out, ["--set", "learner.activation=relu2"],
             "learner.activation: \"quadratic\" -> \"relu2\"")]:
        keep = file_bytes(r.path(path))
        rc, outp, err = r.run("run", cfg, "-o", path, "--extend", *sets)
        lines = err.strip().splitlines()
        r.check(rc == 2 and len(lines) == 1 and "--extend with a configuration that changes more than the sweep's "
                "extent" in lines[0] and key in lines[0] and file_bytes(r.path(path)) == keep,
                f"refused: {' '.join(sets)}: exit 2, one line naming {key!r}, the file unchanged (rc {rc}) {err.strip()!r}")
    rc, _, err = r.run("run", b, "-o", "missing.h5", "--extend")
    r.check(rc == 2 and "--extend needs the results file to extend" in err and not os.path.exists(r.path("missing.h5")),
            f"--extend on a missing file: exit 2, nothing written (rc {rc}) {err.strip()!r}")
    rc, _, err = r.run("run", b, "-o", out, "--extend", "--overwrite")
    r.check(rc == 2 and file_bytes(r.path(out)) == before, f"--extend with --overwrite: exit 2 (rc {rc}) {err.strip()!r}")
    rc, _, err = r.run("run", b, "-o", out, "--extend")
    r.check(rc == 0 and "adds nothing to its sweep: nothing to do" in err and file_bytes(r.path(out)) == before,
            f"--extend with the same configuration: exit 0, says so, the file unchanged (rc {rc}) {err.strip()!r}")


def main():
    r = Runner(parse_args())
    ranks = [int(x) for x in os.environ.get("NEUREP_EXTEND_RANKS", "1 2 4").split()]
    for np_ in ranks:
        out, b = kernel_case(r, np_)
        taylor_case(r, np_, refit=True)
        if np_ <= 2:
            taylor_out, taylor_b = taylor_case(r, np_, refit=False)
            interrupted_case(r, np_)
    refusals(r, out, b, taylor_out, taylor_b)
    r.finish()


if __name__ == "__main__":
    run_checks(main)
