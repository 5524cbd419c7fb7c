// The linear learner (learner.kind = "linear"): alpha . u + c by an exact
// least-squares solve (QR of the distributed [u 1]) against serial LAPACK
// dgels on the gathered matrix, on every grid shape of 1, 2 and 4 ranks;
// the closed forms (labels linear in u: error 0; labels orthogonal to [u 1]:
// the fitted function is 0); input_bias (u's constant coordinate is c's);
// fewer than 10 points per unknown (few-samples) and a duplicated column
// (rank-deficient: the fit over the other columns), the same on every rank.
#include <catch2/catch.hpp>

#include <boost/mpi/communicator.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "neurep/agreement.hpp"
#include "neurep/config.hpp"
#include "neurep/detail/scalapack_imports.hpp"
#include "neurep/learner.hpp"
#include "neurep/linalg.hpp"
#include "neurep/linear_learner.hpp"
#include "test_helpers.hpp"

using namespace neurep;

namespace {

class NoCheckpoints : public PointCheckpoints {
 public:
  const Checkpoint* earlier() const override { return nullptr; }
  void load_matrix(const std::string&, DistMatrix<double>&) const override {}
  void after_step(int64_t, const std::function<Checkpoint()>&) override {}
};

// An n x q matrix from a formula of the global indices, on `grid` (blocks of 4:
// every rank owns several blocks); `constant` appends a column of ones.
DistMatrix<double> matrix(const ProcessGrid& grid, int64_t n, int64_t q, double salt, bool constant = false,
                          int64_t duplicate = -1) {
  DistMatrix<double> a(grid, n, q + (constant ? 1 : 0), 4, 4);
  a.for_each_local(
      [&](int64_t i, int64_t j, double& v) { v = j == q ? 1.0 : test::entry(i, j == duplicate ? 1 : j, salt); });
  return a;
}

// Serial reference: min |[A 1] x - y| by LAPACK dgels on the gathered A (column-major).
std::vector<double> dgels_reference(std::vector<double> a, int64_t n, int64_t q, std::vector<double> y) {
  a.resize(static_cast<size_t>(n * (q + 1)), 1.0);  // the constant column
  const int m = static_cast<int>(n), k = static_cast<int>(q + 1), one = 1;
  int info = 0, lwork = -1;
  double query = 0;
  dgels_("N", &m, &k, &one, a.data(), &m, y.data(), &m, &query, &lwork, &info);
  lwork = static_cast<int>(query);
  std::vector<double> work(static_cast<size_t>(lwork));
  dgels_("N", &m, &k, &one, a.data(), &m, y.data(), &m, work.data(), &lwork, &info);
  REQUIRE(info == 0);
  y.resize(static_cast<size_t>(k));
  return y;
}

// [A 1] x for a gathered A (column-major, n x q).
std::vector<double> predict(const std::vector<double>& a, int64_t n, int64_t q, const std::vector<double>& x) {
  std::vector<double> p(static_cast<size_t>(n), x[static_cast<size_t>(q)]);
  for (int64_t j = 0; j < q; ++j)
    for (int64_t i = 0; i < n; ++i)
      p[static_cast<size_t>(i)] += a[static_cast<size_t>(i + j * n)] * x[static_cast<size_t>(j)];
  return p;
}

double relative_mse(const std::vector<double>& p, const std::vector<double>& y, double variance) {
  double s = 0;
  for (size_t i = 0; i < p.size(); ++i) s += (p[i] - y[i]) * (p[i] - y[i]);
  return s / static_cast<double>(p.size()) / variance;
}

// A nonlinear function of row i of the inputs: labels no linear fit reaches.
std::vector<double> labels(const std::vector<double>& a, int64_t n, int64_t q, double shift) {
  std::vector<double> y(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double s = shift;
    for (int64_t j = 0; j < q; ++j) s += (j + 1) * 0.3 * a[static_cast<size_t>(i + j * n)];
    y[static_cast<size_t>(i)] = std::sin(s) + 0.2 * s * s;
  }
  return y;
}

Config linear_config(const std::string& more = "") {
  return parse_config("[data]\ndim = 7\n[learner]\nkind = \"linear\"\n" + more + "[sweep]\nn_train = [100]\n", {});
}

FitResult fit(const Config& config, const ProcessGrid& grid, const DistMatrix<double>& u, const std::vector<double>& y,
              const DistMatrix<double>& ut, const std::vector<double>& f, double variance) {
  const RandomStreams streams(2020, 0);
  const PointInputs in{{u, y, ut, f, variance}, 7, streams, grid, nullptr};
  NoCheckpoints none;
  const PointOutputs out = make_learner(config)->fit(in, none);
  REQUIRE(out.rows.size() == 1);
  CHECK(out.curve.step.empty());
  return out.rows[0];
}

double rel(double a, double b) {
  return std::abs(a - b) / std::abs(b);
}

}  // namespace

