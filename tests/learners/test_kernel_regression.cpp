// The distributed kernel solve against a serial LAPACK solve of the same
// system, on every grid shape of the ranks the test runs on.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "neurep/data.hpp"
#include "neurep/detail/scalapack_imports.hpp"
#include "neurep/kernel_regression.hpp"
#include "neurep/linalg.hpp"
#include "neurep/infinite_gram.hpp"
#include "test_helpers.hpp"

using namespace neurep;

namespace {

struct Problem {
  int n = 120, nt = 70, q = 6;
  std::vector<double> y, f;  // labels, test targets
  Problem() {
    y.resize(n), f.resize(nt);
    for (int i = 0; i < n; ++i) y[i] = test::entry(i, 99) * 2;
    for (int i = 0; i < nt; ++i) f[i] = test::entry(i + 500, 99) * 2;
  }
  double u(int64_t i, int64_t j) const { return test::entry(i, j, 0.25); }       // train inputs
  double ut(int64_t i, int64_t j) const { return test::entry(i + 500, j, 0.25); }  // test inputs

  // The training and test inputs on a grid.
  std::pair<DistMatrix<double>, DistMatrix<double>> inputs(const ProcessGrid& grid, int block) const {
    DistMatrix<double> a(grid, n, q, block, block), b(grid, nt, q, block, block);
    a.for_each_local([&](int64_t i, int64_t j, double& v) { v = u(i, j); });
    b.for_each_local([&](int64_t i, int64_t j, double& v) { v = ut(i, j); });
    return {std::move(a), std::move(b)};
  }
};

// Serial reference: the kernel from kernel_value, (K + shift I) by dpotrf/dpotrs,
// predictions and errors by loops.
std::pair<double, double> serial_errors(const Problem& p, KernelKind kind, double ridge) {
  auto ip = [&](auto&& a, int64_t i, auto&& b, int64_t j) {
    double s = 0;
    for (int c = 0; c < p.q; ++c) s += a(i, c) * b(j, c);
    return s;
  };
  auto U = [&](int64_t i, int64_t j) { return p.u(i, j); };
  auto T = [&](int64_t i, int64_t j) { return p.ut(i, j); };
  std::vector<double> k(p.n * p.n);
  double md = 0;
  for (int i = 0; i < p.n; ++i) md += kernel_value(kind, ip(U, i, U, i), ip(U, i, U, i), ip(U, i, U, i)) / p.n;
  const double shift = p.n * ridge * md;
  for (int j = 0; j < p.n; ++j)
    for (int i = 0; i < p.n; ++i) k[i + j * p.n] = kernel_value(kind, ip(U, i, U, j), ip(U, i, U, i), ip(U, j, U, j)) + (i == j ? shift : 0);
  std::vector<double> alpha = p.y;
  int info = 0, one = 1;
  dpotrf_("L", &p.n, k.data(), &p.n, &info);
  REQUIRE(test::on_every_rank(boost::mpi::communicator(), info == 0));
  dpotrs_("L", &p.n, &one, k.data(), &p.n, alpha.data(), &p.n, &info);
  double train = 0, test = 0;
  for (int i = 0; i < p.n; ++i) train += std::pow(shift * alpha[i], 2);
  for (int i = 0; i < p.nt; ++i) {
    double pred = 0;
    for (int j = 0; j < p.n; ++j) pred += kernel_value(kind, ip(T, i, U, j), ip(T, i, T, i), ip(U, j, U, j)) * alpha[j];
    test += std::pow(pred - p.f[i], 2);
  }
  return {train / p.n, test / p.nt};
}

}  // namespace

