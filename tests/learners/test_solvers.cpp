// The mixed-precision and matrix-free kernel solvers (issue 17) against
// double Cholesky, on every grid shape of the ranks the test runs on.
#include <boost/mpi/collectives.hpp>
#include <boost/serialization/vector.hpp>
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>

#include "neurep/detail/scalapack_imports.hpp"
#include "neurep/infinite_gram.hpp"
#include "neurep/kernel_regression.hpp"
#include "neurep/kernel_solver_mixed.hpp"
#include "neurep/kernel_solver_pcg.hpp"
#include "neurep/linalg.hpp"
#include "test_helpers.hpp"

using namespace neurep;

namespace {

struct Problem {
  int n = 150, nt = 60, q = 6;
  std::vector<double> y, f;
  Problem() {
    y.resize(n), f.resize(nt);
    for (int i = 0; i < n; ++i) y[i] = test::entry(i, 99) * 2;
    for (int i = 0; i < nt; ++i) f[i] = test::entry(i + 500, 99) * 2;
  }
  std::pair<DistMatrix<double>, DistMatrix<double>> inputs(const ProcessGrid& grid, int block) const {
    DistMatrix<double> a(grid, n, q, block, block), b(grid, nt, q, block, block);
    a.for_each_local([&](int64_t i, int64_t j, double& v) { v = test::entry(i, j, 0.25); });
    b.for_each_local([&](int64_t i, int64_t j, double& v) { v = test::entry(i + 500, j, 0.25); });
    return {std::move(a), std::move(b)};
  }
};

double relative(double a, double b) {
  return std::abs(a - b) / std::abs(b);
}

std::vector<FitResult> fit(const GramSource& gram, const Problem& p, KernelRegressionOptions opt, KernelSolver solver,
                           const ProcessGrid& grid) {
  opt.solver = solver;
  return kernel_regression(gram, p.y, p.f, 1.0, opt, grid);
}

}  // namespace

TEST_CASE("refine_mixed: a float factor refined to the double solution of an SPD system") {
  boost::mpi::communicator world;
  const int n = 97;
  // A Gaussian kernel on points of a line plus 1e-3 I: condition ~1e4-1e5, so
  // float alone is accurate to ~1e-3 and refinement reaches double accuracy.
  std::vector<double> a(n * n);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < n; ++i) a[i + j * n] = std::exp(-std::pow((i - j) / 10.0, 2)) + (i == j ? 1e-3 : 0);
  std::vector<double> b(n);
  for (int i = 0; i < n; ++i) b[i] = test::entry(i, 3);
  std::vector<double> chol = a, ref = b;
  int info = 0, one = 1;
  dpotrf_("L", &n, chol.data(), &n, &info);
  REQUIRE(info == 0);
  dpotrs_("L", &n, &one, chol.data(), &n, ref.data(), &n, &info);
  double ref_norm = 0;
  for (double v : ref) ref_norm += v * v;
  for (GridShape shape : test::all_shapes(world.size())) {
    ProcessGrid grid(world, shape);
    for (int block : {4, 16}) {
      const double shift = 0.25;  // A = K + shift I with K = a - shift I
      DistMatrix<double> k(grid, n, n, block, block), db(grid, n, 1, block, block), x(grid, n, 1, block, block);
      k.for_each_local([&](int64_t i, int64_t j, double& v) { v = a[i + j * n] - (i == j ? shift : 0); });
      db.for_each_local([&](int64_t i, int64_t, double& v) { v = b[i]; });
      DistMatrix<float> f(grid, n, n, block, block);
      linalg::convert(k, f);
      linalg::add_to_diagonal(f, shift);
      REQUIRE(linalg::potrf_lower(f) == 0);
      const RefinementResult r = refine_mixed(k, shift, f, db, x, 1e-14, 50);
      const auto sol = linalg::gather_column(x, 0);
      double err = 0;
      for (int i = 0; i < n; ++i) err += (sol[i] - ref[i]) * (sol[i] - ref[i]);
      INFO("grid " << shape.rows << "x" << shape.cols << " block " << block << " residual " << r.residual
                   << " iterations " << r.iterations << " error " << std::sqrt(err / ref_norm));
      CHECK(r.converged);
      CHECK(r.iterations >= 1);  // the float solve alone is not enough
      CHECK(r.residual < 1e-13);
      CHECK(std::sqrt(err / ref_norm) < 1e-11);
    }
  }
}

