// The random representation h(x) (DESIGN 1.2): features against a serial
// computation from the definition on every grid, the empirical kernel
// against the closed-form infinite-width kernel at the 1/sqrt(D) rate, zca
// whitening on fresh data, the centring quadrature, single precision (the zca
// product in float) against double, and kernel regression on finite D
// approaching the infinite-width result.
#include <catch2/catch.hpp>

#include <boost/mpi/communicator.hpp>
#include <cmath>
#include <limits>
#include <numeric>

#include "neurep/config.hpp"
#include "neurep/errors.hpp"
#include "neurep/infinite_gram.hpp"
#include "neurep/kernel_regression.hpp"
#include "neurep/linalg.hpp"
#include "neurep/representation.hpp"
#include "test_helpers.hpp"

using namespace neurep;

namespace {

struct Setup {
  DataConfig config;
  RandomStreams streams;
  Dataset data;
  Setup(int d, uint64_t seed = 0, const std::string& input = "sphere", std::vector<int> degrees = {2})
      : config(make(input, degrees)), streams(2020, seed), data(config, d, streams) {}
  static DataConfig make(const std::string& input, std::vector<int> degrees) {
    DataConfig c = default_config().data;
    c.input = parse_enum<InputDistribution>("data.input", input);
    c.degrees = degrees;
    c.coefficients.assign(degrees.size(), 1.0);
    return c;
  }
};

// [representation] with kind = "random" and these settings, the others at their defaults.
RandomRepresentationConfig rep_config(const std::string& activation, bool bias, const std::string& width,
                                      const std::string& whiten, int depth = 1, bool infinite = false) {
  RandomRepresentationConfig r = *parse_config("[representation]\nkind = \"random\"\n", {}).representation.random();
  r.activation = parse_enum<FeatureActivation>("representation.activation", activation);
  r.bias = bias;
  r.width = SizeExpr(width, "representation.width");
  r.whiten = parse_enum<WhitenKind>("representation.whiten", whiten);
  r.depth = depth;
  r.infinite = infinite;
  return r;
}

SizeExpr unlabeled(const std::string& n) { return SizeExpr(n, "representation.n_unlabeled", 0); }

using test::max_abs;
using test::max_abs_diff;

// Least-squares slope of log y against log x.
double loglog_slope(const std::vector<double>& x, const std::vector<double>& y) {
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  const double k = static_cast<double>(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double lx = std::log(x[i]), ly = std::log(y[i]);
    sx += lx, sy += ly, sxx += lx * lx, sxy += lx * ly;
  }
  return (k * sxy - sx * sy) / (k * sxx - sx * sx);
}

}  // namespace

TEST_CASE("H on every grid equals g/sqrt(D) computed serially from the definition") {
  boost::mpi::communicator world;
  const int d = 7, n = 37;
  const int64_t dd = 50;
  const Setup s(d);
  for (const char* act : {"step", "relu", "tanh", "erf", "quadratic", "cubic"})
    for (bool bias : {true, false}) {
      // The definition: v_jc = N(0,1)/sqrt(d) from (FeatureWeights, j, c, layer 0), b_j from (FeatureBias, j, 0, 0).
      std::vector<double> ref(static_cast<size_t>(n * dd)), x(static_cast<size_t>(d));
      const FeatureActivation a = parse_enum<FeatureActivation>("representation.activation", act);
      for (int i = 0; i < n; ++i) {
        s.data.input(Split::Train, i, x.data());
        for (int64_t j = 0; j < dd; ++j) {
          double z = bias ? s.streams.gaussian(Stream::FeatureBias, j, 0, 0) : 0.0;
          for (int c = 0; c < d; ++c) z += x[c] * s.streams.gaussian(Stream::FeatureWeights, j, c, 0) / std::sqrt(d);
          ref[static_cast<size_t>(i + j * n)] = feature_phi(a, z) / std::sqrt(static_cast<double>(dd));
        }
      }
      for (GridShape shape : test::all_shapes(world.size()))
        for (int block : {8, 64}) {
          ProcessGrid grid(world, shape);
          const Representation rep(rep_config(act, bias, "50", "none"), s.data, s.streams, grid, block);
          REQUIRE(test::on_every_rank(world, rep.width() == dd && rep.label() == std::string("h:") + act + ":D=50:none"));
          const auto h = linalg::gather_all(rep.inputs(Split::Train, n, false));
          INFO(act << " bias " << bias << " grid " << shape.rows << "x" << shape.cols << " block " << block);
          CHECK(max_abs_diff(h, ref) <= 1e-13 * max_abs(ref));
          // The constant column is appended after the features, the rest unchanged.
          const auto u = linalg::gather_all(rep.inputs(Split::Train, n, true));
          CHECK(std::equal(h.begin(), h.end(), u.begin()));
          CHECK(std::all_of(u.begin() + n * dd, u.end(), [](double v) { return v == 1.0; }));
          // Bit-identical when computed again on the same grid.
          CHECK(linalg::gather_all(rep.inputs(Split::Train, n, false)) == h);
        }
    }
}