TEST_CASE("Cholesky solve: scaled residual against the serial matrix") {
  boost::mpi::communicator world;
  const int n = 97;
  std::vector<double> a(n * n);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < n; ++i) a[i + j * n] = test::entry(std::min(i, j), std::max(i, j)) + (i == j ? n : 0);
  for (GridShape shape : test::all_shapes(world.size())) {
    ProcessGrid grid(world, shape);
    DistMatrix<double> da(grid, n, n, 8, 8), b(grid, n, 1, 8, 8);
    da.for_each_local([&](int64_t i, int64_t j, double& v) { v = a[i + j * n]; });
    b.for_each_local([&](int64_t i, int64_t, double& v) { v = test::entry(i, 3); });
    REQUIRE(test::on_every_rank(world, linalg::potrf_lower(da) == 0));
    linalg::potrs_lower(da, b);
    const auto x = linalg::gather_column(b, 0);
    double rmax = 0, anorm = 0, xnorm = 0, bnorm = 0;
    for (int i = 0; i < n; ++i) {
      double r = -test::entry(i, 3), row = 0;
      for (int j = 0; j < n; ++j) r += a[i + j * n] * x[j], row += std::abs(a[i + j * n]);
      rmax = test::worst(rmax, std::abs(r));
      anorm = test::worst(anorm, row);
      xnorm = test::worst(xnorm, std::abs(x[i]));
      bnorm = test::worst(bnorm, std::abs(test::entry(i, 3)));
    }
    const double scaled = rmax / (std::numeric_limits<double>::epsilon() * n * (anorm * xnorm + bnorm));
    INFO("grid " << shape.rows << "x" << shape.cols << " scaled residual " << scaled);
    CHECK(scaled < 1.0);
  }
}

TEST_CASE("kernel regression matches the serial LAPACK solution on every grid") {
  boost::mpi::communicator world;
  const Problem p;
  for (KernelKind kind : {KernelKind::Ntk, KernelKind::NtkFull, KernelKind::Nngp, KernelKind::Linear}) {
    const double ridge = 1e-2;  // well conditioned: agreement limited by rounding only
    const auto ref = serial_errors(p, kind, ridge);
    for (GridShape shape : test::all_shapes(world.size())) {
      ProcessGrid grid(world, shape);
      for (int block : {4, 32}) {
        const auto [u, ut] = p.inputs(grid, block);
        KernelRegressionOptions opt;
        opt.kernel = kind;
        opt.ridges = {ridge};
        opt.block = block;
        const auto rows = kernel_regression(FeatureGram(u, ut), p.y, p.f, 1.0, opt, grid);
        INFO(name_of(kind) << " grid " << shape.rows << "x" << shape.cols << " block " << block);
        REQUIRE(test::on_every_rank(world, rows.size() == 1));
        CHECK(rows[0].status == "ok");
        CHECK(rows[0].test_error == Approx(ref.second).epsilon(1e-10));
        CHECK(rows[0].train_error == Approx(ref.first).epsilon(1e-10));
      }
    }
  }
}

TEST_CASE("several ridges: one eigendecomposition agrees with a Cholesky per ridge") {
  boost::mpi::communicator world;
  const Problem p;
  ProcessGrid grid(world, parse_grid_shape("auto", world.size()));
  const auto [u, ut] = p.inputs(grid, 16);
  KernelRegressionOptions opt;
  opt.ridges = {1e-5, 1e-3, 1e-1};
  opt.block = 16;
  opt.solver = KernelSolver::Eigen;
  const auto eig = kernel_regression(FeatureGram(u, ut), p.y, p.f, 1.0, opt, grid);
  opt.solver = KernelSolver::Cholesky;
  const auto chol = kernel_regression(FeatureGram(u, ut), p.y, p.f, 1.0, opt, grid);
  REQUIRE(test::on_every_rank(world, eig.size() == 3 && chol.size() == 3));
  for (size_t l = 0; l < 3; ++l) {
    CHECK(eig[l].ridge == opt.ridges[l]);
    CHECK(eig[l].test_error == Approx(chol[l].test_error).epsilon(1e-7));
    CHECK(eig[l].train_error == Approx(chol[l].train_error).epsilon(1e-6));
    CHECK(eig[l].test_error == Approx(serial_errors(p, KernelKind::Ntk, opt.ridges[l]).second).epsilon(1e-7));
  }
  // More regularisation fits the training labels less closely.
  CHECK(eig[0].train_error < eig[1].train_error);
  CHECK(eig[1].train_error < eig[2].train_error);
}

