#include "neurep/kernels.hpp"

#include <boost/mpi/collectives.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "neurep/errors.hpp"

namespace neurep {

double kappa0(double t) {
  t = std::clamp(t, -1.0, 1.0);
  return (M_PI - std::acos(t)) / M_PI;
}

double kappa1(double t) {
  t = std::clamp(t, -1.0, 1.0);
  return (std::sqrt(std::max(0.0, 1.0 - t * t)) + t * (M_PI - std::acos(t))) / M_PI;
}

double kernel_value(KernelKind kind, double g, double a, double b) {
  if (kind == KernelKind::Linear) return g;
  const double nn = std::sqrt(a * b);
  const double t = nn > 0 ? g / nn : 0.0;
  switch (kind) {
    case KernelKind::Ntk: return g * kappa0(t);
    case KernelKind::NtkFull: return nn * (t * kappa0(t) + kappa1(t));
    case KernelKind::Nngp: return nn * kappa1(t);
    default: break;
  }
  throw RuntimeError("kernel_value: " + name_of(kind) + " is not an inner-product kernel");
}

namespace {

// arccos on [-1, 1] without branches, so that the column loops below
// vectorise: the rational approximation R(z) of fdlibm/musl's acos (relative
// error below 2 ulp against glibc's acos; tests/test_kernels.cpp),
//   |x| < 1/2:  pi/2 - (x + x R(x^2)),
//   |x| >= 1/2: 2 (s + s R(z)) with z = (1 - |x|)/2, s = sqrt(z), reflected for x < 0.
// 1 - |x| is exact there, so the steep end t -> 1 keeps full relative accuracy.
// always_inline: the target clones below may only inline it when forced.
__attribute__((always_inline)) inline double acos_branchless(double x) {
  constexpr double pio2_hi = 1.57079632679489655800e+00, pio2_lo = 6.12323399573676603587e-17;
  constexpr double p0 = 1.66666666666666657415e-01, p1 = -3.25565818622400915405e-01,
                   p2 = 2.01212532134862925881e-01, p3 = -4.00555345006794114027e-02,
                   p4 = 7.91534994289814532176e-04, p5 = 3.47933107596021167570e-05,
                   q1 = -2.40339491173441421878e+00, q2 = 2.02094576023350569471e+00,
                   q3 = -6.88283971605453293030e-01, q4 = 7.70381505559019352791e-02;
  const double ax = x < 0 ? -x : x;
  const bool small = ax < 0.5;
  const double z = small ? x * x : 0.5 * (1.0 - ax);
  const double p = z * (p0 + z * (p1 + z * (p2 + z * (p3 + z * (p4 + z * p5)))));
  const double q = 1.0 + z * (q1 + z * (q2 + z * (q3 + z * q4)));
  const double r = p / q;
  const double s = std::sqrt(z);
  const double big = 2.0 * (s + s * r);  // arccos |x|
  const double centre = pio2_hi - (x - (pio2_lo - x * r));
  return small ? centre : (x > 0 ? big : 2.0 * pio2_hi - big);
}

// One column segment of the kernel map: v[i] <- k(v[i], a[i], b) with the
// inner products v[i], the squared row norms a[i] and the column's squared
// norm b, by the formulas of kernel_value (t = g/sqrt(ab): near t = +-1 the
// arc-cosine amplifies a rounding difference in t to ~sqrt(eps), so t is
// rounded exactly as there). Computed in double whatever the storage type T
// of v (float in single precision: only the stored value is rounded).
// Compiled for AVX-512, AVX2 and the baseline and picked at load time by the
// processor's features (the build stays portable); kernels.cpp is compiled
// with -fno-math-errno -fno-trapping-math so that sqrt and the selects
// vectorise, and with -ffp-contract=off so that every clone rounds
// identically (no FMA in one and not another).
template <typename T>
__attribute__((always_inline)) inline void map_segment_body(KernelKind kind, T* __restrict v,
                                                            const double* __restrict a, double b, int64_t len) {
  constexpr double inv_pi = 1.0 / M_PI;
  switch (kind) {
    case KernelKind::Ntk:
      for (int64_t i = 0; i < len; ++i) {
        const double g = v[i], nn = std::sqrt(a[i] * b), q = g / nn;
        double t = nn > 0 ? q : 0.0;
        t = t > 1.0 ? 1.0 : (t < -1.0 ? -1.0 : t);
        v[i] = static_cast<T>(g * ((M_PI - acos_branchless(t)) * inv_pi));
      }
      break;
    case KernelKind::NtkFull:
    case KernelKind::Nngp: {
      const bool full = kind == KernelKind::NtkFull;
      for (int64_t i = 0; i < len; ++i) {
        const double nn = std::sqrt(a[i] * b), q = v[i] / nn;
        double t = nn > 0 ? q : 0.0;
        t = t > 1.0 ? 1.0 : (t < -1.0 ? -1.0 : t);
        const double pa = M_PI - acos_branchless(t);
        const double k1 = (std::sqrt(1.0 - t * t) + t * pa) * inv_pi;
        v[i] = static_cast<T>(nn * (full ? t * (pa * inv_pi) + k1 : k1));
      }
      break;
    }
    default: break;
  }
}

__attribute__((target_clones("avx512f", "avx2", "default")))
void map_segment(KernelKind kind, double* __restrict v, const double* __restrict a, double b, int64_t len) {
  map_segment_body(kind, v, a, b, len);
}

__attribute__((target_clones("avx512f", "avx2", "default")))
void map_segment(KernelKind kind, float* __restrict v, const double* __restrict a, double b, int64_t len) {
  map_segment_body(kind, v, a, b, len);
}

}  // namespace

template <typename T>
void apply_kernel(KernelKind kind, DistMatrix<T>& g, const std::vector<double>& row_sq,
                  const std::vector<double>& col_sq, bool lower_only) {
  if (kind == KernelKind::Linear) return;
  if (kind != KernelKind::Ntk && kind != KernelKind::NtkFull && kind != KernelKind::Nngp)
    throw RuntimeError("apply_kernel: " + name_of(kind) + " is not an inner-product kernel");
  const int64_t lr = g.local_rows(), lc = g.local_cols();
  // Squared norms of the local rows, in local order, so the inner loop is contiguous.
  std::vector<double> a(static_cast<size_t>(lr));
  std::vector<int64_t> rows(static_cast<size_t>(lr));
  for (int64_t li = 0; li < lr; ++li) {
    rows[li] = g.global_row(li);
    a[li] = row_sq[static_cast<size_t>(rows[li])];
  }
#pragma omp parallel for schedule(dynamic, 8) if (lr * lc >= (int64_t(1) << 14))
  for (int64_t lj = 0; lj < lc; ++lj) {
    const int64_t j = g.global_col(lj);
    const double b = col_sq[static_cast<size_t>(j)];
    // Global rows grow with local rows: the lower triangle of this column is a suffix.
    const int64_t first = lower_only ? std::lower_bound(rows.begin(), rows.end(), j) - rows.begin() : 0;
    T* col = &g.local(0, lj);
    map_segment(kind, col + first, a.data() + first, b, lr - first);
    // On the diagonal t = 1 exactly: arccos has an infinite slope there, so
    // the rounding of <u,u> in the Gram product must not enter.
    if (lower_only && first < lr && rows[first] == j) col[first] = static_cast<T>(kernel_value(kind, b, b, b));
  }
}

template void apply_kernel(KernelKind, DistMatrix<double>&, const std::vector<double>&, const std::vector<double>&, bool);
template void apply_kernel(KernelKind, DistMatrix<float>&, const std::vector<double>&, const std::vector<double>&, bool);

template <typename T>
std::vector<double> row_norms_squared(const DistMatrix<T>& u) {
  std::vector<double> partial(static_cast<size_t>(u.rows()), 0.0), total(partial.size());
  for (int64_t lj = 0; lj < u.local_cols(); ++lj)
    for (int64_t li = 0; li < u.local_rows(); ++li) {
      const double v = static_cast<double>(u.local(li, lj));
      partial[static_cast<size_t>(u.global_row(li))] += v * v;
    }
  boost::mpi::all_reduce(u.grid().comm(), partial.data(), static_cast<int>(partial.size()),
                         total.data(), std::plus<double>());
  return total;
}

template std::vector<double> row_norms_squared(const DistMatrix<double>&);
template std::vector<double> row_norms_squared(const DistMatrix<float>&);

}  // namespace neurep
