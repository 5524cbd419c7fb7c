"""Shared plumbing of the command-line tests: argument parsing, running neurep
under mpiexec, reading /results with h5py, and a failure that names the check."""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np


def parse_args():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--neurep", required=True, help="the neurep executable")
    p.add_argument("--mpiexec", default="mpiexec")
    p.add_argument("--source", required=True, help="the source tree")
    return p.parse_args()


class Runner:
    def __init__(self, args):
        self.neurep = os.path.abspath(args.neurep)
        self.mpiexec = args.mpiexec
        self.source = args.source
        self.tmp = tempfile.mkdtemp(prefix="neurep-cli-")
        self.failures = 0

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write(self, name, text):
        with open(self.path(name), "w") as f:
            f.write(text)
        return self.path(name)

    def run(self, *args, np_=1, extra_mpi=(), timeout=600):
        """Runs neurep: directly for one rank (as users run check and info), else under mpiexec."""
        cmd = [self.neurep, *args]
        if np_ > 1:
            cmd = [self.mpiexec, "-n", str(np_), "--oversubscribe", *extra_mpi, *cmd]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.tmp)
        return p.returncode, p.stdout, p.stderr

    def check(self, ok, what):
        print(("ok   " if ok else "FAIL ") + what, flush=True)
        if not ok:
            self.failures += 1

    def finish(self):
        print(f"{self.failures} failed", flush=True)
        if not self.failures:
            shutil.rmtree(self.tmp, ignore_errors=True)
        sys.exit(1 if self.failures else 0)


def read_results(path):
    with h5py.File(path, "r") as f:
        r = f["results"]
        out = {k: r[k][()] for k in r.keys()}
    for k, v in out.items():
        if v.dtype.kind == "S":
            out[k] = np.array([s.decode() for s in v])
    return out


def run_checks(main):
    """Runs a test's main(runner-using) function so that an unexpected exception (a file that is
    missing, a column that is not there) reports as a failed check naming it, not as a traceback
    that ends the test without its summary."""
    try:
        main()
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001 - every unexpected error is a failed check
        import traceback
        where = traceback.extract_tb(e.__traceback__)[-1]
        print(f"FAIL unexpected {type(e).__name__} at {os.path.basename(where.filename)}:{where.lineno}: {e}",
              flush=True)
        print("1 failed (at least; the checks after it did not run)", flush=True)
        sys.exit(1)
