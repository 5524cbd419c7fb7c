#include "neurep/solver_mixed.hpp"

#include <boost/mpi/collectives.hpp>

#include <cmath>
#include <functional>
#include <limits>

#include "neurep/linalg.hpp"

namespace neurep {

namespace {

// Sums of `part` over the grid, reduced on rank 0 and broadcast: the same bits on every rank.
std::vector<double> shared_sums(const boost::mpi::communicator& comm, std::vector<double> part) {
  std::vector<double> total(part.size());
  boost::mpi::reduce(comm, part.data(), static_cast<int>(part.size()), total.data(), std::plus<double>(), 0);
  boost::mpi::broadcast(comm, total.data(), static_cast<int>(total.size()), 0);
  return total;
}

double local_sum_squares(const DistMatrix<double>& a) {
  double s = 0;
  for (int64_t lj = 0; lj < a.local_cols(); ++lj)
    for (int64_t li = 0; li < a.local_rows(); ++li) s += a.local(li, lj) * a.local(li, lj);
  return s;
}

}  // namespace

RefinementResult refine_mixed(const DistMatrix<double>& k, double shift, const DistMatrix<float>& factor,
                              const DistMatrix<double>& b, DistMatrix<double>& x, double tolerance,
                              int64_t max_iterations) {
  const ProcessGrid& grid = k.grid();
  const int64_t n = k.rows(), nrhs = b.cols();
  const int nb = b.row_block();
  // |A|_F^2 from the lower triangle (off-diagonal entries count twice).
  double a_sq = 0;
  for (int64_t lj = 0; lj < k.local_cols(); ++lj) {
    const int64_t j = k.global_col(lj);
    for (int64_t li = 0; li < k.local_rows(); ++li) {
      const int64_t i = k.global_row(li);
      if (i > j) a_sq += 2 * k.local(li, lj) * k.local(li, lj);
      else if (i == j) a_sq += (k.local(li, lj) + shift) * (k.local(li, lj) + shift);
    }
  }
  const auto norms0 = shared_sums(grid.comm(), {a_sq, local_sum_squares(b)});
  const double a_norm = std::sqrt(norms0[0]), b_norm = std::sqrt(norms0[1]);

  DistMatrix<float> c(grid, n, nrhs, nb, nb);
  DistMatrix<double> r(grid, n, nrhs, nb, nb), x_prev(grid, n, nrhs, nb, nb);
  // x_0 from the float factor.
  linalg::convert(b, c);
  linalg::potrs_lower(factor, c);
  linalg::convert(c, x);

  RefinementResult res;
  double prev = std::numeric_limits<double>::infinity();
  for (int64_t step = 0;; ++step) {
    // r = b - (K + shift I) x, in double.
    std::copy(b.data(), b.data() + b.lld() * b.local_cols(), r.data());
    linalg::symm_lower(-1.0, k, x, 1.0, r);
    for (int64_t lj = 0; lj < r.local_cols(); ++lj)
      for (int64_t li = 0; li < r.local_rows(); ++li) r.local(li, lj) -= shift * x.local(li, lj);
    const auto s = shared_sums(grid.comm(), {local_sum_squares(r), local_sum_squares(x)});
    const double rel = b_norm > 0 ? std::sqrt(s[0]) / b_norm : std::sqrt(s[0]);
    if (!(rel <= 0.5 * prev)) {  // stalled (or NaN)
      const bool revert = step > 0 && !(rel <= prev);  // the previous iterate was better: keep it
      if (revert) std::copy(x_prev.data(), x_prev.data() + x.lld() * x.local_cols(), x.data());
      res.residual = revert ? prev : rel;
      res.iterations = static_cast<int>(revert ? step - 1 : step);
      // Normwise backward error (|x| of the current iterate; the kept one
      // differs from it by one correction).
      const double eta = res.residual * b_norm / (a_norm * std::sqrt(s[1]) + b_norm);
      res.converged = eta <= 1e-12;
      return res;
    }
    res.residual = rel;
    res.iterations = static_cast<int>(step);
    if (rel <= tolerance) {
      res.converged = true;
      return res;
    }
    if (step >= max_iterations) return res;  // not converged within the allowed steps
    prev = rel;
    std::copy(x.data(), x.data() + x.lld() * x.local_cols(), x_prev.data());
    linalg::convert(r, c);
    linalg::potrs_lower(factor, c);
    for (int64_t lj = 0; lj < x.local_cols(); ++lj)
      for (int64_t li = 0; li < x.local_rows(); ++li) x.local(li, lj) += static_cast<double>(c.local(li, lj));
  }
}

}  // namespace neurep