TEST_CASE("mixed solver: the double Cholesky results on every grid") {
  boost::mpi::communicator world;
  const Problem p;
  for (KernelKind kind : {KernelKind::Ntk, KernelKind::Nngp, KernelKind::Linear}) {
    for (GridShape shape : test::all_shapes(world.size())) {
      ProcessGrid grid(world, shape);
      for (int block : {4, 32}) {
        const auto [u, ut] = p.inputs(grid, block);
        KernelRegressionOptions opt;
        opt.kernel = kind;
        opt.ridges = {1e-4, 1e-2};
        opt.block = block;
        opt.iterative.tolerance = 1e-14;
        const auto chol = fit(FeatureGram(u, ut), p, opt, KernelSolver::Cholesky, grid);
        const auto mixed = fit(FeatureGram(u, ut), p, opt, KernelSolver::Mixed, grid);
        for (size_t l = 0; l < 2; ++l) {
          INFO(name_of(kind) << " ridge " << opt.ridges[l] << " grid " << shape.rows << "x" << shape.cols << " block "
                             << block << " status " << mixed[l].status << " residual " << mixed[l].extra.at("residual")
                             << " iterations " << mixed[l].extra.at("iterations"));
          CHECK(mixed[l].status == "ok");
          CHECK(mixed[l].extra.at("residual") < 1e-12);
          CHECK(mixed[l].extra.at("iterations") >= 1);
          // Double-precision agreement, not float's (~1e-5 at these ridges).
          CHECK(relative(mixed[l].test_error, chol[l].test_error) < 1e-10);
          CHECK(relative(mixed[l].train_error, chol[l].train_error) < 1e-9);
        }
      }
    }
  }
}

TEST_CASE("mixed solver: kappa eps_float >= 1 is recorded and falls back to double Cholesky") {
  boost::mpi::communicator world;
  const Problem p;  // linear kernel of rank 6: with a ridge of 1e-10 the condition is ~1e10
  ProcessGrid grid(world, parse_grid_shape("auto", world.size()));
  const auto [u, ut] = p.inputs(grid, 16);
  KernelRegressionOptions opt;
  opt.kernel = KernelKind::Linear;
  opt.ridges = {1e-10, 1e-2};
  opt.block = 16;
  const auto chol = fit(FeatureGram(u, ut), p, opt, KernelSolver::Cholesky, grid);
  const auto mixed = fit(FeatureGram(u, ut), p, opt, KernelSolver::Mixed, grid);
  INFO("status " << mixed[0].status << " residual " << mixed[0].extra.at("residual"));
  CHECK(mixed[0].status.rfind("fallback-cholesky", 0) == 0);
  CHECK(mixed[0].test_error == Approx(chol[0].test_error).epsilon(1e-12));
  CHECK(mixed[1].status == "ok");  // the other ridge is unaffected
  CHECK(relative(mixed[1].test_error, chol[1].test_error) < 1e-10);
}

