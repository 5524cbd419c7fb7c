#!/usr/bin/python3
"""Collects what bench/run.sh measured (tagged JSON lines, neurep's results
files, per-rank peak memory) into one machine-readable JSON file, checks the
targets of issue #7 and prints a table. Not meant to be run by hand:

  report.py --raw RAW.jsonl --work WORKDIR --n N --repeats R --command CMD --out OUT.json
"""
import argparse
import glob
import json
import math
import os
import platform
import re
import subprocess
import sys


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception:  # noqa: BLE001 - provenance is best effort
        return ""


def machine():
    cpu = sh("lscpu | sed -n 's/^Model name: *//p'")
    fam = sh("lscpu | sed -n 's/^CPU family: *//p'") + "/" + sh("lscpu | sed -n 's/^Model: *//p'")
    flags = sh("grep -m1 -o -w -E 'avx512f|avx2' /proc/cpuinfo | sort -u | tr '\\n' ' '")
    mem = sh("awk '/MemTotal/{printf \"%.1f GiB\", $2/1048576}' /proc/meminfo")
    pkgs = {}
    for p in ("libopenblas0-pthread", "libscalapack-openmpi2.2", "openmpi-bin", "libhdf5-openmpi-103-1",
              "python3-numpy", "python3-scipy", "python3-sklearn", "python3-torch", "g++-12"):
        v = sh(f"dpkg-query -W -f '${{Version}}' {p} 2>/dev/null")
        if v:
            pkgs[p] = v
    return {"cpu": cpu, "family/model": fam, "isa": flags.strip(), "cores": os.cpu_count(), "memory": mem,
            "hypervisor": sh("lscpu | sed -n 's/^Hypervisor vendor: *//p'"), "kernel": platform.release(),
            "os": sh(". /etc/os-release && echo $PRETTY_NAME"), "packages": pkgs,
            "compiler": sh("c++ --version | head -1"), "git_revision": sh(f"git -C {ROOT} rev-parse --short=12 HEAD"),
            "git_dirty": bool(sh(f"git -C {ROOT} status --porcelain -- src include bench")),
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "")}


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_neurep(path):
    import h5py
    with h5py.File(path, "r") as f:
        r = f["results"]
        row = {k: float(r[k][0]) for k in ("n", "seconds", "flops", "test_error", "train_error", "seconds_kernel",
                                           "seconds_factor", "seconds_solve", "seconds_predict") if k in r}
        row["status"] = r["status"][0].decode()
        prec = f["config"].attrs.get("run.precision", b"double")
        row["precision"] = prec.decode() if isinstance(prec, bytes) else str(prec)
        for a in ("grid", "blas_core", "mpi_ranks", "threads_per_rank", "blas"):
            v = f.attrs.get(a)
            row[a] = v.decode() if isinstance(v, bytes) else (v.item() if hasattr(v, "item") else v)
    return row


def read_rss(prefix):
    out = []
    for p in sorted(glob.glob(prefix + ".*")):
        with open(p) as fh:
            line = fh.read().split()
        if len(line) >= 2 and line[0].isdigit():
            out.append({"rank": int(p.rsplit(".", 1)[1]), "peak_rss_bytes": int(line[0]) * 1024, "wall": float(line[1])})
    return sorted(out, key=lambda x: x["rank"])


