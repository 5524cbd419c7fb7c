"""A full disk: on 1 and 2 ranks the commit that does not fit ends the run
with one line naming the file and the cause, exit 3, the previous generation
of the file intact (readable, its rows), no FILE.tmp left; once space is
freed, --resume completes the sweep with the rows of an uninterrupted run.
The data files of run.save_data (written collectively through MPI-IO) give
the same one line and exit 3, their partial file removed.

The disk is a small tmpfs mounted for the test, sized from the run itself
(1.5 times the file of the first commit: the first commit fits, the second
needs room for the old and the new file at once and does not). Mounting needs
root; where it is impossible the test is skipped (exit 77) with the reason."""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from common import Runner, parse_args, read_results

CONFIG = """
[data]
dim = 4
n_test = 100
[sweep]
n_train = [40, 60, 80]
seeds = 1
"""


def run(r, *args, np_=1):
    """(rc, stderr); rc None when it had to be killed (a hang is a failed check, not a traceback)."""
    try:
        rc, _, err = r.run(*args, np_=np_, timeout=240)
        return rc, err
    except subprocess.TimeoutExpired:
        return None, "(killed after 240 s)"


def sh(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def main():
    r = Runner(parse_args())
    cfg = r.write("disk.toml", CONFIG)
    # Reference: the whole sweep, and the size of a file of one row.
    rc, _, err = r.run("run", cfg, "-o", "whole.h5", "-q")
    r.check(rc == 0, f"a reference run (rc {rc}) {err.strip()[:200]}")
    whole = read_results(r.path("whole.h5"))
    size = os.path.getsize(r.path("whole.h5"))

    mnt = tempfile.mkdtemp(prefix="neurep-disk-")
    kib = (size * 3 // 2) // 1024 + 4  # one file and a half, plus FILE.lock's page
    p = sh("mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", mnt)
    if p.returncode != 0:
        print(f"SKIP: cannot mount a small tmpfs to fill ({p.stderr.strip()}); needs root", flush=True)
        os.rmdir(mnt)
        sys.exit(77)
    try:
        for np_ in (1, 2):
            out = os.path.join(mnt, f"full{np_}.h5")
            rc, err = run(r, "run", cfg, "-o", out, "-q", np_=np_)
            lines = [l for l in err.splitlines() if l.startswith("neurep")]
            r.check(rc == 3, f"{np_} rank(s), disk full at the second commit: exit 3 (got {rc}; None = hung)")
            r.check(len(lines) == 1 and "No space left on device" in err and out in err,
                    f"  one line naming the file and the cause (got {lines})")
            r.check(not os.path.exists(out + ".tmp"), "  no FILE.tmp left behind")
            first = read_results(out) if os.path.exists(out) else {"n": []}
            r.check(list(first["n"]) == [40], f"  the previous generation intact: one row, n = 40 (got {list(first['n'])})")
            # Free space: a bigger disk, same files.
            sh("mount", "-o", f"remount,size={kib * 4}k", mnt)
            rc, err = run(r, "run", cfg, "-o", out, "-q", "--resume", np_=np_)
            r.check(rc == 0, f"  --resume once space is freed completes (rc {rc}) {err.strip()[:200]}")
            if rc == 0:
                done = read_results(out)
                r.check(np.allclose(done["test_error"], whole["test_error"], rtol=1e-10, atol=0),
                        "  with the rows of an uninterrupted run")
            for f in os.listdir(mnt):
                os.remove(os.path.join(mnt, f))
            sh("mount", "-o", f"remount,size={kib}k", mnt)
        # The data files of run.save_data are written collectively through MPI-IO: a full disk there
        # is agreed over the ranks too (no hang), the partial data file removed.
        for np_ in (1, 2):
            out = os.path.join(mnt, f"data{np_}.h5")
            rc, err = run(r, "run", cfg, "-o", out, "-q", "--set", "run.save_data=true", "--set", "data.n_test=20000",
                          np_=np_)
            lines = [l for l in err.splitlines() if l.startswith("neurep")]
            r.check(rc == 3 and len(lines) == 1 and "cannot write the data file" in err,
                    f"{np_} rank(s), disk full writing a data file: exit 3, one line (got {rc}; {lines})")
            left = [f for _, _, fs in os.walk(mnt) for f in fs if f.endswith(".tmp")]
            r.check(not left, f"  no partial data file left ({left})")
    finally:
        sh("umount", mnt)
        shutil.rmtree(mnt, ignore_errors=True)
    r.finish()


if __name__ == "__main__":
    main()