TEST_CASE("KernelOperator: products and columns of the kernel that is never stored") {
  boost::mpi::communicator world;
  const Problem p;
  for (GridShape shape : test::all_shapes(world.size())) {
    ProcessGrid grid(world, shape);
    const int block = 8;
    const auto [u, ut] = p.inputs(grid, block);
    const FeatureGram gram(u, ut);
    const std::vector<double> diag = gram.train_diagonal();
    // The stored kernel as Cholesky builds it (lower triangle, symmetrised here).
    DistMatrix<double> k(grid, p.n, p.n, block, block);
    gram.train_gram(k);
    apply_kernel(KernelKind::NtkFull, k, diag, diag, true);
    std::vector<double> dense = linalg::gather_all(k);
    for (int j = 0; j < p.n; ++j)
      for (int i = 0; i < j; ++i) dense[i + j * p.n] = dense[j + i * p.n];
    std::vector<double> x(2 * p.n);
    for (int i = 0; i < 2 * p.n; ++i) x[i] = test::entry(i, 7);
    double norm = 0;
    // One block of rows (the default at this n), and blocks of one and three
    // units of rows: the lower triangle and its transpose.
    for (int64_t rows_per_block : {int64_t(0), int64_t(1), int64_t(3 * block * shape.rows)}) {
      const KernelOperator op(gram, KernelKind::NtkFull, diag, grid, block, rows_per_block);
      if (rows_per_block > 0) CHECK(op.rows_per_block() < p.n);
      const auto y = op.apply(x, 2);
      double err = 0;
      for (int c = 0; c < 2; ++c)
        for (int i = 0; i < p.n; ++i) {
          double s = 0;
          for (int j = 0; j < p.n; ++j) s += dense[i + j * p.n] * x[j + c * p.n];
          err = test::worst(err, std::abs(s - y[i + c * p.n]));
          norm = test::worst(norm, std::abs(s));
        }
      INFO("grid " << shape.rows << "x" << shape.cols << " rows per block " << op.rows_per_block() << " max error "
                   << err << " of " << norm);
      CHECK(err <= 1e-13 * norm);
      CHECK(std::isfinite(err));
    }
    const KernelOperator op(gram, KernelKind::NtkFull, diag, grid, block);
    const std::vector<int64_t> idx{7, 3, 149, 0};
    // This rank's rows of K(:, idx) (the preconditioner's layout); every row on exactly one rank.
    const RowLayout& lay = op.layout();
    const int64_t nloc = lay.local_rows();
    const auto cols = op.columns(idx);
    REQUIRE(static_cast<int64_t>(cols.size()) == nloc * 4);
    double cerr = 0;
    std::vector<double> seen(p.n, 0.0);
    for (int64_t li = 0; li < nloc; ++li) {
      const int64_t i = lay.global_row(li);
      CHECK(lay.owner(i) == world.rank());
      CHECK(lay.local_row(i) == li);
      seen[i] += 1;
      for (size_t t = 0; t < idx.size(); ++t) {
        cerr = test::worst(cerr, std::abs(cols[li + t * nloc] - dense[i + idx[t] * p.n]));
        // The diagonal exactly as the stored kernel has it.
        if (i == idx[t]) CHECK(cols[li + t * nloc] == dense[i + i * p.n]);
      }
    }
    CHECK(cerr <= 1e-14 * norm);
    std::vector<double> owners(p.n);
    boost::mpi::all_reduce(world, seen.data(), p.n, owners.data(), std::plus<double>());
    for (int i = 0; i < p.n; ++i) CHECK(owners[i] == 1);
    // gather puts every rank's rows back in place, the same on every rank.
    std::vector<double> back(2 * p.n, -1.0);
    lay.gather(lay.local_part(x.data(), 2), 2, back.data());
    CHECK(back == x);
  }
}

TEST_CASE("Nystrom by randomly pivoted Cholesky: exact for a low-rank kernel") {
  boost::mpi::communicator world;
  const Problem p;  // the linear kernel has rank q = 6
  ProcessGrid grid(world, parse_grid_shape("auto", world.size()));
  const auto [u, ut] = p.inputs(grid, 8);
  const FeatureGram gram(u, ut);
  const KernelOperator op(gram, KernelKind::Linear, gram.train_diagonal(), grid, 8);
  for (Landmarks how : {Landmarks::RandomlyPivotedCholesky, Landmarks::Uniform}) {
    NystromPreconditioner pre(op, 20, 5, how);
    INFO("rank " << pre.rank() << " residual trace " << pre.residual_trace());
    CHECK(pre.rank() == p.q);  // the pivots beyond the rank are rejected
    double trace = 0;
    for (double v : op.kernel_diagonal()) trace += v;
    CHECK(pre.residual_trace() < 1e-10 * trace);
  }
}