TEST_CASE("the linear learner equals serial LAPACK dgels on the gathered [u 1], on every grid shape") {
  boost::mpi::communicator world;
  const int64_t q = 7, nt = 50;
  const double variance = 1.7;
  for (int64_t n : {100, 43}) {  // 100 >= 10 (q + 1): ok; 43: few-samples
    for (const GridShape shape : test::all_shapes(world.size())) {
      INFO("n = " << n << ", grid " << shape.rows << "x" << shape.cols);
      ProcessGrid grid(world, shape);
      const DistMatrix<double> u = matrix(grid, n, q, 0.0), ut = matrix(grid, nt, q, 0.7);
      const std::vector<double> a = linalg::gather_all(u), at = linalg::gather_all(ut);
      const std::vector<double> y = labels(a, n, q, 0.1), f = labels(at, nt, q, 0.1);
      const std::vector<double> x = dgels_reference(a, n, q, y);
      const double train = relative_mse(predict(a, n, q, x), y, variance);
      const double test = relative_mse(predict(at, nt, q, x), f, variance);
      REQUIRE(train > 1e-3);  // the labels are not linear in u: a real residual
      const FitResult r = fit(linear_config(), grid, u, y, ut, f, variance);
      CHECK(r.status == (n == 100 ? "ok" : "few-samples"));
      CHECK(rel(r.train_error, train) < 1e-10);
      CHECK(rel(r.test_error, test) < 1e-10);
      CHECK(rel(r.extra.at("output_bias"), x[static_cast<size_t>(q)]) < 1e-10);
      CHECK(r.extra.at("r_diagonal_ratio") > 1e-3);
      CHECK(r.extra.at("rank") == q + 1);
      CHECK(std::isnan(r.ridge));

      // input_bias: u's last coordinate is the constant, whose coefficient is c: the same fit.
      const DistMatrix<double> ub = matrix(grid, n, q, 0.0, true), utb = matrix(grid, nt, q, 0.7, true);
      const FitResult b = fit(linear_config("input_bias = true\n"), grid, ub, y, utb, f, variance);
      CHECK(b.status == r.status);
      CHECK(rel(b.test_error, test) < 1e-10);
      CHECK(rel(b.extra.at("output_bias"), x[static_cast<size_t>(q)]) < 1e-10);
    }
  }
}

TEST_CASE("closed forms: labels linear in u are fitted exactly; labels orthogonal to [u 1] give the zero function") {
  boost::mpi::communicator world;
  ProcessGrid grid(world, parse_grid_shape("auto", world.size(), GridWork::Tall));
  const int64_t n = 120, q = 7, nt = 60;
  const DistMatrix<double> u = matrix(grid, n, q, 0.3), ut = matrix(grid, nt, q, 1.1);
  const std::vector<double> a = linalg::gather_all(u), at = linalg::gather_all(ut);
  const std::vector<double> w = {0.5, -1.0, 0.25, 2.0, 0.0, -0.75, 1.5, 0.3};  // alpha, then c
  const std::vector<double> y = predict(a, n, q, w), f = predict(at, nt, q, w);
  const FitResult exact = fit(linear_config(), grid, u, y, ut, f, 1.0);
  CHECK(exact.status == "ok");
  CHECK(exact.train_error < 1e-24);
  CHECK(exact.test_error < 1e-24);
  CHECK(std::abs(exact.extra.at("output_bias") - 0.3) < 1e-12);

  // z minus its projection on [u 1] is orthogonal to every column: the best fit is 0,
  // so the errors are the labels' and the test targets' mean squares.
  const std::vector<double> z = labels(a, n, q, 0.4);
  const std::vector<double> zx = dgels_reference(a, n, q, z), zp = predict(a, n, q, zx);
  std::vector<double> orth(z.size());
  for (size_t i = 0; i < z.size(); ++i) orth[i] = z[i] - zp[i];
  const std::vector<double> ft = labels(at, nt, q, 0.9), zero_n(static_cast<size_t>(n)),
                            zero_t(static_cast<size_t>(nt));
  const FitResult o = fit(linear_config(), grid, u, orth, ut, ft, 2.0);
  CHECK(o.status == "ok");
  CHECK(rel(o.train_error, relative_mse(zero_n, orth, 2.0)) < 1e-10);
  CHECK(rel(o.test_error, relative_mse(zero_t, ft, 2.0)) < 1e-10);
  CHECK(std::abs(o.extra.at("output_bias")) < 1e-12);
}