TEST_CASE("the cubic feature map is t^3") {
  for (double t : {-2.5, -1.0, -0.3, 0.0, 0.7, 1.9}) CHECK(feature_phi(FeatureActivation::Cubic, t) == t * t * t);
  CHECK(name_of(FeatureActivation::Cubic) == std::string("cubic"));
}

TEST_CASE("zca, center and depth > 1 on every grid agree with a one-process computation") {
  // Whitening is a product with S^{-1/2}, S = Sigma + r I, whose condition number
  // cond = (l_max + r)/(l_min + r) multiplies the rounding differences of another
  // grid's reassociated sums: agreement to ~eps cond relative is all a
  // backward-stable computation can promise. With ridge 1e-3 that is below the
  // 1e-10 of DESIGN 2.1; with the default 1e-6, features that are constant on the
  // unlabelled sample (step or relu units with a large |b|) give cond ~ D/eps.
  boost::mpi::communicator world;
  const boost::mpi::communicator self(MPI_COMM_SELF, boost::mpi::comm_attach);
  const int d = 6, n = 45, nt = 30;
  const Setup s(d, 3);
  struct Case { const char* act; const char* whiten; int depth; const char* width; double ridge; };
  for (const Case c : {Case{"step", "zca", 1, "40", 1e-3}, Case{"relu", "zca", 1, "2*d^2", 1e-3},
                       Case{"step", "zca", 1, "40", 1e-6}, Case{"erf", "center", 1, "33", 0},
                       Case{"step", "none", 2, "40", 0}, Case{"relu", "zca", 3, "24", 1e-3}}) {
    RandomRepresentationConfig rc = rep_config(c.act, true, c.width, c.whiten, c.depth);
    rc.whiten_ridge = c.ridge;
    ProcessGrid serial(self, {1, 1});
    const Representation one(rc, s.data, s.streams, serial, 16);
    const auto ref = linalg::gather_all(one.inputs(Split::Train, n, false));
    const auto ref_test = linalg::gather_all(one.inputs(Split::Test, nt, false));
    double tol = 1e-12;
    if (const Whitening* w = one.whitening(); w->matrix()) {
      const double cond = (w->eigenvalues().back() + w->ridge()) / (w->eigenvalues().front() + w->ridge());
      tol = test::worst(tol, 10 * std::numeric_limits<double>::epsilon() * cond);
      if (c.ridge >= 1e-3) CHECK(tol <= 1e-10);  // DESIGN 2.1\'s reproducibility across grids
    }
    for (GridShape shape : test::all_shapes(world.size())) {
      ProcessGrid grid(world, shape);
      const Representation rep(rc, s.data, s.streams, grid, 8);
      const auto h = linalg::gather_all(rep.inputs(Split::Train, n, false));
      const auto ht = linalg::gather_all(rep.inputs(Split::Test, nt, false));
      const double rel = test::worst(max_abs_diff(h, ref) / max_abs(ref), max_abs_diff(ht, ref_test) / max_abs(ref_test));
      INFO(c.act << " " << c.whiten << " ridge " << c.ridge << " depth " << c.depth << " grid " << shape.rows << "x"
                 << shape.cols << ": relative difference " << rel << ", tolerance " << tol);
      CHECK(rel <= tol);
      if (world.rank() == 0 && shape.rows == 1)
        WARN(c.act << " " << c.whiten << " ridge " << c.ridge << " depth " << c.depth << ": grid " << shape.rows << "x"
                   << shape.cols << " vs serial: relative difference " << rel << " (tolerance " << tol << ")");
      if (std::string(c.whiten) != "none")  // column sums in another order
        CHECK(max_abs_diff(rep.whitening()->mean(), one.whitening()->mean()) <= 1e-14 * max_abs(one.whitening()->mean()));
    }
  }
}