TEST_CASE("Nystrom preconditioner: F distributed by rows, n r / P words per rank, the same landmarks on every grid") {
  boost::mpi::communicator world;
  const Problem p;
  const int64_t rank = 20;
  const double shift = 0.05;
  std::vector<int64_t> first_landmarks;
  for (GridShape shape : test::all_shapes(world.size())) {
    ProcessGrid grid(world, shape);
    for (int block : {4, 32}) {
      const auto [u, ut] = p.inputs(grid, block);
      const FeatureGram gram(u, ut);
      const std::vector<double> diag = gram.train_diagonal();
      const KernelOperator op(gram, KernelKind::Ntk, diag, grid, block);
      NystromPreconditioner pre(op, rank, 11);
      pre.prepare({shift, 2 * shift});
      INFO("grid " << shape.rows << "x" << shape.cols << " block " << block << " rank " << pre.rank());
      REQUIRE(pre.rank() == rank);  // the NTK is of full rank: every pivot accepted
      // The words of F on each rank: its rows times r, together n r (no row
      // twice), and at most a block of rows above n r / P on any rank.
      const int64_t words = pre.local_words();
      CHECK(words == op.layout().local_rows() * rank);
      int64_t total = 0, most = 0;
      boost::mpi::all_reduce(world, words, total, std::plus<int64_t>());
      boost::mpi::all_reduce(world, words, most, boost::mpi::maximum<int64_t>());
      CHECK(total == p.n * rank);
      const int64_t per_rank = (p.n + world.size() - 1) / world.size();
      CHECK(most <= (per_rank + block) * rank);
      // The landmarks: the same on every rank, and on every grid and block.
      std::vector<int64_t> root = pre.landmarks();
      boost::mpi::broadcast(world, root, 0);
      CHECK(pre.landmarks() == root);
      if (first_landmarks.empty()) first_landmarks = root;
      CHECK(pre.landmarks() == first_landmarks);
      // apply() is (N + s I)^{-1} with N = K(:, S) K(S, S)^{-1} K(S, :), the
      // Nystrom approximation of the landmarks S, for the active columns only.
      DistMatrix<double> k(grid, p.n, p.n, block, block);
      gram.train_gram(k);
      apply_kernel(KernelKind::Ntk, k, diag, diag, true);
      std::vector<double> dense = linalg::gather_all(k);
      for (int j = 0; j < p.n; ++j)
        for (int i = 0; i < j; ++i) dense[i + j * p.n] = dense[j + i * p.n];
      const int n = p.n, r = static_cast<int>(rank);
      const auto& s = pre.landmarks();
      std::vector<double> kss(r * r), ks(n * r);  // K(S, S), K(:, S)
      for (int b = 0; b < r; ++b) {
        for (int a = 0; a < r; ++a) kss[a + b * r] = dense[s[a] + s[b] * n];
        for (int i = 0; i < n; ++i) ks[i + b * n] = dense[i + s[b] * n];
      }
      int info = 0;
      dpotrf_("L", &r, kss.data(), &r, &info);
      REQUIRE(info == 0);
      std::vector<double> t = ks;  // K(S, S)^{-1} K(S, :), transposed: n x r
      for (int i = 0; i < n; ++i) {
        std::vector<double> row(r);
        for (int b = 0; b < r; ++b) row[b] = ks[i + b * n];
        int one = 1;
        dpotrs_("L", &r, &one, kss.data(), &r, row.data(), &r, &info);
        for (int b = 0; b < r; ++b) t[i + b * n] = row[b];
      }
      std::vector<double> a(n * n);  // N + s I
      for (int j = 0; j < n; ++j)
        for (int i = 0; i < n; ++i) {
          double v = i == j ? shift : 0.0;
          for (int b = 0; b < r; ++b) v += ks[i + b * n] * t[j + b * n];
          a[i + j * n] = v;
        }
      std::vector<double> v(2 * n);
      for (int i = 0; i < 2 * n; ++i) v[i] = test::entry(i, 5);
      std::vector<double> z = v;
      pre.apply(z, {1, 0});
      for (int i = n; i < 2 * n; ++i) CHECK(z[i] == v[i]);  // the inactive column untouched
      double err = 0, norm = 0;
      for (int i = 0; i < n; ++i) {
        double av = 0;
        for (int j = 0; j < n; ++j) av += a[i + j * n] * z[j];
        err = test::worst(err, std::abs(av - v[i]));
        norm = test::worst(norm, std::abs(v[i]));
      }
      INFO("|(N + s I) z - v| " << err << " of " << norm);
      CHECK(err <= 1e-10 * norm);
      // The same bits on every rank.
      std::vector<double> z0 = z;
      boost::mpi::broadcast(world, z0, 0);
      CHECK(z == z0);
    }
  }
}