TEST_CASE("a duplicated column: rank-deficient, and the fit over the other columns (the same span), on every grid") {
  boost::mpi::communicator world;
  for (const GridShape shape : test::all_shapes(world.size())) {
    INFO("grid " << shape.rows << "x" << shape.cols);
    ProcessGrid grid(world, shape);
    const int64_t n = 100, q = 7, nt = 30;
    // Column 4 repeats column 1 (in the training and the test inputs).
    const DistMatrix<double> u = matrix(grid, n, q, 0.0, false, 4), ut = matrix(grid, nt, q, 0.5, false, 4);
    const std::vector<double> a = linalg::gather_all(u), at = linalg::gather_all(ut);
    const std::vector<double> y = labels(a, n, q, 0.2), f = labels(at, nt, q, 0.2);
    const FitResult r = fit(linear_config(), grid, u, y, ut, f, 1.0);
    CHECK(r.status == "rank-deficient");
    CHECK(r.extra.at("rank") == 7);
    CHECK(r.extra.at("r_diagonal_ratio") < 1e-12);
    // The reference: dgels without column 4.
    std::vector<double> a6(a.begin(), a.begin() + 4 * n), at6(at.begin(), at.begin() + 4 * nt);
    a6.insert(a6.end(), a.begin() + 5 * n, a.end());
    at6.insert(at6.end(), at.begin() + 5 * nt, at.end());
    const std::vector<double> x = dgels_reference(a6, n, q - 1, y);
    CHECK(rel(r.train_error, relative_mse(predict(a6, n, q - 1, x), y, 1.0)) < 1e-10);
    CHECK(rel(r.test_error, relative_mse(predict(at6, nt, q - 1, x), f, 1.0)) < 1e-10);
    // rank 0's verdict on every rank
    CHECK(test::on_every_rank(world, from_rank0(world, r.status) == r.status));
  }
}

TEST_CASE("least_squares_status: few-samples below 10 points per unknown, else rank-deficient below full rank") {
  CHECK(least_squares_status(30, 3, 3) == "ok");
  CHECK(least_squares_status(29, 3, 3) == "few-samples");
  CHECK(least_squares_status(30, 3, 2) == "rank-deficient");
  CHECK(least_squares_status(29, 3, 2) == "few-samples");
}

TEST_CASE("learner.kind = \"linear\": the registry, its keys and the unknowns n must cover") {
  const auto learner = make_learner(linear_config());
  CHECK(learner->label() == "linear");
  CHECK(learner->grid_work() == GridWork::Tall);
  CHECK_FALSE(learner->selects_rows());
  CHECK(learner->refit(10) == nullptr);
  CHECK(learner->memory_words(7, 100, 50) == Approx(100.0 * 10 + 50));
  // n >= dim u + 1 (8 at d = 7); a random representation's D + 1 (2 d^2 + 1 = 99).
  CHECK_THROWS_WITH(parse_config("[data]\ndim = 7\n[learner]\nkind = \"linear\"\n[sweep]\nn_train = [7]\n", {}),
                    Catch::StartsWith("sweep.n_train: n = 7 training points cannot determine the 8 unknowns"));
  CHECK_NOTHROW(parse_config("[data]\ndim = 7\n[learner]\nkind = \"linear\"\n[sweep]\nn_train = [8]\n", {}));
  CHECK_THROWS_WITH(parse_config("[data]\ndim = 7\n[representation]\nkind = \"random\"\n[learner]\nkind = \"linear\"\n"
                                 "[sweep]\nn_train = [98]\n",
                                 {}),
                    Catch::StartsWith("sweep.n_train: n = 98 training points cannot determine the 99 unknowns"));
  // A kernel's or a Taylor model's key is an error; so is the infinite-width representation.
  CHECK_THROWS_WITH(parse_config("[learner]\nkind = \"linear\"\nridge = [1e-3]\n", {}),
                    Catch::StartsWith("learner.ridge:"));
  CHECK_THROWS_WITH(parse_config("[learner]\nkind = \"linear\"\nvalidation_fraction = 0.2\n", {}),
                    Catch::StartsWith("learner.validation_fraction:"));
  CHECK_THROWS_WITH(parse_config("[representation]\nkind = \"random\"\ninfinite = true\nwhiten = \"center\"\n"
                                 "[learner]\nkind = \"linear\"\n",
                                 {}),
                    Catch::StartsWith("representation.infinite:"));
}