TEST_CASE("the closed-form centring constant on the sphere") {
  // Exact values: step without bias is 1/4 by symmetry; quadratic: K = Var u Var u' + 2 Cov^2 with
  // E t^2 = 1/d for t = x.x'/d on the sphere, so E K = 1 + 2/d (no bias) and 4 + 2(1 + 1/d) (bias).
  for (int d : {1, 2, 3, 10, 100, 2000}) {
    INFO("d = " << d);
    CHECK(InfiniteKernel(FeatureActivation::Step, false, 1, d).sphere_mean() == Approx(0.25).epsilon(1e-13));
    CHECK(InfiniteKernel(FeatureActivation::Quadratic, false, 1, d).sphere_mean() == Approx(1 + 2.0 / d).epsilon(1e-13));
    CHECK(InfiniteKernel(FeatureActivation::Quadratic, true, 1, d).sphere_mean() == Approx(6 + 2.0 / d).epsilon(1e-13));
    // cubic: K = 9 Var u Var u' Cov + 6 Cov^3 with E t = E t^3 = 0: 0 (no bias), 36 + 6(1 + 3/d) (bias).
    CHECK(std::abs(InfiniteKernel(FeatureActivation::Cubic, false, 1, d).sphere_mean()) < 1e-13);
    CHECK(InfiniteKernel(FeatureActivation::Cubic, true, 1, d).sphere_mean() == Approx(42 + 18.0 / d).epsilon(1e-13));
  }
  // The others against Monte Carlo over pairs of sphere points, within 4 standard errors.
  const int d = 9, pairs = 100000;
  const Setup s(d);
  std::vector<double> x(d), y(d);
  for (FeatureActivation a : {FeatureActivation::Step, FeatureActivation::Relu, FeatureActivation::Erf})
    for (int depth : {1, 2}) {
      const InfiniteKernel k(a, true, depth, d);
      double sum = 0, sq = 0;
      for (int p = 0; p < pairs; ++p) {
        s.data.input(Split::Unlabeled, 2 * p, x.data());
        s.data.input(Split::Unlabeled, 2 * p + 1, y.data());
        const double v = k.uncentred(std::inner_product(x.begin(), x.end(), y.begin(), 0.0), d, d);
        sum += v, sq += v * v;
      }
      const double mean = sum / pairs, se = std::sqrt((sq / pairs - mean * mean) / pairs);
      INFO(name_of(a) << " depth " << depth << ": quadrature " << k.sphere_mean() << ", MC " << mean << " +- " << se);
      CHECK(std::abs(k.sphere_mean() - mean) < 4 * se);
    }
}

TEST_CASE("the quadratic and cubic infinite-width kernels are the mean over many random units") {
  // K_h(x, y) = E[phi(w.x + b) phi(w.y + b)] over the units' own weights (RandomNetwork::weight,
  // bias_of), D = 200000 units, for Gaussian inputs (|x|^2 != d, so the variances' convention
  // |x|^2/d + beta is tested too): within 4 standard errors of the mean, on every pair incl. x = y.
  // The units are independent, so this is one process's computation.
  boost::mpi::communicator world;
  if (world.size() > 1) return;
  const int d = 5, points = 3;
  const int64_t units = 200000;
  const Setup s(d, 7, "gaussian");
  std::vector<std::vector<double>> x(points, std::vector<double>(d));
  for (int i = 0; i < points; ++i) s.data.input(Split::Train, i, x[i].data());
  for (FeatureActivation a : {FeatureActivation::Quadratic, FeatureActivation::Cubic})
    for (bool bias : {true, false}) {
      const RandomNetwork net(a, bias, units, 1, d, s.streams);
      const InfiniteKernel k(a, bias, 1, d);
      std::vector<double> sum(points * points, 0.0), sq(points * points, 0.0), g(points);
      for (int64_t j = 0; j < units; ++j) {
        for (int i = 0; i < points; ++i) {
          double z = net.bias_of(0, j);
          for (int c = 0; c < d; ++c) z += net.weight(0, j, c) * x[i][c];
          g[i] = feature_phi(a, z);
        }
        for (int i = 0; i < points; ++i)
          for (int l = 0; l <= i; ++l) sum[i * points + l] += g[i] * g[l], sq[i * points + l] += g[i] * g[i] * g[l] * g[l];
      }
      for (int i = 0; i < points; ++i)
        for (int l = 0; l <= i; ++l) {
          const double n = static_cast<double>(units), mean = sum[i * points + l] / n;
          const double se = std::sqrt((sq[i * points + l] / n - mean * mean) / n);
          const double dot = std::inner_product(x[i].begin(), x[i].end(), x[l].begin(), 0.0);
          const double closed = k.uncentred(dot, std::inner_product(x[i].begin(), x[i].end(), x[i].begin(), 0.0),
                                            std::inner_product(x[l].begin(), x[l].end(), x[l].begin(), 0.0));
          INFO(name_of(a) << " bias " << bias << " pair " << i << "," << l << ": closed form " << closed << ", mean over "
                          << units << " units " << mean << " +- " << se);
          CHECK(std::abs(closed - mean) < 4 * se);
          CHECK(se < 0.1 * std::abs(closed) + 0.1);  // the comparison has power
        }
    }
}