TEST_CASE("pcg solver: the double Cholesky results on every grid, with and without a preconditioner") {
  boost::mpi::communicator world;
  const Problem p;
  for (KernelKind kind : {KernelKind::Ntk, KernelKind::NtkFull, KernelKind::Linear}) {
    for (GridShape shape : test::all_shapes(world.size())) {
      ProcessGrid grid(world, shape);
      for (int block : {4, 32}) {
        const auto [u, ut] = p.inputs(grid, block);
        KernelRegressionOptions opt;
        opt.kernel = kind;
        opt.ridges = {1e-4, 1e-2};
        opt.block = block;
        opt.iterative.tolerance = 1e-12;
        const auto chol = fit(FeatureGram(u, ut), p, opt, KernelSolver::Cholesky, grid);
        double iterations[2] = {0, 0};
        for (int64_t rank : {int64_t(0), int64_t(40)}) {
          opt.iterative.preconditioner_rank = rank;
          const auto pcg = fit(FeatureGram(u, ut), p, opt, KernelSolver::Pcg, grid);
          for (size_t l = 0; l < 2; ++l) {
            INFO(name_of(kind) << " ridge " << opt.ridges[l] << " rank " << rank << " grid " << shape.rows << "x"
                               << shape.cols << " block " << block << " status " << pcg[l].status << " residual "
                               << pcg[l].extra.at("residual") << " iterations " << pcg[l].extra.at("iterations"));
            CHECK(pcg[l].status == "ok");
            CHECK(pcg[l].extra.at("residual") <= 1e-12);
            CHECK(relative(pcg[l].test_error, chol[l].test_error) < 1e-8);
            CHECK(relative(pcg[l].train_error, chol[l].train_error) < 1e-6);
          }
          iterations[rank > 0] = pcg[0].extra.at("iterations");
        }
        INFO(name_of(kind) << ": iterations without/with the preconditioner " << iterations[0] << " / "
                           << iterations[1]);
        CHECK(iterations[1] < iterations[0]);
      }
    }
  }
}

TEST_CASE("pcg solver: the closed-form infinite-width kernel rows") {
  boost::mpi::communicator world;
  const Problem p;
  for (GridShape shape : test::all_shapes(world.size())) {
    ProcessGrid grid(world, shape);
    const auto [u, ut] = p.inputs(grid, 16);
    const InfiniteKernel kernel(FeatureActivation::Relu, true, 2, p.q);
    KernelRegressionOptions opt;
    opt.ridges = {1e-3};
    opt.block = 16;
    opt.iterative.tolerance = 1e-12;
    opt.iterative.preconditioner_rank = 30;
    const auto chol = fit(InfiniteGram(kernel, u, ut), p, opt, KernelSolver::Cholesky, grid);
    const auto pcg = fit(InfiniteGram(kernel, u, ut), p, opt, KernelSolver::Pcg, grid);
    INFO("grid " << shape.rows << "x" << shape.cols << " " << pcg[0].status << " iterations "
                 << pcg[0].extra.at("iterations"));
    CHECK(pcg[0].status == "ok");
    CHECK(relative(pcg[0].test_error, chol[0].test_error) < 1e-8);
  }
}