def best(rows, key):
    rows = [r for r in rows if r.get(key) is not None]
    return min(rows, key=lambda r: r[key]) if rows else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--command", default="bench/run.sh")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    raw = [json.loads(line) for line in open(a.raw) if line.strip()]
    sec = lambda name: [r for r in raw if r.get("section") == name]  # noqa: E731
    n = a.n
    res = {"date": os.path.basename(a.out)[:-5], "command": a.command, "repeats": a.repeats, "machine": machine(),
           "raw": raw}
    S = res["summary"] = {}

    # 1. BLAS rates.
    blas2, blas1 = (sec("blas_2threads") or [{}])[0], (sec("blas_1thread") or [{}])[0]
    S["blas"] = {"2_threads": blas2, "1_thread": blas1}
    dgemm = blas2.get("dgemm_gflops", float("nan"))
    dpotrf = blas2.get("dpotrf_gflops", float("nan"))

    # 2. Cholesky and block size.
    S["factor"] = [r for r in raw if r.get("section", "").startswith("factor_")]
    S["eigen"] = [r for r in raw if r.get("op") == "syevd_lower"]

    # 3. Kernel regression.
    kern = {}
    for tag in ("1x2", "2x1", "2x1_single", "1x1", "4x1"):
        runs = []
        for path in sorted(glob.glob(os.path.join(a.work, f"kernel_{tag}.*.h5"))):
            rep = path.rsplit(".", 2)[1]
            row = read_neurep(path)
            row["rss"] = read_rss(os.path.join(a.work, f"rss.kernel_{tag}.{rep}"))
            row["wall_process"] = max((x["wall"] for x in row["rss"]), default=float("nan"))
            runs.append(row)
        if runs:
            k = dict(best(runs, "seconds"))
            k["runs_seconds"] = [r["seconds"] for r in runs]
            k["factor_gflops"] = n ** 3 / 3 / k["seconds_factor"] * 1e-9
            k["peak_rss_per_rank_bytes"] = max((x["peak_rss_bytes"] for x in k["rss"]), default=float("nan"))
            kern[tag] = k
    peers = {}
    for name, label in (("peer_numpy", "numpy+scipy"), ("peer_sklearn", "sklearn KernelRidge")):
        b = best(sec(name), "seconds")
        if b:
            peers[label] = b
    base = read_rss(os.path.join(a.work, "rss.baseline"))
    baseline = base[0]["peak_rss_bytes"] if base else 0
    lapack = max([dpotrf] + [p.get("factor_gflops", 0) for p in peers.values()])
    for k in kern.values():
        k["factor_fraction_of_lapack_dpotrf"] = k["factor_gflops"] / lapack
        k["factor_fraction_of_dgemm"] = k["factor_gflops"] / dgemm
        P = k.get("mpi_ranks", 1)
        k["bytes_per_entry"] = 4 if k.get("precision") == "single" else 8
        k["memory_bound_bytes"] = 1.2 * n * n / P * k["bytes_per_entry"] + baseline
        for label, p in peers.items():
            k[f"time_ratio_vs_{label.split()[0]}"] = k["seconds"] / p["seconds"]
            k[f"test_error_rel_diff_vs_{label.split()[0]}"] = abs(k["test_error"] - p["test_error"]) / p["test_error"]
    S["kernel"] = {"n": n, "neurep": kern, "peers": peers, "lapack_dpotrf_gflops_reference": lapack,
                   "dgemm_gflops": dgemm, "baseline_process_rss_bytes": baseline}
    kd, ks = kern.get("2x1"), kern.get("2x1_single")
    if kd and ks:  # the same run in double and single precision
        S["kernel"]["single_vs_double"] = {
            "speed_up_total": kd["seconds"] / ks["seconds"],
            "speed_up_factor": kd["seconds_factor"] / ks["seconds_factor"],
            "test_error_rel_diff": abs(ks["test_error"] - kd["test_error"]) / kd["test_error"],
            "peak_rss_ratio": ks["peak_rss_per_rank_bytes"] / kd["peak_rss_per_rank_bytes"]}

    # 4. Taylor step.
    taylor = [r for r in raw if r.get("bench") == "taylor_step"]
    torch = [r for r in raw if r.get("bench") == "peer_taylor_step"]
    S["taylor"] = {"neurep": taylor, "pytorch": torch}

    # 5. Representation.
    S["representation"] = {"neurep": [r for r in raw if r.get("bench") == "representation"],
                           "numpy": [r for r in raw if r.get("bench") == "peer_representation"]}
    rep = {(r.get("precision", "double"), r["ranks"], r["threads_per_rank"], r["grid"], r["phase"]): r["seconds"]
           for r in S["representation"]["neurep"]}
    both = [k[1:4] for k in rep if k[0] == "single" and k[4] == "whitening_apply" and ("double", *k[1:]) in rep]
    if both:  # the same run in double and single precision (ranks, threads, grid)
        run = both[0]
        total = {p: sum(v for k, v in rep.items() if k[:4] == (p, *run)) for p in ("double", "single")}
        S["representation"]["single_vs_double"] = {
            "config": f"{run[0]}x{run[1]} grid {run[2]}",
            "speed_up_whitening_apply": rep[("double", *run, "whitening_apply")] / rep[("single", *run, "whitening_apply")],
            "speed_up_total": total["double"] / total["single"]}

    # Targets (issue #7).
    T = res["targets"] = []

    def target(name, value, limit, op, detail):
        met = (value <= limit) if op == "<=" else (value >= limit)
        if value != value:  # NaN: not measured
            met = False
        T.append({"target": name, "value": value, "limit": limit, "op": op, "met": bool(met), "detail": detail})

    for tag in ("1x2", "2x1"):
        k = kern.get(tag)
        if not k:
            continue
        if "numpy+scipy" in peers:
            target(f"kernel n={n} {tag}: time / NumPy+SciPy", k["time_ratio_vs_numpy+scipy"], 0.75, "<=",
                   f"{k['seconds']:.2f} s vs {peers['numpy+scipy']['seconds']:.2f} s")
            target(f"kernel n={n} {tag}: test error vs NumPy+SciPy (relative)", k["test_error_rel_diff_vs_numpy+scipy"],
                   1e-8, "<=", f"{k['test_error']:.12g} vs {peers['numpy+scipy']['test_error']:.12g}")
        if "sklearn KernelRidge" in peers:
            target(f"kernel n={n} {tag}: time / scikit-learn", k["time_ratio_vs_sklearn"], 0.5, "<=",
                   f"{k['seconds']:.2f} s vs {peers['sklearn KernelRidge']['seconds']:.2f} s")
            target(f"kernel n={n} {tag}: test error vs scikit-learn (relative)", k["test_error_rel_diff_vs_sklearn"],
                   1e-8, "<=", f"{k['test_error']:.12g} vs {peers['sklearn KernelRidge']['test_error']:.12g}")
        target(f"kernel n={n} {tag}: factorisation / LAPACK dpotrf rate", k["factor_fraction_of_lapack_dpotrf"], 0.85,
               ">=", f"{k['factor_gflops']:.1f} vs {lapack:.1f} GFLOP/s (best of bench_blas dpotrf and SciPy's cho_factor)")
    if "single_vs_double" in S["kernel"]:
        sd = S["kernel"]["single_vs_double"]
        target(f"kernel n={n} 2x1 single precision: test error vs double (relative)", sd["test_error_rel_diff"],
               1e-4, "<=", f"{kern['2x1_single']['test_error']:.12g} vs {kern['2x1']['test_error']:.12g}; speed-up "
               f"{sd['speed_up_total']:.2f} total, {sd['speed_up_factor']:.2f} factorisation")
    for tag in ("1x2", "2x1", "2x1_single", "1x1", "4x1"):
        k = kern.get(tag)
        if k and k["rss"]:
            target(f"kernel n={n} {tag}: peak RSS per rank / (1.2 n^2/P {k['bytes_per_entry']} B + baseline)",
                   k["peak_rss_per_rank_bytes"] / k["memory_bound_bytes"], 1.0, "<=",
                   f"{k['peak_rss_per_rank_bytes'] / 2**30:.3f} GiB vs {k['memory_bound_bytes'] / 2**30:.3f} GiB "
                   f"(baseline {baseline / 2**20:.0f} MiB)")
    def quad(prec, ranks, grid=None):
        return [r for r in taylor if r["order"] == "2" and r["precision"] == prec and r["ranks"] == ranks
                and r["block"] == 128 and r["threads_per_rank"] * ranks == 2 and (grid is None or r["grid"] == grid)]

    for ranks, grid in ((1, None), (2, "2x1")):
        qd, qs = best(quad("double", ranks, grid), "step_seconds"), best(quad("single", ranks, grid), "step_seconds")
        if not qd:
            continue
        tag = f"{ranks} rank{'s' if ranks > 1 else ''} x {2 // ranks} thread{'s' if ranks == 1 else ''}" + \
              (f" (grid {grid})" if grid else "")
        target(f"Quad step, {tag}, double: fraction of the GEMM rate (the same two products, plain dgemm_, same run)",
               qd["fraction_of_gemm"], 0.9, ">=", f"{qd['step_gflops']:.1f} vs {qd['gemm_gflops']:.1f} GFLOP/s")
        target(f"Quad step, {tag}, double: fraction of the square DGEMM rate (bench_blas, another moment)",
               qd["step_gflops"] / dgemm, 0.9, ">=", f"{qd['step_gflops']:.1f} vs {dgemm:.1f} GFLOP/s")
        tb = best([r for r in torch if r["precision"] == "double" and r["peer"] != "pytorch matmuls only"],
                  "step_seconds")
        if tb:
            target(f"Quad step, {tag}, double: time / PyTorch (its faster variant)", qd["step_seconds"] / tb["step_seconds"],
                   1.0, "<=", f"{qd['step_seconds']:.3f} s vs {tb['step_seconds']:.3f} s ({tb['peer']})")
        if qs:
            target(f"Quad step, {tag}: single-precision speed-up", qd["step_seconds"] / qs["step_seconds"], 1.8, ">=",
                   f"{qd['step_seconds']:.3f} s double vs {qs['step_seconds']:.3f} s single")

    # Scaling on the same problems.
    sc = S["scaling"] = {"kernel": {}, "taylor": {}}
    for tag, k in kern.items():
        sc["kernel"][tag] = {"seconds": k["seconds"], "seconds_factor": k["seconds_factor"],
                             "peak_rss_per_rank_bytes": k["peak_rss_per_rank_bytes"]}
    for r in taylor:
        if r["order"] == "2" and r["precision"] == "double" and r["block"] == 128:
            key = f"{r['ranks']}x{r['threads_per_rank']} grid {r['grid']}"
            if key not in sc["taylor"] or r["step_seconds"] < sc["taylor"][key]["step_seconds"]:
                sc["taylor"][key] = {"step_seconds": r["step_seconds"], "step_gflops": r["step_gflops"],
                                     "fraction_of_gemm": r["fraction_of_gemm"]}

    # Cluster model (bench/RESULTS.md): time, memory and communication at n = 1e5..1e6,
    # from the per-rank rates measured here and stated assumptions.
    per_rank = [r for r in S["factor"] if r.get("op") == "potrf_lower" and r.get("ranks", 1) > 1]
    potrf_rate = max((r["gflops"] / r["ranks"] for r in per_rank), default=float("nan")) * 1e9
    step_rate = max((r["step_gflops"] / r["ranks"] for r in taylor if r["ranks"] > 1 and r["grid"].endswith("x1")
                     and r["precision"] == "double"), default=float("nan")) * 1e9
    mem, bw = 4.0 * 2**30, 0.4e9  # assumed: 4 GiB per rank; 100 Gb/s per node shared by 32 ranks
    model = {"assumptions": {"memory_per_rank_bytes": mem, "network_bytes_per_second_per_rank": bw,
                             "cholesky_rate_per_rank": potrf_rate, "taylor_step_rate_per_rank": step_rate,
                             "n_test": 4000, "taylor_m": 4096, "taylor_q": 4096},
             "kernel": [], "taylor": []}
    for N in (1e5, 3e5, 1e6):
        P = 2 ** math.ceil(math.log2(1.2 * N * N * 8 / mem))  # ranks for K within 1.2 x n^2/P x 8 B per rank
        words = N * N / math.sqrt(P)  # received per rank by pdpotrf on a sqrt(P) x sqrt(P) grid (panel broadcasts)
        model["kernel"].append({
            "n": N, "ranks": P, "K_total_bytes": N * N * 8, "K_per_rank_bytes": N * N * 8 / P,
            "test_kernel_block_per_rank_bytes": min(4000, N) * N * 8 / P,
            "cholesky_flops": N ** 3 / 3, "cholesky_seconds": N ** 3 / 3 / (P * potrf_rate),
            "cholesky_comm_bytes_per_rank": words * 8, "cholesky_comm_seconds": words * 8 / bw,
            "messages_per_rank": 2 * N / 128 * math.log2(max(2, math.sqrt(P)))})
    for N in (1e5, 1e6):
        m = q = 4096
        P = 2 ** max(0, math.ceil(math.log2((N * q + 2 * N * m) * 8 * 1.2 / mem)))  # U, Z and the cache
        model["taylor"].append({
            "n": N, "m": m, "q": q, "ranks": P, "bytes_per_rank_double": (N * q + 2 * N * m) * 8 / P,
            "bytes_per_rank_single": (N * q + N * m) * 4 / P + N * q * 8 / P,
            "step_flops": 4 * N * m * q, "step_seconds": 4 * N * m * q / (P * step_rate),
            "step_comm_bytes_per_rank": 2 * m * q * 8, "step_comm_seconds": 2 * m * q * 8 / bw})
    S["cluster_model"] = model

    with open(a.out, "w") as fh:
        json.dump(res, fh, indent=1, default=str)

    # The table.
    m = res["machine"]
    print(f"\nneurep benchmarks {res['date']}  ({m['cpu']}, {m['cores']} cores, {m['memory']}; "
          f"OPENBLAS_CORETYPE={m['OPENBLAS_CORETYPE']}, core {blas2.get('blas_core')})")
    print(f"BLAS (2 threads): DGEMM {dgemm:.1f}  SGEMM {blas2.get('sgemm_gflops', float('nan')):.1f}  "
          f"DPOTRF {dpotrf:.1f} GFLOP/s;  1 thread: DGEMM {blas1.get('dgemm_gflops', float('nan')):.1f}")
    print("\nCholesky (potrf_lower) vs LAPACK dpotrf, by block:", ", ".join(
        f"{r['grid']} b{r['block']} {r['gflops']:.1f} GF/s ({r['fraction_of_dpotrf']:.2f})"
        for r in S["factor"] if r.get("op") == "potrf_lower"))
    for r in S["eigen"]:
        print(f"eigendecomposition (pdsyevd) n = {r['n']} {r['grid']}: {r['seconds']:.2f} s = "
              f"{r['ratio_to_potrf']:.0f} x the Cholesky ({r['potrf_seconds']:.2f} s)")
    print(f"\nkernel regression, NTK on raw x, d = 16, n = {n}, n_test = 4000 (seconds; neurep ranks x threads, "
          f"peers 2 threads; best of {a.repeats})")
    print(f"{'':22}{'total':>8}{'kernel':>8}{'factor':>8}{'solve':>8}{'predict':>8}{'GF/s fac':>9}{'RSS/rank':>10}  test error")
    for tag, k in kern.items():
        print(f"neurep {tag:15}{k['seconds']:8.2f}{k['seconds_kernel']:8.2f}{k['seconds_factor']:8.2f}"
              f"{k['seconds_solve']:8.2f}{k['seconds_predict']:8.2f}{k['factor_gflops']:9.1f}"
              f"{k['peak_rss_per_rank_bytes'] / 2**30:9.2f}G  {k['test_error']:.12g}")
    if "single_vs_double" in S["kernel"]:
        sd = S["kernel"]["single_vs_double"]
        print(f"single vs double (2x1): speed-up {sd['speed_up_total']:.2f} total, {sd['speed_up_factor']:.2f} "
              f"factorisation; peak RSS x{sd['peak_rss_ratio']:.2f}; test error relative difference "
              f"{sd['test_error_rel_diff']:.1e} (the accuracy cost)")
    for label, p in peers.items():
        fac = p.get("seconds_factor", p.get("seconds_fit", float("nan")))
        print(f"{label:22}{p['seconds']:8.2f}{p['seconds_kernel']:8.2f}{fac:8.2f}{p.get('seconds_solve', float('nan')):8.2f}"
              f"{p['seconds_predict']:8.2f}{p.get('factor_gflops', float('nan')):9.1f}"
              f"{p['peak_rss_bytes'] / 2**30:9.2f}G  {p['test_error']:.12g}")
    print("\nTaylor step, n x q x m =", ", ".join(sorted({f"{r['n']}x{r['q']}x{r['m']}" for r in taylor})),
          "(ranks x threads, grid, block; best interleaved round)")
    print(f"{'':40}{'s/step':>9}{'GF/s':>8}{'GEMM GF/s':>10}{'fraction':>9}")
    for r in taylor:
        cfg = f"{r['ranks']}x{r['threads_per_rank']} {r['grid']} b{r['block']}"
        print(f"neurep order {r['order']:4} {r['precision']:6} {cfg:15}"
              f"{r['step_seconds']:9.4f}{r['step_gflops']:8.1f}{r['gemm_gflops']:10.1f}{r['fraction_of_gemm']:9.2f}")
    for r in torch:
        print(f"{r['peer']:22} {r['precision']:6} 1x{r['threads']:<13}{r['step_seconds']:9.4f}{r['step_gflops']:8.1f}")
    print("\nrepresentation (s):", ", ".join(f"{r['phase']} {r['grid']} {r.get('precision', 'double')} {r['seconds']:.3f}"
                                          for r in S["representation"]["neurep"]))
    if "single_vs_double" in S["representation"]:
        sd = S["representation"]["single_vs_double"]
        print(f"single vs double ({sd['config']}): speed-up {sd['speed_up_whitening_apply']:.2f} whitening_apply, "
              f"{sd['speed_up_total']:.2f} all phases (the estimate stays double)")
    print("numpy peer (s):     ", ", ".join(f"{r['phase']} {r['seconds']:.3f}" for r in S["representation"]["numpy"]))
    print("\nCPU seconds other processes took during each section (0 = a quiet machine):")
    runs = {}
    for r in raw:
        if r.get("section") and "wall" in r:
            runs.setdefault((r["section"], r["wall"]), r["machine_cpu_seconds"] - r["own_cpu_seconds"])
    print("  " + ", ".join(f"{name} {other:.1f}" for (name, _), other in runs.items()))
    print("\ntargets")
    for t in T:
        print(f"  [{'met' if t['met'] else 'NOT met'}] {t['target']}: {t['value']:.4g} {t['op']} {t['limit']}  ({t['detail']})")
    failed = [r for r in raw if r.get("bench") == "failed"]
    for r in failed:
        print(f"  FAILED section {r['section']}: {r['command']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