TEST_CASE("the empirical kernel HH^T tends to the closed form at the 1/sqrt(D) rate") {
  boost::mpi::communicator world;
  ProcessGrid grid(world, parse_grid_shape("auto", world.size()));
  // Error: RMS over the pairs of a fixed sample, relative to the kernel's RMS, over 3 seeds;
  // D from 64 to 4096, or less for deeper networks (D x D layers) and for `center` with the
  // default N_u = 4D on the sphere (which also carries the 1/sqrt(D) error of the estimated mean).
  // The Gaussian-input `center` case shares its 300 unlabelled inputs with the infinite kernel's
  // sample centring, so the two differ only by the width.
  const int d = 10, n = 24, seeds = 3;
  struct Case { const char* act; bool bias; const char* whiten; int depth; const char* input; const char* n_unl; int max_width; };
  const Case cases[] = {
      {"step", true, "none", 1, "sphere", "0", 4096},      {"step", false, "none", 1, "sphere", "0", 4096},
      {"relu", true, "none", 1, "gaussian", "0", 4096},    {"relu", false, "none", 1, "sphere", "0", 4096},
      {"erf", true, "none", 1, "sphere", "0", 4096},       {"quadratic", false, "none", 1, "gaussian", "0", 4096},
      {"quadratic", true, "none", 1, "sphere", "0", 4096}, {"step", true, "none", 2, "sphere", "0", 2048},
      // t^3 features: heavier tails, a larger constant in front of D^-1/2 (0.12 at D = 4096)
      {"cubic", true, "none", 1, "sphere", "0", 16384},    {"cubic", false, "none", 1, "gaussian", "0", 16384},
      {"relu", true, "none", 3, "sphere", "0", 2048},     {"step", true, "center", 1, "sphere", "0", 1024},
      {"relu", true, "center", 1, "sphere", "0", 1024},    {"step", true, "center", 1, "gaussian", "300", 4096}};
  for (const Case& c : cases) {
    const bool estimated_mean = std::string(c.whiten) == "center" && std::string(c.n_unl) == "0";
    std::vector<double> widths;
    for (int w = 64; w <= c.max_width; w *= 2) widths.push_back(w);
    std::vector<double> err;
    for (double dd : widths) {
      double e2 = 0;
      for (int seed = 0; seed < seeds; ++seed) {
        const Setup s(d, seed, c.input);
        RandomRepresentationConfig rc = rep_config(c.act, c.bias, std::to_string(int(dd)), c.whiten, c.depth);
        rc.n_unlabeled = unlabeled(c.n_unl);
        const Representation fin(rc, s.data, s.streams, grid, 32);
        rc.infinite = true;
        const Representation inf(rc, s.data, s.streams, grid, 32);
        const DistMatrix<double> h = fin.inputs(Split::Train, n, false), x = inf.inputs(Split::Train, n, false);
        DistMatrix<double> kf(grid, n, n, 32, 32), ki(grid, n, n, 32, 32);
        FeatureGram(h, h).train_gram(kf);
        InfiniteGram(*inf.infinite_kernel(), x, x).train_gram(ki);
        const auto a = linalg::gather_all(kf), b = linalg::gather_all(ki);
        double num = 0, den = 0;
        for (int j = 0; j < n; ++j)
          for (int i = j; i < n; ++i) num += std::pow(a[i + j * n] - b[i + j * n], 2), den += b[i + j * n] * b[i + j * n];
        e2 += num / den;
      }
      err.push_back(std::sqrt(e2 / seeds));
    }
    const double slope = loglog_slope(widths, err);
    INFO(c.act << " bias " << c.bias << " " << c.whiten << " depth " << c.depth << " " << c.input << ": relative error "
               << err.front() << " at D = 64, " << err.back() << " at D = " << widths.back() << ", slope " << slope);
    CHECK(slope > -0.7);
    CHECK(slope < -0.3);
    CHECK(err.back() < (estimated_mean ? 0.2 : 0.1));
    if (world.rank() == 0)
      WARN(c.act << " bias " << c.bias << " " << c.whiten << " depth " << c.depth << " " << c.input << ": slope " << slope
                 << ", error " << err.front() << " -> " << err.back() << " at D = " << widths.back());
  }
}

