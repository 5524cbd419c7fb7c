#!/usr/bin/env bash
# Test double of `neurep run` for the job-script tests ONLY: it mimics the
# command-line, exit-status, signal and resume contract of the real program
# (DESIGN 3.1, 3.3, 5) so jobs/local and jobs/slurm can be tested without
# the C++ build. It computes nothing: each sweep point "takes"
# $NEUREP_FAKE_SECONDS (default 1) and gets a made-up but deterministic
# test_error, so an interrupted-and-resumed run and an uninterrupted run give
# identical files.
#
#   fake_neurep.sh run CONFIG.toml -o OUT.h5 [--set section.key=value]... [--resume | --overwrite]
#
# Contract mimicked:
#   exit 0   sweep complete (also: --resume of an already complete file)
#   exit 2   bad input; OUT is not created or changed (missing/unreadable
#            CONFIG, bad --set, OUT exists without --resume/--overwrite,
#            --resume of a file written from another configuration)
#   exit 75  SIGUSR1 or SIGTERM received: the point in progress is dropped,
#            finished points are kept, rerun with --resume to continue
# The points are the product dims x seeds x n_train x ridge from the TOML
# ([sweep] dims (default [data.dim]), n_train, seeds = count or list,
# [learner] ridge). OUT is HDF5 written with h5py: /results/<column> 1-D
# datasets (d, n, seed, ridge, learner, input, test_error, train_error,
# seconds, flops, status), root attribute `status`
# (running|interrupted|complete), /config attribute `resolved`, and
# /checkpoint attribute `position`. Every update replaces the file
# atomically (write a temporary file, then rename). Only MPI rank 0 writes;
# the other ranks sleep through the same points and obey the same signals.
exec /usr/bin/python3 - "$@" <<'PY'
import hashlib, json, os, signal, sys, time, tomllib

USAGE = "usage: fake_neurep.sh run CONFIG.toml -o OUT.h5 [--set section.key=value]... [--resume | --overwrite]"

def bad_input(msg):
    print(f"neurep(fake): error: {msg}", file=sys.stderr)
    sys.exit(2)

stop_signal = 0
def on_signal(signum, frame):
    global stop_signal
    stop_signal = signum
signal.signal(signal.SIGUSR1, on_signal)
signal.signal(signal.SIGTERM, on_signal)

args = sys.argv[1:]
if not args or args[0] != "run":
    bad_input(USAGE)
args = args[1:]
config_path = out = None
sets, resume, overwrite = [], False, False
i = 0
while i < len(args):
    a = args[i]
    if a == "-o" and i + 1 < len(args):
        out = args[i + 1]; i += 2; continue
    if a == "--set" and i + 1 < len(args):
        sets.append(args[i + 1]); i += 2; continue
    if a == "--resume":
        resume = True
    elif a == "--overwrite":
        overwrite = True
    elif a.startswith("-") or config_path is not None:
        bad_input(f"unexpected argument '{a}'\n{USAGE}")
    else:
        config_path = a
    i += 1
if config_path is None or out is None:
    bad_input(USAGE)
if resume and overwrite:
    bad_input("--resume and --overwrite exclude each other")
try:
    with open(config_path, "rb") as f:
        cfg = tomllib.load(f)
except (OSError, tomllib.TOMLDecodeError) as e:
    bad_input(f"cannot read configuration '{config_path}': {e}")
for s in sets:
    key, eq, value = s.partition("=")
    section, dot, name = key.partition(".")
    if not eq or not dot or not name:
        bad_input(f"--set expects section.key=value, got '{s}'")
    try:
        cfg.setdefault(section, {})[name] = tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        bad_input(f"--set {key}: '{value}' is not a TOML value")

