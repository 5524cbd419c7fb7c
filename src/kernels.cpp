#include "neurep/kernels.hpp"

#include <boost/mpi/collectives.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "neurep/errors.hpp"

namespace neurep {

KernelKind parse_kernel(const std::string& name) {
  if (name == "ntk") return KernelKind::Ntk;
  if (name == "ntk-full") return KernelKind::NtkFull;
  if (name == "nngp") return KernelKind::Nngp;
  if (name == "linear") return KernelKind::Linear;
  if (name == "empirical-ntk") return KernelKind::EmpiricalNtk;
  throw InputError(fmt::format("learner.kernel: unknown kernel \"{}\"; accepted: ntk, ntk-full, nngp, linear, empirical-ntk", name));
}

std::string kernel_name(KernelKind kind) {
  switch (kind) {
    case KernelKind::Ntk: return "ntk";
    case KernelKind::NtkFull: return "ntk-full";
    case KernelKind::Nngp: return "nngp";
    case KernelKind::Linear: return "linear";
    case KernelKind::EmpiricalNtk: return "empirical-ntk";
  }
  return "?";
}

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
  throw RuntimeError("kernel_value: " + kernel_name(kind) + " is not an inner-product kernel");
}

void apply_kernel(KernelKind kind, DistMatrix<double>& g, const std::vector<double>& row_sq,
                  const std::vector<double>& col_sq, bool lower_only) {
  if (kind == KernelKind::Linear) return;
  const int64_t lr = g.local_rows(), lc = g.local_cols();
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t lj = 0; lj < lc; ++lj) {
    const int64_t j = g.global_col(lj);
    const double b = col_sq[static_cast<size_t>(j)];
    for (int64_t li = 0; li < lr; ++li) {
      const int64_t i = g.global_row(li);
      if (lower_only && i < j) continue;
      double& v = g.local(li, lj);
      // On the diagonal t = 1 exactly: arccos has an infinite slope there, so
      // the rounding of <u,u> in the Gram product must not enter.
      if (lower_only && i == j) v = b;
      v = kernel_value(kind, v, row_sq[static_cast<size_t>(i)], b);
    }
  }
}

std::vector<double> row_norms_squared(const DistMatrix<double>& u) {
  std::vector<double> partial(static_cast<size_t>(u.rows()), 0.0), total(partial.size());
  for (int64_t lj = 0; lj < u.local_cols(); ++lj)
    for (int64_t li = 0; li < u.local_rows(); ++li) {
      const double v = u.local(li, lj);
      partial[static_cast<size_t>(u.global_row(li))] += v * v;
    }
  boost::mpi::all_reduce(u.grid().comm(), partial.data(), static_cast<int>(partial.size()),
                         total.data(), std::plus<double>());
  return total;
}

}  // namespace neurep