TEST_CASE("zca: whitened features have identity covariance on fresh data") {
  boost::mpi::communicator world;
  ProcessGrid grid(world, parse_grid_shape("auto", world.size()));
  const int d = 8;
  const int64_t dd = 64;
  const Setup s(d, 1);
  // Features without units that are (nearly) constant on the unlabelled sample: with a bias,
  // a step or relu unit with |b| >~ 3 is constant on most samples of a few hundred inputs, its
  // direction gets only the ridge, and fresh data see that coordinate amplified by 1/sqrt(r).
  struct Case { const char* act; bool bias; };
  for (const Case c : {Case{"step", false}, Case{"relu", false}, Case{"erf", true}})
    for (int64_t ratio : {4, 16, 64}) {
      const char* act = c.act;
      RandomRepresentationConfig rc = rep_config(act, c.bias, std::to_string(dd), "zca");
      rc.n_unlabeled = unlabeled(ratio == 4 ? "0" : std::to_string(ratio * dd));  // 0: the default 4*D
      rc.whiten_ridge = 1e-6;  // the sampling theory below is for a negligible ridge
      const Representation rep(rc, s.data, s.streams, grid, 16);
      const int64_t nu = ratio * dd, nf = 64 * dd;
      // On the unlabelled sample itself the map is exact up to the ridge: C = diag(l/(l + r)).
      auto covariance = [&](Split split, int64_t rows) {
        const DistMatrix<double> h = rep.inputs(split, rows, false);
        DistMatrix<double> c(grid, dd, dd, 16, 16);
        linalg::gemm(linalg::Op::T, linalg::Op::N, 1.0 / static_cast<double>(rows), h, h, 0.0, c);
        auto all = linalg::gather_all(c);
        for (int64_t i = 0; i < dd; ++i) all[static_cast<size_t>(i + i * dd)] -= 1.0;
        return all;  // C - I
      };
      const auto& w = rep.whitening()->eigenvalues();
      const double r = rep.whitening()->ridge();
      CHECK(max_abs(covariance(Split::Unlabeled, nu)) <= 1.01 * r / (w.front() + r) + 1e-12);
      // Fresh inputs: C - I is the difference of two independent sample covariances in
      // whitened coordinates, each with entries of sd ~ 1/sqrt(N): the RMS entry of C - I
      // is ~ sqrt(1/N_u + 1/N_f), inflated by the bias N_u/(N_u - D) of the inverse of an
      // estimated covariance. We require it within a factor 1.5 of that.
      const auto e = covariance(Split::Test, nf);
      double ss = 0;
      for (double v : e) ss += v * v;
      const double rms = std::sqrt(ss) / static_cast<double>(dd);
      const double expected = std::sqrt(1.0 / nu + 1.0 / nf) * nu / (nu - dd);
      double trace = 0;
      for (int64_t i = 0; i < dd; ++i) trace += e[static_cast<size_t>(i + i * dd)];
      INFO(act << " N_u/D = " << ratio << ": RMS entry of C - I " << rms << " (expected ~" << expected
               << "), mean diagonal " << 1 + trace / dd << " (expected ~" << double(nu) / (nu - dd - 1) << ")");
      CHECK(rms < 1.5 * expected);
      // The mean diagonal: E tr(Sigma_hat^{-1} Sigma)/D = N_u/(N_u - D - 1) for Gaussian features,
      // with an sd of about sqrt(2/D) times the entrywise scale.
      CHECK(std::abs(1 + trace / dd - double(nu) / (nu - dd - 1)) < 4 * std::sqrt(2.0 / dd) * expected);
    }
}