data, sweep, learner, run = (cfg.get(k, {}) for k in ("data", "sweep", "learner", "run"))
dims = sweep.get("dims") or [data.get("dim", 16)]
n_train = sweep.get("n_train", [256, 512, 1024])
seeds = sweep.get("seeds", 3)
seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
ridges = learner.get("ridge", [1e-6])
ridges = ridges if isinstance(ridges, list) else [ridges]
kind = learner.get("kind", "kernel")
inp = "h" if cfg.get("representation", {}).get("kind", "none") != "none" else "x"
master = run.get("seed", 2020)
points = [(d, n, s, r) for d in dims for s in seeds for n in n_train for r in ridges]
resolved = json.dumps(cfg, sort_keys=True, default=str)

rank = int(os.environ.get("OMPI_COMM_WORLD_RANK", os.environ.get("PMIX_RANK", os.environ.get("SLURM_PROCID", "0"))))
seconds = float(os.environ.get("NEUREP_FAKE_SECONDS", "1"))

import h5py, numpy as np

COLUMNS = ["d", "n", "seed", "ridge", "learner", "input", "test_error", "train_error", "seconds", "flops", "status"]
rows = []
if os.path.exists(out):
    if not (resume or overwrite):
        bad_input(f"output '{out}' exists: pass --resume to continue it or --overwrite to replace it")
    if resume:
        try:
            with h5py.File(out, "r") as f:
                old = f["config"].attrs["resolved"]
                if old != resolved:
                    bad_input(f"--resume: '{out}' was written from another configuration")
                g = f["results"]
                cols = {c: g[c][()] for c in COLUMNS}
                rows = [tuple(cols[c][k] for c in COLUMNS) for k in range(len(cols["d"]))]
                rows = [tuple(v.decode() if isinstance(v, bytes) else v.item() for v in r) for r in rows]
        except (OSError, KeyError) as e:
            bad_input(f"--resume: '{out}' is not a neurep results file: {e}")

def save(status):
    if rank != 0:
        return
    tmp = f"{out}.tmp{os.getpid()}"
    with h5py.File(tmp, "w") as f:
        f.attrs["software"] = "neurep-fake"
        f.attrs["status"] = status
        f.attrs["command_line"] = " ".join(sys.argv)
        f.create_group("config").attrs["resolved"] = resolved
        f.create_group("checkpoint").attrs["position"] = len(rows)
        g = f.create_group("results")
        for k, c in enumerate(COLUMNS):
            vals = [r[k] for r in rows]
            if c in ("learner", "input", "status"):
                g.create_dataset(c, data=np.array(vals, dtype=object), dtype=h5py.string_dtype(), maxshape=(None,))
            else:
                dt = "i8" if c in ("d", "n", "seed") else "f8"
                g.create_dataset(c, data=np.array(vals, dtype=dt), maxshape=(None,))
    os.replace(tmp, out)

def interrupted():
    save("interrupted")
    if rank == 0:
        print(f"neurep(fake): signal {stop_signal} received, {len(rows)}/{len(points)} points saved; "
              f"rerun with --resume to continue", flush=True)
    sys.exit(75)

start = len(rows)
if rank == 0:
    print(f"neurep(fake): {len(points)} points, {'resuming at point ' + str(start + 1) if start else 'fresh start'}"
          f" -> {out}", flush=True)
if start >= len(points):
    if rank == 0:
        print("neurep(fake): already complete", flush=True)
    sys.exit(0)
save("running")
for k in range(start, len(points)):
    d, n, s, r = points[k]
    t0 = time.time()
    while time.time() - t0 < seconds:
        if stop_signal:
            interrupted()
        time.sleep(0.05)
    if stop_signal:
        interrupted()
    h = hashlib.sha256(f"{master}/{d}/{n}/{s}/{r!r}/{kind}/{inp}".encode()).digest()
    u = int.from_bytes(h[:8], "little") / 2**64
    test_error = min(1.0, (d * d / n) * (0.5 + u))
    train_error = test_error * 0.1 * u
    rows.append((d, n, s, r, kind, inp, test_error, train_error, time.time() - t0, 0.0, "ok"))
    save("running")
    if rank == 0:
        print(f"[{k + 1}/{len(points)}] d={d} n={n} seed={s} ridge={r:g} test_error={test_error:.6g}", flush=True)
save("complete")
sys.exit(0)
PY