TEST_CASE("pcg solver: max_iterations too small is recorded as not converged") {
  boost::mpi::communicator world;
  const Problem p;
  ProcessGrid grid(world, parse_grid_shape("auto", world.size()));
  const auto [u, ut] = p.inputs(grid, 16);
  KernelRegressionOptions opt;
  opt.ridges = {1e-5};
  opt.block = 16;
  opt.iterative.tolerance = 1e-14;
  opt.iterative.max_iterations = 3;
  opt.iterative.preconditioner_rank = 0;
  const auto pcg = fit(FeatureGram(u, ut), p, opt, KernelSolver::Pcg, grid);
  CHECK(pcg[0].status == "not-converged");
  CHECK(pcg[0].extra.at("iterations") == 3);
  CHECK(pcg[0].extra.at("residual") > 1e-14);
  CHECK(std::isfinite(pcg[0].test_error));
}

namespace {

// PointCheckpoints that stops the solve (as a signal would) after iteration
// `stop_at`, keeping what it saved, and offers `earlier` as an earlier run's state.
class StopAfter : public PointCheckpoints {
 public:
  StopAfter(int64_t stop_at, const Checkpoint* earlier) : stop_at_(stop_at), earlier_(earlier) {}
  const Checkpoint* earlier() const override { return earlier_; }
  void load_matrix(const std::string& name, DistMatrix<double>&) const override {
    throw std::logic_error("the CG state has no matrices, asked for " + name);
  }
  void after_step(int64_t step, const std::function<Checkpoint()>& save) override {
    if (first_step < 0) first_step = step;
    if (step != stop_at_) return;
    saved = save();
    throw Interrupted{};
  }
  int64_t first_step = -1;
  Checkpoint saved;

 private:
  int64_t stop_at_;
  const Checkpoint* earlier_;
};

}  // namespace

TEST_CASE("pcg solver: stopped after a checkpoint and resumed from it, the same rows bit for bit") {
  boost::mpi::communicator world;
  const Problem p;
  // Without and with the preconditioner (rebuilt on resume: the same F on every rank and every run).
  for (int64_t rank : {int64_t(0), int64_t(20)}) {
    for (GridShape shape : test::all_shapes(world.size())) {
      ProcessGrid grid(world, shape);
      const auto [u, ut] = p.inputs(grid, 16);
      KernelRegressionOptions opt;
      opt.ridges = {1e-5, 1e-2};
      opt.block = 16;
      opt.iterative.tolerance = 1e-12;
      opt.iterative.preconditioner_rank = rank;
      const auto ref = fit(FeatureGram(u, ut), p, opt, KernelSolver::Pcg, grid);
      REQUIRE(ref[0].extra.at("iterations") > 5);

      StopAfter stop(4, nullptr);
      opt.checkpoints = &stop;
      CHECK_THROWS_AS(fit(FeatureGram(u, ut), p, opt, KernelSolver::Pcg, grid), Interrupted);
      CHECK(stop.first_step == 1);
      CHECK(stop.saved.scalars.at("iteration") == 4);
      CHECK(stop.saved.scalars.at("cg_fit") == 0);
      CHECK(stop.saved.vectors.at("x").size() == 2u * p.n);

      StopAfter resume(-1, &stop.saved);
      opt.checkpoints = &resume;
      const auto got = fit(FeatureGram(u, ut), p, opt, KernelSolver::Pcg, grid);
      INFO("grid " << shape.rows << "x" << shape.cols << " preconditioner rank " << rank);
      CHECK(resume.first_step == 5);  // continued from the checkpoint, not from the start
      for (size_t l = 0; l < 2; ++l) {
        CHECK(got[l].test_error == ref[l].test_error);
        CHECK(got[l].train_error == ref[l].train_error);
        CHECK(got[l].extra.at("iterations") == ref[l].extra.at("iterations"));
        CHECK(got[l].extra.at("residual") == ref[l].extra.at("residual"));
      }

      // A state of the other fit of the point (the validation refit) is not this fit's.
      Checkpoint other = stop.saved;
      other.scalars["cg_fit"] = 1;
      StopAfter fresh(-1, &other);
      opt.checkpoints = &fresh;
      const auto again = fit(FeatureGram(u, ut), p, opt, KernelSolver::Pcg, grid);
      CHECK(fresh.first_step == 1);
      CHECK(again[0].test_error == ref[0].test_error);
    }
  }
}