TEST_CASE("single precision: h to float accuracy of the double h, the same statistics, on every grid") {
  // run.precision = "single" moves the zca product h = (g - mu) S^{-1/2} to float
  // (whitening.hpp). Its error is float rounding of g - mu and S^{-1/2} and of a
  // D-term sum, amplified by up to sqrt(cond S): with the default ridge 1e-3 a
  // max-norm relative difference from the double h of a few 1e-6 -- the bar is
  // 1e-4; a difference below 1e-10 would mean the product still ran in double.
  // The statistics are double in both, center and none do no product, and
  // another grid's float reassociation stays within the same bar.
  boost::mpi::communicator world;
  const boost::mpi::communicator self(MPI_COMM_SELF, boost::mpi::comm_attach);
  const int d = 8, n = 150, nt = 70;
  const Setup s(d, 4);
  struct Case { const char* act; const char* whiten; int depth; };
  for (const Case c : {Case{"relu", "zca", 1}, Case{"step", "zca", 1}, Case{"quadratic", "zca", 1},
                       Case{"relu", "zca", 2}, Case{"erf", "center", 1}, Case{"step", "none", 1}}) {
    const RandomRepresentationConfig rc = rep_config(c.act, true, "160", c.whiten, c.depth);
    ProcessGrid serial(self, {1, 1});
    const Representation dbl(rc, s.data, s.streams, serial, 16);
    const Representation one(rc, s.data, s.streams, serial, 16, true);
    REQUIRE(test::on_every_rank(world, one.single_precision() && !dbl.single_precision()));
    auto both = [&](const Representation& r) {  // train and test features, one vector
      auto h = linalg::gather_all(r.inputs(Split::Train, n, false));
      const auto ht = linalg::gather_all(r.inputs(Split::Test, nt, false));
      h.insert(h.end(), ht.begin(), ht.end());
      return h;
    };
    const auto ref = both(dbl), ref_single = both(one);
    const double rel = max_abs_diff(ref_single, ref) / max_abs(ref);
    INFO(c.act << " " << c.whiten << " depth " << c.depth << ": single vs double, relative " << rel);
    if (world.rank() == 0) WARN(c.act << " " << c.whiten << " depth " << c.depth << ": single vs double, relative " << rel);
    CHECK(one.whitening()->mean() == dbl.whitening()->mean());
    if (std::string(c.whiten) == "zca") {
      CHECK(linalg::gather_all(*one.whitening()->matrix()) == linalg::gather_all(*dbl.whitening()->matrix()));
      CHECK(rel <= 1e-4);
      CHECK(rel > 1e-10);
    } else {
      CHECK(ref_single == ref);
    }
    for (GridShape shape : test::all_shapes(world.size())) {
      ProcessGrid grid(world, shape);
      const Representation rep(rc, s.data, s.streams, grid, 8, true);
      const auto h = both(rep);
      const double rel_grid = max_abs_diff(h, ref_single) / max_abs(ref_single);
      INFO("grid " << shape.rows << "x" << shape.cols << ": single vs single on one process, relative " << rel_grid);
      CHECK(rel_grid <= 1e-4);
      CHECK(max_abs_diff(h, ref) <= 1e-4 * max_abs(ref));
      CHECK(both(rep) == h);  // bit-identical on the same grid
    }
  }
}