TEST_CASE("leave-one-out errors from the eigendecomposition equal n refits without one point") {
  boost::mpi::communicator world;
  const Problem p;
  ProcessGrid grid(world, parse_grid_shape("auto", world.size()));
  const auto [u, ut] = p.inputs(grid, 16);
  KernelRegressionOptions opt;
  opt.ridges = {1e-4, 1e-2, 1.0};
  opt.block = 16;
  opt.leave_one_out = true;
  const auto rows = kernel_regression(FeatureGram(u, ut), p.y, p.f, 1.0, opt, grid);
  // Brute force, serially: drop point i, solve with the same absolute shift, predict y_i.
  const int n = p.n;
  std::vector<double> k(n * n);
  double md = 0;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      double g = 0, a = 0, b = 0;
      for (int c = 0; c < p.q; ++c) g += p.u(i, c) * p.u(j, c), a += p.u(i, c) * p.u(i, c), b += p.u(j, c) * p.u(j, c);
      k[i + j * n] = kernel_value(KernelKind::Ntk, i == j ? a : g, a, b);
    }
  for (int i = 0; i < n; ++i) md += k[i + i * n] / n;
  int best = 0;
  for (size_t l = 0; l < opt.ridges.size(); ++l) {
    const double shift = n * opt.ridges[l] * md;
    double sq = 0;
    for (int out = 0; out < n; ++out) {
      const int m = n - 1;
      std::vector<double> a(m * m), rhs(m);
      for (int j = 0, jj = 0; j < n; ++j) {
        if (j == out) continue;
        rhs[jj] = p.y[j];
        for (int i = 0, ii = 0; i < n; ++i) {
          if (i == out) continue;
          a[ii + jj * m] = k[i + j * n] + (i == j ? shift : 0);
          ++ii;
        }
        ++jj;
      }
      int info = 0, one = 1;
      dpotrf_("L", &m, a.data(), &m, &info);
      dpotrs_("L", &m, &one, a.data(), &m, rhs.data(), &m, &info);
      double pred = 0;
      for (int j = 0, jj = 0; j < n; ++j)
        if (j != out) pred += k[out + j * n] * rhs[jj++];
      sq += (pred - p.y[out]) * (pred - p.y[out]);
    }
    INFO("ridge " << opt.ridges[l]);
    CHECK(rows[l].extra.at("validation_error") == Approx(sq / n).epsilon(1e-8));
    if (rows[l].extra.at("validation_error") < rows[best].extra.at("validation_error")) best = static_cast<int>(l);
  }
  for (size_t l = 0; l < opt.ridges.size(); ++l) CHECK(rows[l].extra.at("selected") == (int(l) == best ? 1.0 : 0.0));
}

TEST_CASE("the eigen path works when n is below the block size") {
  boost::mpi::communicator world;
  const Problem p;
  ProcessGrid grid(world, parse_grid_shape("auto", world.size()));
  const auto [u, ut] = p.inputs(grid, 128);
  KernelRegressionOptions opt;
  opt.ridges = {1e-2, 1e-1};
  opt.block = 128;
  opt.solver = KernelSolver::Eigen;
  const auto rows = kernel_regression(FeatureGram(u, ut), p.y, p.f, 1.0, opt, grid);
  for (size_t l = 0; l < 2; ++l)
    CHECK(rows[l].test_error == Approx(serial_errors(p, KernelKind::Ntk, opt.ridges[l]).second).epsilon(1e-9));
}


// run.precision = "single": the same path on float storage. Its results are
// the double ones to float accuracy -- and not bit-for-bit the double ones,
// which would mean the float path silently ran in double.
namespace {
std::vector<FitResult> fit_both(const GramSource& gram, const Problem& p, KernelRegressionOptions opt,
                                const ProcessGrid& grid, bool single) {
  opt.single_precision = single;
  return kernel_regression(gram, p.y, p.f, 1.0, opt, grid);
}
double relative(double a, double b) { return std::abs(a - b) / std::abs(b); }
// Float accuracy of a solve: rounding (6e-8) amplified by the condition of
// K + shift I, which grows as the ridge shrinks (~1e2 at 1e-2, ~1e4 at 1e-4 here).
double float_tolerance(double ridge) { return ridge >= 1e-2 ? 1e-5 : 5e-4; }
}  // namespace

