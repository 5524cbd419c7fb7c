#!/usr/bin/python3
"""Measurements of the kernel solvers of issue 17 (bench/RESULTS.md, "Kernel
solvers"): mixed precision against double Cholesky, single Cholesky and the
NumPy/SciPy peer (bench/peers.py) at d = 16; the matrix-free pcg solver's
iterations against n and the preconditioner rank; optionally pcg against
single-precision Cholesky at a large n. Every neurep run is 1 rank x 2 threads,
the peer 2 threads; the machine's DGEMM/SGEMM/DPOTRF rates are measured in
the same run, and the load average and the CPU time other processes took are
recorded beside every measurement.

  bench/solvers.py [--n 16384] [--scaling-n 2048,4096,8192] [--ranks 0,64,256,1024]
                   [--big-n 0] [--big-d 28] [--huge-n 0] [--huge-d 32] [--build DIR] [--out FILE]

--big-n N runs pcg and single-precision Cholesky at d = --big-d, n = N
(65536 needs about 17 GB for the single-precision K); --huge-n N runs pcg
alone at d = --huge-d, n = N (131072: no Cholesky fits here). Writes one JSON file
(default bench/results/solvers-<date>.json) and prints Markdown tables.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

KERNEL_TOML = """
[data]
dim = {d}
n_test = {n_test}
[learner]
kind = "kernel"
kernel = "ntk"
input_bias = true
ridge = {ridges}
[sweep]
n_train = [{n}]
seeds = 1
"""


def machine_cpu_seconds():
    with open("/proc/stat") as f:
        v = f.readline().split()
    return (int(v[1]) + int(v[2]) + int(v[3]) + int(v[6]) + int(v[7])) / os.sysconf("SC_CLK_TCK")


def load1():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def measured(cmd, env):
    """Runs cmd; returns (stdout, load figures); raises on failure."""
    c0, l0, t0 = machine_cpu_seconds(), load1(), time.perf_counter()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter() - t0
    own = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    other = machine_cpu_seconds() - c0 - own
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr[-500:]}")
    return p.stdout, {"wall": wall, "load1_before": l0, "load1_after": load1(), "own_cpu_seconds": own,
                      "other_cpu_seconds": other}


class Bench:
    def __init__(self, args):
        self.args = args
        self.build = os.path.abspath(args.build)
        self.work = tempfile.mkdtemp(prefix="neurep-solvers-")
        self.env = dict(os.environ, OPENBLAS_CORETYPE="SkylakeX", OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="2",
                        OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
        self.records = []

    def log(self, *a):
        print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)

    def rates(self, potrf_n):
        out, load = measured([os.path.join(self.build, "bench", "bench_blas"), "--gemm", "4096", "--potrf",
                              str(potrf_n), "--repeats", "2"], self.env)
        rec = json.loads([l for l in out.splitlines() if l.startswith("{")][-1])
        rec.update(load, bench="blas", threads=2)
        self.records.append(rec)
        self.log("rates", rec)
        return rec

    def neurep(self, tag, d, n, ridges, sets, n_test=4000, save_data=False):
        cfg = os.path.join(self.work, f"{tag}.toml")
        with open(cfg, "w") as f:
            f.write(KERNEL_TOML.format(d=d, n=n, n_test=n_test, ridges=json.dumps(ridges)))
        out = os.path.join(self.work, f"{tag}.h5")
        cmd = ["/usr/bin/time", "-f", "%M", "-o", out + ".rss", os.path.join(self.build, "neurep"), "run", cfg,
               "-o", out, "-q", "--overwrite"]
        if save_data:
            cmd += ["--set", "run.save_data=true"]
        for s in sets:
            cmd += ["--set", s]
        self.log(tag, " ".join(sets))
        _, load = measured(cmd, self.env)
        with open(out + ".rss") as f:
            rss_kib = int(f.read().split()[-1])
        rows = []
        with h5py.File(out, "r") as f:
            r = f["results"]
            for i in range(len(r["n"])):
                row = {k: (r[k][i].decode() if isinstance(r[k][i], bytes) else float(r[k][i])) for k in r.keys()
                       if k in ("n", "ridge", "test_error", "train_error", "seconds", "status", "residual",
                                "iterations", "preconditioner_rank", "seconds_kernel", "seconds_factor",
                                "seconds_solve", "seconds_predict", "flops")}
                row.update(load, bench="neurep", tag=tag, d=d, sets=sets, peak_rss_bytes=rss_kib * 1024)
                rows.append(row)
                self.records.append(row)
                self.log("   ", {k: row[k] for k in row if k in ("n", "ridge", "seconds", "test_error", "status",
                                                               "iterations", "residual")})
        return rows, out

    def peer(self, data, n):
        out, load = measured([sys.executable, os.path.join(HERE, "peers.py"), "kernel", "--peer", "numpy",
                              "--data", data, "--n", str(n), "--threads", "2"], self.env)
        rec = json.loads([l for l in out.splitlines() if l.startswith("{")][-1])
        rec.update(load, bench="peer")
        self.records.append(rec)
        self.log("peer", {k: rec[k] for k in ("seconds", "test_error")})
        return rec


def rel(a, b):
    return abs(a - b) / abs(b)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=16384)
    p.add_argument("--scaling-n", default="2048,4096,8192")
    p.add_argument("--ranks", default="0,64,256,1024")
    p.add_argument("--scaling-d", type=int, default=16)
    p.add_argument("--big-n", type=int, default=0)
    p.add_argument("--big-d", type=int, default=28)
    p.add_argument("--huge-n", type=int, default=0)
    p.add_argument("--huge-d", type=int, default=32)
    p.add_argument("--build", default=os.environ.get("NEUREP_BUILD", os.path.join(ROOT, "build")))
    p.add_argument("--out", default="")
    args = p.parse_args()
    b = Bench(args)
    n = args.n
    md = []
    rates = b.rates(8192)

    md.append(f"Machine (same run, 2 threads): DGEMM {rates['dgemm_gflops']:.1f}, SGEMM {rates['sgemm_gflops']:.1f}, "
              f"DPOTRF(8192) {rates['dpotrf_gflops']:.1f} GFLOP/s; load average {rates['load1_before']:.1f}")
    if n:
        d16(b, n, md)
    if args.scaling_n:
        scaling(b, args, md)
    if args.big_n:
        big(b, args, md)
    if args.huge_n:
        huge(b, args, md)
    out = args.out or os.path.join(HERE, "results", time.strftime("solvers-%Y-%m-%dT%H%M%SZ.json", time.gmtime()))
    with open(out, "w") as f:
        json.dump({"command": " ".join(sys.argv), "records": b.records, "tables": md}, f, indent=1)
    print("\n".join(md))
    b.log("wrote", out)


def d16(b, n, md):
    """d = 16, n: double Cholesky, mixed, single Cholesky, the NumPy peer; dpotrf of the same n alone."""
    chol, chol_h5 = b.neurep("cholesky", 16, n, [1e-6], ["learner.solver=\"cholesky\""], save_data=True)
    mixed, _ = b.neurep("mixed", 16, n, [1e-6], ["learner.solver=\"mixed\"", "learner.tolerance=1e-13"])
    single, _ = b.neurep("single", 16, n, [1e-6], ["run.precision=\"single\""])
    peer = b.peer(chol_h5 + ".data/d16_seed0.h5", n)
    same_n = b.rates(n)
    dpotrf_alone = n ** 3 / 3 / (same_n["dpotrf_gflops"] * 1e9)
    c, m, s = chol[0], mixed[0], single[0]
    md.append(f"DPOTRF({n}) alone, measured after these runs: {same_n['dpotrf_gflops']:.1f} GFLOP/s")
    md.append("")
    md.append(f"| d = 16, n = {n}, 1x2 | total s | factor s | solve s | residual | iterations | peak RSS | test error | "
              f"rel. to double Cholesky | load1 | other CPU s |")
    md.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, r in (("double Cholesky", c), ("mixed", m), ("single Cholesky", s)):
        md.append(f"| {name} | {r['seconds']:.2f} | {r.get('seconds_factor', float('nan')):.2f} | "
                  f"{r.get('seconds_solve', float('nan')):.2f} | {r.get('residual', float('nan')):.2g} | "
                  f"{r.get('iterations', float('nan')):.0f} | {r['peak_rss_bytes'] / 2**30:.2f} GiB | "
                  f"{r['test_error']:.13g} | {rel(r['test_error'], c['test_error']):.2g} | "
                  f"{r['load1_before']:.1f} | {r['other_cpu_seconds']:.0f} |")
    md.append(f"| NumPy+SciPy peer | {peer['seconds']:.2f} | {peer['seconds_factor']:.2f} | {peer['seconds_solve']:.2f} | "
              f"| | {peer['peak_rss_bytes'] / 2**30:.2f} GiB | {peer['test_error']:.13g} | "
              f"{rel(peer['test_error'], c['test_error']):.2g} | {peer['load1_before']:.1f} | {peer['other_cpu_seconds']:.0f} |")
    md.append("")
    md.append(f"- mixed / NumPy peer: {m['seconds'] / peer['seconds']:.2f} (target <= 0.55); mixed / double Cholesky: "
              f"{m['seconds'] / c['seconds']:.2f}; double Cholesky end to end / dpotrf({n}) alone "
              f"({dpotrf_alone:.2f} s): {c['seconds'] / dpotrf_alone:.2f} (target <= 1.10)")



def scaling(b, args, md):
    """pcg: iterations against n (rank 256) and against the preconditioner rank (largest n)."""
    ns = [int(v) for v in args.scaling_n.split(",") if v]
    ranks = [int(v) for v in args.ranks.split(",") if v]
    d = args.scaling_d
    ridges = [1e-6, 1e-3]
    table = {}
    for nn in ns:
        ref, _ = b.neurep(f"chol_{nn}", d, nn, ridges, ["learner.solver=\"cholesky\""])
        for r in ([256] if nn != ns[-1] else sorted(set(ranks + [256]))):
            if r > nn:
                continue
            rows, _ = b.neurep(f"pcg_{nn}_{r}", d, nn, ridges,
                               ["learner.solver=\"pcg\"", f"learner.preconditioner_rank={r}",
                                "learner.tolerance=1e-10", "learner.max_iterations=400"])
            table[(nn, r)] = (rows, ref)
    md.append("")
    md.append(f"pcg (tolerance 1e-10, at most 400 iterations), NTK on x, d = {d}, 1x2: iterations per ridge, seconds, "
              f"test error relative to double Cholesky")
    md.append("")
    md.append("| n | rank r | iterations (ridge 1e-6 / 1e-3) | pcg s | Cholesky s | max rel. test error diff | status | load1 |")
    md.append("|---|---|---|---|---|---|---|---|")
    for (nn, r), (rows, ref) in sorted(table.items()):
        diff = max(rel(a["test_error"], c2["test_error"]) for a, c2 in zip(rows, ref))
        md.append(f"| {nn} | {r} | {rows[0]['iterations']:.0f} / {rows[1]['iterations']:.0f} | {rows[0]['seconds']:.1f} | "
                  f"{ref[0]['seconds']:.1f} | {diff:.1g} | {rows[0]['status']}, {rows[1]['status']} | "
                  f"{rows[0]['load1_before']:.1f} |")



def big(b, args, md):
    """pcg against single-precision Cholesky at d = big_d, n = big_n."""
    bn, bd = args.big_n, args.big_d
    sc, _ = b.neurep("big_single", bd, bn, [1e-6], ["run.precision=\"single\""])
    pc, _ = b.neurep("big_pcg", bd, bn, [1e-6], ["learner.solver=\"pcg\"", "learner.preconditioner_rank=1024",
                                                 "learner.tolerance=1e-8"])
    md.append("")
    md.append(f"| NTK on x, d = {bd}, n = {bn}, ridge 1e-6, 1x2 | total s | preconditioner s | solve s | peak RSS | "
              f"iterations | test error | rel. diff | load1 |")
    md.append("|---|---|---|---|---|---|---|---|---|")
    for name, r in (("single Cholesky", sc[0]), ("pcg r = 1024, tolerance 1e-8", pc[0])):
        md.append(f"| {name} | {r['seconds']:.1f} | {r.get('seconds_factor', float('nan')):.1f} | "
                  f"{r.get('seconds_solve', float('nan')):.1f} | {r['peak_rss_bytes'] / 2**30:.2f} GiB | "
                  f"{r.get('iterations', float('nan')):.0f} | {r['test_error']:.10g} | "
                  f"{rel(r['test_error'], sc[0]['test_error']):.2g} | {r['load1_before']:.1f} |")


def huge(b, args, md):
    """pcg alone at d = huge_d, n = huge_n, where no Cholesky fits in memory."""
    hn, hd = args.huge_n, args.huge_d
    pc, _ = b.neurep("huge_pcg", hd, hn, [1e-6], ["learner.solver=\"pcg\"", "learner.preconditioner_rank=1024",
                                                  "learner.tolerance=1e-8"])
    r = pc[0]
    md.append("")
    md.append(f"| NTK on x, d = {hd}, n = {hn}, ridge 1e-6, 1x2 | total s | preconditioner s | solve s | peak RSS | "
              f"iterations | test error | status | load1 |")
    md.append("|---|---|---|---|---|---|---|---|---|")
    md.append(f"| pcg r = 1024, tolerance 1e-8 | {r['seconds']:.1f} | {r.get('seconds_factor', float('nan')):.1f} | "
              f"{r.get('seconds_solve', float('nan')):.1f} | {r['peak_rss_bytes'] / 2**30:.2f} GiB | "
              f"{r.get('iterations', float('nan')):.0f} | {r['test_error']:.10g} | {r['status']} | "
              f"{r['load1_before']:.1f} |")


if __name__ == "__main__":
    main()
