"""Each class of bad input (DESIGN 5) gets exit status 2, one clear line naming
the problem, and no file created or changed."""
import os

from common import Runner, parse_args, run_checks

GOOD = """
[data]
dim = 5
n_test = 100
[sweep]
n_train = [40]
seeds = 1
"""


def snapshot(folder):
    out = {}
    for root, _, files in os.walk(folder):
        for f in files:
            p = os.path.join(root, f)
            st = os.stat(p)
            out[p] = (st.st_size, st.st_mtime_ns)
    return out


def main():
    args = parse_args()
    r = Runner(args)
    good = r.write("good.toml", GOOD)

    def expect_bad(label, argv, needle, np_=1):
        before = snapshot(r.tmp)
        rc, out, err = r.run(*argv, np_=np_)
        # mpiexec adds its own banner about the non-zero exit; neurep's words are ours to judge.
        lines = [l for l in err.splitlines() if l.strip()]
        if np_ > 1:
            lines = [l for l in lines if l.startswith("neurep")]
        r.check(rc == 2, f"{label}: exit status 2 (got {rc})")
        r.check(len(lines) == 1, f"{label}: one line of error (got {len(lines)}: {err.strip()[:300]!r})")
        r.check(needle in err, f"{label}: message names {needle!r}")
        r.check(snapshot(r.tmp) == before, f"{label}: no file created or changed")

    expect_bad("missing config", ["run", "nope.toml", "-o", "o.h5"], "nope.toml")
    expect_bad("malformed TOML", ["run", r.write("bad.toml", "[data\ndim = 3\n"), "-o", "o.h5"], "not valid TOML")
    expect_bad("mistyped key", ["run", r.write("typo.toml", "[data]\ndimm = 3\n"), "-o", "o.h5"], "data.dim")
    expect_bad("wrong type", ["run", good, "-o", "o.h5", "--set", "data.n_test=\"many\""], "data.n_test")
    expect_bad("out of range", ["run", good, "-o", "o.h5", "--set", "data.noise=-1"], "data.noise")
    expect_bad("unknown name", ["run", good, "-o", "o.h5", "--set", "learner.kernel=rbf"], "ntk-full")
    expect_bad("impossible combination", ["run", good, "-o", "o.h5", "--set", "representation.kind=random",
                                          "--set", "representation.infinite=true"], "zca")
    expect_bad("ridge validation without a split", ["run", good, "-o", "o.h5", "--set", "learner.ridge_selection=\"validation\""],
               "learner.validation_fraction")
    expect_bad("a key of another learner", ["run", r.write("steps.toml", GOOD + "[learner]\nsteps = 10\n"), "-o", "o.h5"],
               "learner.steps: applies only with learner.kind = \"taylor\"")
    expect_bad("a key of another representation",
               ["run", r.write("width.toml", GOOD + "[representation]\nwidth = 64\n"), "-o", "o.h5"],
               "representation.width: applies only with representation.kind = \"random\"")
    expect_bad("malformed --set", ["run", good, "-o", "o.h5", "--set", "dim=3"], "section.key=value")
    expect_bad("grid that does not fit the ranks", ["run", good, "-o", "o.h5", "--set", "run.grid=\"3x3\""],
               "run.grid", np_=2)
    expect_bad("memory beyond the machine", ["run", good, "-o", "o.h5", "--set", "sweep.n_train=[2000000]"],
               "memory")
    expect_bad("missing output folder", ["run", good, "-o", "no/such/dir/o.h5"], "does not exist")

    # Input that once got through (a whole default sweep, NaN errors with
    # status ok, std::bad_alloc, a segfault, a stray FILE.tmp).
    os.makedirs(r.path("configs"), exist_ok=True)
    expect_bad("a folder as CONFIG", ["run", r.path("configs"), "-o", "o.h5"], "a folder")
    expect_bad("infinite noise", ["run", good, "-o", "o.h5", "--set", "data.noise=inf"], "data.noise")
    expect_bad("NaN ridge", ["run", good, "-o", "o.h5", "--set", "learner.ridge=[nan]"], "learner.ridge")
    expect_bad("a zero target without normalisation", ["run", good, "-o", "o.h5", "--set", "data.coefficients=[0.0]",
                                                       "--set", "data.normalize=false"], "data.coefficients")
    expect_bad("a constant target", ["run", good, "-o", "o.h5", "--set", "data.degrees=[0]"], "data.coefficients")
    expect_bad("a test set beyond memory", ["run", good, "-o", "o.h5", "--set", "data.n_test=1000000000"], "data.n_test")
    expect_bad("a network beyond memory", ["run", good, "-o", "o.h5", "--set", "learner.kind=\"taylor\"",
                                           "--set", "learner.m=100000000"], "learner.m")
    deep = "(" * 5000 + "1" + ")" * 5000
    for width, needle in (("d-6", "representation.width"), ("1/0", "representation.width"),
                          ("d^100", "representation.width"), ("d/2", "whole number"), ("2.5", "whole number"),
                          (deep, "nested too deeply")):
        for cmd in ("check", "run"):
            argv = [cmd, good, "--set", "representation.kind=\"random\"", "--set", f"representation.width=\"{width}\""]
            expect_bad(f"{cmd} with width {width[:12]!r}", argv + (["-o", "o.h5"] if cmd == "run" else []), needle)
    expect_bad("learner.m not whole", ["check", good, "--set", "learner.kind=\"taylor\"",
                                       "--set", "learner.m=\"d/2\""], "learner.m")
    for grid in ("1x2x3", "x2", "2x", "-1x-2", "0x4"):
        expect_bad(f"check with grid {grid!r}", ["check", good, "--set", f"run.grid=\"{grid}\""], "run.grid")
    os.makedirs(r.path("outdir"), exist_ok=True)
    expect_bad("a folder as output, --overwrite", ["run", good, "-o", "outdir", "--overwrite"], "folder")
    expect_bad("a folder as output, --resume", ["run", good, "-o", "outdir", "--resume"], "folder")
    expect_bad("an output name too long for the file system", ["run", good, "-o", "o" * 252 + ".h5"], "limit of")

    # A finished run, then everything that must not touch it.
    rc, _, err = r.run("run", good, "-o", "done.h5", "-q", np_=2)
    r.check(rc == 0, f"a good run succeeds (rc {rc}: {err.strip()[:200]})")
    expect_bad("existing output", ["run", good, "-o", "done.h5"], "--resume")
    expect_bad("--resume with another configuration", ["run", good, "-o", "done.h5", "--resume",
                                                       "--set", "data.dim=6"], "different configuration")
    expect_bad("--resume names what changed", ["run", good, "-o", "done.h5", "--resume", "--set", "data.dim=6",
                                               "--set", "data.noise=0.25"], "data.dim: 5 -> 6; data.noise: 0.0 -> 0.25")
    expect_bad("--resume and --overwrite", ["run", good, "-o", "done.h5", "--resume", "--overwrite"], "overwrite")
    expect_bad("info on a text file", ["info", good], "not an HDF5 file")
    expect_bad("info on a missing file", ["info", "absent.h5"], "no such file")

    # check: valid prints the resolved configuration, invalid is status 2.
    rc, out, _ = r.run("check", good)
    r.check(rc == 0 and "[learner]" in out and "ridge" in out, "check prints the resolved configuration")
    expect_bad("check on a bad file", ["check", r.path("typo.toml")], "data.dim")
    # A --set that does not apply (a campaign passes the same ones to all its configurations) is not
    # silently ignored: a note names it, and check (which lists the keys of the chosen kinds) leaves it out.
    rc, out, err = r.run("check", good, "--set", "learner.steps=10")
    r.check(rc == 0 and "note: --set learner.steps: applies only with learner.kind = \"taylor\"; ignored" in err
            and "\nsteps = " not in out, f"a --set of another learner's key is a note (rc {rc}: {err.strip()[:200]})")
    rc, out, _ = r.run("check", "--help-config")
    r.check(rc == 0 and out.count(" = ") >= 40 and "# " in out, "--help-config lists every key with a description")
    # Issue 17: the iterative solvers' keys.
    expect_bad("tolerance 0", ["run", good, "-o", "o.h5", "--set", "learner.solver=\"mixed\"", "--set", "learner.tolerance=0"],
               "learner.tolerance: 0 must be above 0")
    expect_bad("negative tolerance", ["run", good, "-o", "o.h5", "--set", "learner.solver=\"pcg\"", "--set", "learner.tolerance=-1e-8"],
               "learner.tolerance: -1e-08 is out of range")
    expect_bad("preconditioner rank above n", ["run", good, "-o", "o.h5", "--set", "learner.solver=\"pcg\"",
                                               "--set", "learner.preconditioner_rank=41"], "learner.preconditioner_rank: 41 exceeds n = 40")
    expect_bad("mixed solver in single precision", ["run", good, "-o", "o.h5", "--set", "learner.solver=\"mixed\"",
                                                    "--set", "run.precision=\"single\""], "learner.solver: \"mixed\" computes a double-precision answer")
    r.finish()


if __name__ == "__main__":
    run_checks(main)
