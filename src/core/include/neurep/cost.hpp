// The expected work of a sweep point, for `neurep plan` and a run's ETA: what
// takes the time, each at its own rate (DESIGN 3.1):
//   flops     dense products and factorisations, at the DGEMM rate;
//   elements  element operations of memory-bound passes over large matrices
//             (a Taylor step's element-wise maps, the thin products whose
//             inner dimension is a few coordinates, copies), at the rate of
//             a pass over a matrix larger than the caches;
//   cached    element operations of such passes over matrices the caches
//             hold (a Taylor step's at small n m), at the rate of a pass
//             over a matrix of 8 MiB, about 3x the other on 2 cores;
//   entries   kernel entries: an inner product's arc-cosine map
//             (apply_kernel), at that map's rate;
//   products  kernel entries of a matrix-free product K X (pcg: each entry
//             written by the product of the inputs, mapped, read by two
//             accumulations: ~40 bytes of memory traffic, bound by memory,
//             not flops), at the rate of such a product;
//   calls     threaded (P)BLAS calls on small matrices (above BLAS's
//             threading threshold of 262144 m n k): the threads' wake-up
//             and synchronisation besides the call's flops, at a time per call;
//   handovers a threaded element-wise map (OpenMP) followed by a threaded
//             product (BLAS) or the reverse: the cores change hands, which
//             on a busy machine costs milliseconds;
//   commits   writes of the results file (each point's rows: a new file,
//             fsync, rename, fsync of the directory), at a time per commit;
//   starts    a process's start (the loader, MPI_Init, reading the
//             configuration: one per array task), at a time per start.
// Flops, elements, cached elements, entries and products are shared by the ranks of a task; the others are not.
#pragma once

namespace neurep {

struct Cost {
  double flops = 0, elements = 0, entries = 0, calls = 0, handovers = 0, commits = 0, products = 0, cached = 0, starts = 0;

  Cost& operator+=(const Cost& o) {
    flops += o.flops, elements += o.elements, entries += o.entries, calls += o.calls, handovers += o.handovers;
    commits += o.commits, products += o.products, cached += o.cached, starts += o.starts;
    return *this;
  }
  friend Cost operator+(Cost a, const Cost& b) { return a += b; }
  friend Cost operator*(double s, Cost a) {
    a.flops *= s, a.elements *= s, a.entries *= s, a.calls *= s, a.handovers *= s, a.commits *= s, a.products *= s;
    a.cached *= s, a.starts *= s;
    return a;
  }
};

// Rates of one rank. The defaults are nominal (about those of one rank of the
// 2-core development machine, quiet): a run weights its ETA with them and
// corrects it by the time its finished points took; `neurep plan` measures
// them (or scales them to a given DGEMM rate).
struct Rates {
  double flops_per_second = 60e9;
  double elements_per_second = 1.0e9;
  double entries_per_second = 1.5e8;
  double seconds_per_call = 1e-5;
  double seconds_per_handover = 1e-3;
  double seconds_per_commit = 0.1;
  double products_per_second = 1.0e8;
  double cached_elements_per_second = 3.0e9;
  double seconds_per_start = 0.5;

  // Seconds of `c` on `ranks` ranks (perfect scaling of the shared work: a lower bound).
  double seconds(const Cost& c, int ranks = 1) const {
    return (c.flops / flops_per_second + c.elements / elements_per_second + c.entries / entries_per_second +
            c.products / products_per_second + c.cached / cached_elements_per_second) /
               ranks +
           c.calls * seconds_per_call + c.handovers * seconds_per_handover + c.commits * seconds_per_commit +
           c.starts * seconds_per_start;
  }
};

}  // namespace neurep