TEST_CASE("single precision: the double results to float accuracy on every grid") {
  boost::mpi::communicator world;
  const Problem p;
  for (KernelKind kind : {KernelKind::Ntk, KernelKind::NtkFull, KernelKind::Nngp, KernelKind::Linear}) {
    for (double ridge : {1e-4, 1e-2}) {
      const double ref = serial_errors(p, kind, ridge).second;
      double first = 0;
      for (GridShape shape : test::all_shapes(world.size())) {
        ProcessGrid grid(world, shape);
        for (int block : {4, 32}) {
          const auto [u, ut] = p.inputs(grid, block);
          KernelRegressionOptions opt;
          opt.kernel = kind;
          opt.ridges = {ridge};
          opt.block = block;
          const auto rows = fit_both(FeatureGram(u, ut), p, opt, grid, true);
          INFO(name_of(kind) << " ridge " << ridge << " grid " << shape.rows << "x" << shape.cols << " block " << block);
          REQUIRE(test::on_every_rank(world, rows[0].status == "ok"));
          const double rel = relative(rows[0].test_error, ref);
          CHECK(rel < float_tolerance(ridge));
          CHECK(rel > 1e-12);  // really computed in float
          // Grids and blocks differ by float reassociation only.
          if (first == 0) first = rows[0].test_error;
          CHECK(relative(rows[0].test_error, first) < float_tolerance(ridge));
        }
      }
    }
  }
}

TEST_CASE("single precision: eigen path and leave-one-out errors match double") {
  boost::mpi::communicator world;
  const Problem p;
  ProcessGrid grid(world, parse_grid_shape("auto", world.size()));
  const auto [u, ut] = p.inputs(grid, 16);
  KernelRegressionOptions opt;
  opt.ridges = {1e-4, 1e-2, 1.0};
  opt.block = 16;
  opt.leave_one_out = true;
  const auto d = fit_both(FeatureGram(u, ut), p, opt, grid, false);
  const auto s = fit_both(FeatureGram(u, ut), p, opt, grid, true);
  REQUIRE(test::on_every_rank(world, s.size() == 3 && d.size() == 3));
  for (size_t l = 0; l < 3; ++l) {
    INFO("ridge " << opt.ridges[l]);
    CHECK(s[l].status == "ok");
    CHECK(relative(s[l].test_error, d[l].test_error) < float_tolerance(opt.ridges[l]));
    CHECK(relative(s[l].train_error, d[l].train_error) < float_tolerance(opt.ridges[l]));
    CHECK(relative(s[l].extra.at("validation_error"), d[l].extra.at("validation_error")) < float_tolerance(opt.ridges[l]));
    CHECK(s[l].extra.at("selected") == d[l].extra.at("selected"));
  }
}

TEST_CASE("single precision: the closed-form infinite-width Gram in float") {
  boost::mpi::communicator world;
  const Problem p;
  ProcessGrid grid(world, parse_grid_shape("auto", world.size()));
  const auto [u, ut] = p.inputs(grid, 16);
  const InfiniteKernel kernel(FeatureActivation::Relu, true, 1, p.q);
  KernelRegressionOptions opt;
  opt.ridges = {1e-3};
  opt.block = 16;
  const auto d = fit_both(InfiniteGram(kernel, u, ut), p, opt, grid, false);
  const auto s = fit_both(InfiniteGram(kernel, u, ut), p, opt, grid, true);
  CHECK(s[0].status == "ok");
  CHECK(relative(s[0].test_error, d[0].test_error) < float_tolerance(1e-3));
  CHECK(relative(s[0].test_error, d[0].test_error) > 1e-12);
}

TEST_CASE("a singular kernel gets jitter, recorded, and the sweep goes on, in either precision") {
  boost::mpi::communicator world;
  const Problem p;  // linear kernel of rank q = 6 < n: singular without a ridge
  ProcessGrid grid(world, parse_grid_shape("auto", world.size()));
  const auto [u, ut] = p.inputs(grid, 16);
  KernelRegressionOptions opt;
  opt.kernel = KernelKind::Linear;
  opt.ridges = {0.0};
  opt.block = 16;
  for (bool single : {false, true})
    for (KernelSolver solver : {KernelSolver::Cholesky, KernelSolver::Eigen}) {
      opt.solver = solver;
      const auto rows = fit_both(FeatureGram(u, ut), p, opt, grid, single);
      INFO((single ? "single " : "double ") << (solver == KernelSolver::Cholesky ? "cholesky" : "eigen") << ": "
                                            << rows[0].status);
      CHECK(rows[0].status.rfind("jitter=", 0) == 0);
      // at least the float schedule's first step (1e-6 mean diag) in single
      CHECK(rows[0].extra.at("jitter") >= (single ? 1e-7 : 1e-300));
      CHECK(std::isfinite(rows[0].test_error));
      CHECK(rows[0].test_error < 10.0);
    }
}