TEST_CASE("kernel regression on finite D approaches the infinite-width result") {
  boost::mpi::communicator world;
  ProcessGrid grid(world, parse_grid_shape("auto", world.size()));
  const int d = 8, n = 300, nt = 500;
  const Setup s(d, 0, "sphere", {2});
  const std::vector<double> y = s.data.labels(n), f = s.data.targets(Split::Test, nt);
  KernelRegressionOptions opt;
  opt.kernel = KernelKind::Ntk;
  opt.ridges = {1e-3};
  opt.block = 32;
  for (const char* whiten : {"none", "center"}) {
    RandomRepresentationConfig rc = rep_config("relu", true, "64", whiten, 1, true);
    const Representation inf(rc, s.data, s.streams, grid, 32);
    const DistMatrix<double> x = inf.inputs(Split::Train, n, true), xt = inf.inputs(Split::Test, nt, true);
    const double e_inf = kernel_regression(InfiniteGram(*inf.infinite_kernel(), x, xt), y, f, 1.0, opt, grid)[0].test_error;
    std::vector<double> gap;
    for (int dd : {128, 512, 2048, 8192}) {
      rc.infinite = false;
      rc.width = SizeExpr(std::to_string(dd), "representation.width");
      const Representation fin(rc, s.data, s.streams, grid, 32);
      const DistMatrix<double> h = fin.inputs(Split::Train, n, true), ht = fin.inputs(Split::Test, nt, true);
      const double e = kernel_regression(FeatureGram(h, ht), y, f, 1.0, opt, grid)[0].test_error;
      gap.push_back(std::abs(e - e_inf));
      if (world.rank() == 0) WARN(whiten << " D = " << dd << ": test error " << e << ", infinite " << e_inf);
    }
    INFO(whiten << ": |finite - infinite| " << gap.front() << " -> " << gap.back() << " (infinite " << e_inf << ")");
    CHECK(e_inf < 0.5);  // it learns
    CHECK(gap.back() < 0.25 * gap.front());  // 1/sqrt(D) predicts 1/8
    CHECK(gap.back() < 0.05 * e_inf);
  }
}

TEST_CASE("bad representation settings are InputErrors naming the key") {
  boost::mpi::communicator world;
  ProcessGrid grid(world, parse_grid_shape("auto", world.size()));
  const Setup s(5);
  auto message = [&](const RepresentationConfig& rc) -> std::string {
    try {
      Representation rep(rc, s.data, s.streams, grid, 8);
    } catch (const InputError& e) {
      return e.what();
    }
    return "";
  };
  CHECK(message(rep_config("tanh", true, "16", "none", 1, true)).rfind("representation.activation:", 0) == 0);
  CHECK(message(rep_config("relu", true, "d-5", "none")).rfind("representation.width:", 0) == 0);
  RandomRepresentationConfig one = rep_config("relu", true, "16", "zca");
  one.n_unlabeled = unlabeled("1");
  CHECK(message(one).rfind("representation.n_unlabeled:", 0) == 0);
  // The configuration accepts every closed form, at any depth, and rejects tanh with infinite = true.
  auto config_error = [](const std::string& rep) -> std::string {
    try {
      parse_config("[representation]\nkind = \"random\"\ninfinite = true\nwhiten = \"none\"\n" + rep, {});
    } catch (const InputError& e) {
      return e.what();
    }
    return "";
  };
  CHECK(config_error("activation = \"erf\"\ndepth = 3\n").empty());
  CHECK(config_error("activation = \"quadratic\"\nbias = false\n").empty());
  CHECK(config_error("activation = \"cubic\"\n").empty());
  CHECK(config_error("activation = \"tanh\"\n").rfind("representation.activation:", 0) == 0);
  // Names that are not choices stop at the configuration (the modules take enums).
  CHECK(config_error("activation = \"sigmoid\"\n").rfind("representation.activation:", 0) == 0);
  // zca with infinite = true: the rule is validate()'s, so the key is named before anything is built.
  auto config_error_with = [](const std::string& rep) -> std::string {
    try {
      parse_config("[representation]\nkind = \"random\"\n" + rep, {});
    } catch (const InputError& e) {
      return e.what();
    }
    return "";
  };
  CHECK(config_error_with("infinite = true\nwhiten = \"zca\"\n").rfind("representation.infinite:", 0) == 0);
  CHECK(config_error_with("whiten = \"pca\"\n").rfind("representation.whiten:", 0) == 0);
  // Labels of the other forms.
  CHECK(Representation(rep_config("relu", true, "2*d^2", "zca", 2), s.data, s.streams, grid, 8).label() == "h:relu:D=2*d^2:zca:depth=2");
  CHECK(Representation(rep_config("step", true, "16", "center", 1, true), s.data, s.streams, grid, 8).label() == "h:step:inf:center");
  CHECK(Representation(rep_config("relu", false, "16", "none", 1, true), s.data, s.streams, grid, 8).label() == "h:relu:inf");
}
