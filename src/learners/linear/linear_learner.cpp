#include "neurep/linear_learner.hpp"

#include <boost/mpi/collectives.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "neurep/linalg.hpp"

namespace neurep {
namespace {

// The mean squared difference of `a` and `b` over the target variance.
double relative_mse(const std::vector<double>& a, const std::vector<double>& b, double variance) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += (a[i] - b[i]) * (a[i] - b[i]);
  return sum / static_cast<double>(a.size()) / variance;
}

class LinearLearner : public Learner {
 public:
  explicit LinearLearner(const Config& c) : constant_in_u_(c.learner.input_bias) {
    if (const RandomRepresentationConfig* r = c.representation.random()) width_ = r->width;
  }

  std::string label() const override { return "linear"; }
  // QR of a tall matrix: samples along the grid rows.
  GridWork grid_work() const override { return GridWork::Tall; }

  double memory_words(int d, int64_t n, int64_t n_test) const override {
    // [u 1] copied for the factorisation, the right-hand side and the predictions.
    return static_cast<double>(n) * static_cast<double>(unknowns(d) + 2) + static_cast<double>(n_test);
  }

  Cost cost(int d, int64_t n, int64_t n_test) const override {
    // Householder QR of the n x k matrix, Q^T y, and the predictions; a
    // copy of [u 1] and a few ScaLAPACK calls.
    const double k = static_cast<double>(unknowns(d)), nn = static_cast<double>(n);
    Cost c;
    c.flops = 2.0 * nn * k * k - 2.0 * k * k * k / 3.0 + 2.0 * (nn + static_cast<double>(n_test)) * k;
    c.elements = 2.0 * nn * k;
    c.calls = 8;
    return c;
  }

  PointOutputs fit(const PointInputs& in, PointCheckpoints&) const override {
    const auto start = std::chrono::steady_clock::now();
    const DistMatrix<double>& u = in.data.u_train;
    const ProcessGrid& grid = in.grid;
    const int64_t n = u.rows(), q = u.cols(), k = constant_in_u_ ? q : q + 1;
    const int mb = u.row_block(), nb = u.col_block();

    // [u 1] (u itself when its last coordinate already is the constant) and y.
    DistMatrix<double> a(grid, n, k, mb, nb);
    linalg::copy_leading_columns(u, a);
    if (!constant_in_u_)
      a.for_each_local([&](int64_t, int64_t j, double& v) {
        if (j == q) v = 1.0;
      });
    DistMatrix<double> b(grid, n, 1, mb, nb);
    linalg::fill_columns(b, in.data.y_train);
    const double rcond = static_cast<double>(std::max(n, k)) * std::numeric_limits<double>::epsilon();
    const linalg::LeastSquares fit = linalg::least_squares(a, b, rcond);

    FitResult row;
    row.status = least_squares_status(n, k, fit.rank);
    row.extra["rank"] = static_cast<double>(fit.rank);
    row.extra["r_diagonal_ratio"] = fit.r_diagonal.front() > 0 ? fit.r_diagonal.back() / fit.r_diagonal.front() : 0.0;
    // The coefficients: alpha on u's columns, then c (u's last one with input_bias).
    const std::vector<double>& x = fit.x;
    const double c = x[static_cast<size_t>(k - 1)];
    DistMatrix<double> alpha(grid, q, 1, nb, nb);
    alpha.for_each_local([&](int64_t i, int64_t, double& v) { v = x[static_cast<size_t>(i)]; });
    // Predictions alpha . u (+ c when u has no constant coordinate), on every rank.
    const auto predict = [&](const DistMatrix<double>& v) {
      DistMatrix<double> p(grid, v.rows(), 1, v.row_block(), v.col_block());
      linalg::gemm(linalg::Op::N, linalg::Op::N, 1.0, v, alpha, 0.0, p);
      std::vector<double> out = linalg::gather_column(p, 0);
      if (!constant_in_u_)
        for (double& o : out) o += c;
      return out;
    };
    const double variance = in.data.target_variance;
    row.train_error = relative_mse(predict(u), in.data.y_train, variance);
    row.test_error = relative_mse(predict(in.data.u_test), in.data.f_test, variance);
    row.extra["output_bias"] = c;
    row.flops = cost(in.d, n, in.data.u_test.rows()).flops;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    boost::mpi::all_reduce(grid.comm(), seconds, row.seconds, boost::mpi::maximum<double>());
    PointOutputs out;
    out.rows = {row};
    return out;
  }

 private:
  // dim u + 1 at d: alpha and c.
  int64_t unknowns(int d) const { return (width_.text().empty() ? d : width_.at(d)) + 1; }

  bool constant_in_u_;  // learner.input_bias: u's last coordinate is the constant, whose coefficient is c
  SizeExpr width_;      // D of a random representation; empty for raw x
};

}  // namespace

std::string least_squares_status(int64_t n, int64_t unknowns, int64_t rank) {
  if (n < 10 * unknowns) return "few-samples";
  return rank < unknowns ? "rank-deficient" : "ok";
}

std::unique_ptr<Learner> make_linear_learner(const Config& config) {
  return std::make_unique<LinearLearner>(config);
}

}  // namespace neurep
