// The Taylor models of DESIGN 1.3 (orders 1, 2, full) and their trainer:
// outputs against the formulas evaluated directly, gradients against central
// finite differences, the quadratic model as the second-order term of the
// network, grid invariance of whole training curves, and two learning checks
// (Quad fits a quadratic target; order 1 converges to empirical-NTK regression).
#include <catch2/catch.hpp>

#include <boost/mpi/collectives.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/utility.hpp>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <type_traits>

#include "neurep/config.hpp"
#include "neurep/data.hpp"
#include "neurep/detail/scalapack_imports.hpp"
#include "neurep/empirical_ntk.hpp"
#include "neurep/errors.hpp"
#include "neurep/linalg.hpp"
#include "neurep/taylor.hpp"
#include "test_helpers.hpp"

using namespace neurep;

namespace {

const RandomStreams kStreams(2020, 3);

// Inputs on the sphere and a normalised target (DESIGN 1.1) of the given degree.
struct Problem {
  DataConfig config;
  Dataset data;
  int64_t n, nt;
  std::vector<double> y, f;
  Problem(int d, int degree, int64_t n_train, int64_t n_test)
      : config(make_config(d, degree)), data(config, d, kStreams), n(n_train), nt(n_test),
        y(data.labels(n_train)), f(data.targets(Split::Test, n_test)) {}
  static DataConfig make_config(int d, int degree) {
    DataConfig c = default_config().data;
    c.dim = d;
    c.degrees = {degree};
    c.coefficients = {1.0};
    return c;
  }
  DistMatrix<double> inputs(const ProcessGrid& grid, Split split, int block) const {
    DistMatrix<double> u(grid, split == Split::Train ? n : nt, data.dim(), block, block);
    data.fill_inputs(split, u);
    return u;
  }
};

TaylorOptions options(TaylorOrder order, Activation sigma, int64_t m, int block) {
  TaylorOptions o;
  o.order = order;
  o.activation = sigma;
  o.width = m;
  o.block = block;
  return o;
}

// A deterministic m x q matrix in W's layout with rows of norm ~ scale.
DistMatrix<double> movement(const TaylorModel& model, double scale, double salt) {
  DistMatrix<double> w = model.zero_movement();
  const double s = scale / std::sqrt(static_cast<double>(model.dim()));
  w.for_each_local([&](int64_t r, int64_t j, double& v) { v = s * test::entry(r, j, salt); });
  return w;
}

double dot(const DistMatrix<double>& a, const DistMatrix<double>& b) {
  double local = 0, total = 0;
  for (int64_t lj = 0; lj < a.local_cols(); ++lj)
    for (int64_t li = 0; li < a.local_rows(); ++li) local += a.local(li, lj) * b.local(li, lj);
  boost::mpi::all_reduce(a.grid().comm(), local, total, std::plus<double>());
  return total;
}

// a + t b, same layout.
DistMatrix<double> axpy(const DistMatrix<double>& a, double t, const DistMatrix<double>& b) {
  DistMatrix<double> c = a;
  for (int64_t lj = 0; lj < c.local_cols(); ++lj)
    for (int64_t li = 0; li < c.local_rows(); ++li) c.local(li, lj) += t * b.local(li, lj);
  return c;
}

// The unit roundoff of the storage type T, and the options that select it.
template <typename T>
constexpr double kEps = std::numeric_limits<T>::epsilon();
template <typename T>
TaylorOptions in_precision(TaylorOptions o) {
  o.single_precision = std::is_same_v<T, float>;
  return o;
}

const char* name(Activation a) {
  switch (a) {
    case Activation::Quadratic: return "quadratic";
    case Activation::Relu2: return "relu2";
    case Activation::Relu: return "relu";
    case Activation::Tanh: return "tanh";
    case Activation::Softplus: return "softplus";
  }
  return "?";
}

// A one-rank grid on every rank, for comparisons against a serial run.
const ProcessGrid& self_grid() {
  static boost::mpi::communicator self(MPI_COMM_SELF, boost::mpi::comm_attach);
  static ProcessGrid grid(self, {1, 1});
  return grid;
}

double max_relative_difference(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return std::nan("");  // fails every comparison, on the rank that sees it
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) && std::isnan(b[i])) continue;
    worst = test::worst(worst, std::abs(a[i] - b[i]) / std::max(std::abs(b[i]), 1e-300));
  }
  return worst;
}

}  // namespace

TEST_CASE("activation derivatives agree with finite differences") {
  for (Activation a : {Activation::Quadratic, Activation::Relu2, Activation::Relu, Activation::Tanh,
                       Activation::Softplus})
    for (double t : {-2.3, -0.7, 0.4, 1.9, 35.0, -35.0})
      for (int k : {1, 2}) {
        const double h = 1e-6;
        const double fd = (activation(a, k - 1, t + h) - activation(a, k - 1, t - h)) / (2 * h);
        INFO(name(a) << " derivative " << k << " at " << t);
        CHECK(activation(a, k, t) == Approx(fd).epsilon(1e-7).margin(1e-9));
      }
  CHECK(activation(Activation::Softplus, 0, 800.0) == 800.0);  // no overflow
  CHECK(activation(Activation::Relu2, 2, 0.0) == 1.0);          // right derivative at the kink
}

TEMPLATE_TEST_CASE("outputs are the formulas of DESIGN 1.3 evaluated directly, on every grid", "", double, float) {
  boost::mpi::communicator world;
  const Problem p(5, 2, 23, 3);
  const int64_t m = 11;
  for (TaylorOrder order : {TaylorOrder::Linear, TaylorOrder::Quadratic, TaylorOrder::Full}) {
    for (GridShape shape : test::all_shapes(world.size())) {
      ProcessGrid grid(world, shape);
      TaylorOptions o = options(order, Activation::Tanh, m, 3);
      o.random_output_signs = true;
      o.sign_randomization = order == TaylorOrder::Full;
      const TaylorModel model(o, 5, kStreams, grid);
      const DistMatrix<double> u = p.inputs(grid, Split::Train, 3);
      TaylorBatch<TestType> batch(model, u);
      const DistMatrix<double> w = movement(model, 0.7, 0.3);
      const auto U = linalg::gather_all(u), W = linalg::gather_all(w), W0 = linalg::gather_all(model.w0());
      const int64_t step = 17;
      const auto f = batch.predictions(w, step);
      const auto f_eval = batch.predictions(w, kEvaluationSigns);
      double worst = 0, worst_eval = 0;
      int plus = 0;
      for (int64_t i = 0; i < p.n; ++i) {
        double direct = 0, direct_eval = 0;
        for (int64_t r = 0; r < m; ++r) {
          double z0 = 0, z = 0;
          for (int j = 0; j < 5; ++j) {
            z0 += W0[r + j * m] * U[i + j * p.n];
            z += W[r + j * m] * U[i + j * p.n];
          }
          // Random output signs and sign flips from their streams.
          const double a = kStreams.sign(Stream::OutputSigns, r, 0);
          const double s = kStreams.sign(Stream::SignFlips, r, 0, step);
          CHECK(model.output_sign(r) == a);
          if (i == 0 && a > 0) ++plus;
          if (order == TaylorOrder::Linear) direct += a * (1 - std::pow(std::tanh(z0), 2)) * z;
          if (order == TaylorOrder::Quadratic) direct += 0.5 * a * -2 * std::tanh(z0) * (1 - std::pow(std::tanh(z0), 2)) * z * z;
          if (order == TaylorOrder::Full) {
            direct += a * (std::tanh(z0 + s * z) - std::tanh(z0));
            direct_eval += a * (0.5 * (std::tanh(z0 + z) + std::tanh(z0 - z)) - std::tanh(z0));
          }
        }
        direct /= std::sqrt(double(m));
        direct_eval /= std::sqrt(double(m));
        if (order != TaylorOrder::Full) direct_eval = direct;
        worst = test::worst(worst, std::abs(f[i] - direct));
        worst_eval = test::worst(worst_eval, std::abs(f_eval[i] - direct_eval));
      }
      INFO("order " << order_name(order) << " grid " << shape.rows << "x" << shape.cols << ": worst " << worst
                    << ", " << worst_eval << " (evaluation signs), " << worst / kEps<TestType> << " eps");
      // Rounding U, W and Z to T (about 5 roundings of O(1) terms, summed over m = 11 units).
      CHECK(worst < 256 * kEps<TestType>);
      CHECK(worst_eval < 256 * kEps<TestType>);
      CHECK(plus > 0);
      CHECK(plus < m);
      // W_0 rows ~ N(0, I/q) from the TaylorInit stream.
      CHECK(W0[2 + 3 * m] == Approx(kStreams.gaussian(Stream::TaylorInit, 2, 3) / std::sqrt(5.0)).epsilon(1e-15));
    }
  }
}

TEST_CASE("balanced output signs: the first ceil(m/2) are +1") {
  boost::mpi::communicator world;
  ProcessGrid grid(world, parse_grid_shape("auto", world.size()));
  for (int64_t m : {1, 2, 7}) {
    const TaylorModel model(options(TaylorOrder::Quadratic, Activation::Quadratic, m, 4), 3, kStreams, grid);
    for (int64_t r = 0; r < m; ++r) CHECK(model.output_sign(r) == (r < (m + 1) / 2 ? 1.0 : -1.0));
  }
}

TEMPLATE_TEST_CASE("every model's gradient matches central finite differences", "", double, float) {
  boost::mpi::communicator world;
  const Problem p(7, 4, 37, 2);
  const int64_t m = 9, n_fit = 31;  // the last 6 samples are a validation split: no gradient from them
  ProcessGrid grid(world, parse_grid_shape("auto", world.size()));
  const DistMatrix<double> u = p.inputs(grid, Split::Train, 4);
  struct Case {
    TaylorOrder order;
    Activation sigma;
    bool signs;
    double regularizer;
    int power;
    double decay;
    bool offset = false;
  };
  std::vector<Case> cases;
  for (Activation a : {Activation::Quadratic, Activation::Relu2, Activation::Tanh, Activation::Softplus}) {
    cases.push_back({TaylorOrder::Linear, a, false, 0, 4, 0});
    cases.push_back({TaylorOrder::Quadratic, a, false, 0.3, 4, 0});
    cases.push_back({TaylorOrder::Full, a, false, 0, 4, 0.2});
  }
  cases.push_back({TaylorOrder::Linear, Activation::Relu, false, 0.1, 8, 0});
  cases.push_back({TaylorOrder::Full, Activation::Relu, false, 0, 4, 0});
  cases.push_back({TaylorOrder::Full, Activation::Tanh, true, 0.05, 8, 0.1});
  cases.push_back({TaylorOrder::Quadratic, Activation::Softplus, false, 0.02, 8, 0.3});
  // The output offset c (learner.output_bias), with every order.
  cases.push_back({TaylorOrder::Linear, Activation::Tanh, false, 0, 4, 0, true});
  cases.push_back({TaylorOrder::Quadratic, Activation::Quadratic, false, 0.3, 4, 0, true});
  cases.push_back({TaylorOrder::Full, Activation::Softplus, true, 0.05, 8, 0.1, true});
  // Central differences with h = eps^(1/3): truncation O(h^2) and rounding O(eps/h), both O(eps^(2/3)).
  const double h = std::cbrt(kEps<TestType>), tolerance = 128 * std::pow(kEps<TestType>, 2.0 / 3.0);
  double worst = 0;
  for (const Case& c : cases) {
    TaylorOptions o = options(c.order, c.sigma, m, 4);
    o.sign_randomization = c.signs;
    o.regularizer = c.regularizer, o.reg_power = c.power, o.weight_decay = c.decay;
    o.output_bias = c.offset;
    const TaylorModel model(o, 7, kStreams, grid);
    TaylorBatch<TestType> batch(model, u);
    const DistMatrix<double> w = movement(model, 0.8, 1.1);
    const double bias = c.offset ? 0.37 : 0.0;
    DistMatrix<double> grad = model.zero_movement();
    double bias_grad = std::nan("");
    const int64_t step = 5;
    taylor_objective(batch, p.y, n_fit, w, step, &grad, bias, c.offset ? &bias_grad : nullptr);
    auto loss = [&](const DistMatrix<double>& at, double b) {
      return taylor_objective(batch, p.y, n_fit, at, step, nullptr, b);
    };
    INFO("order " << order_name(c.order) << " " << name(c.sigma) << " signs " << c.signs << " lambda "
                  << c.regularizer << " k " << c.power << " decay " << c.decay << " offset " << c.offset);
    for (double salt : {2.0, 3.5}) {
      const DistMatrix<double> dir = movement(model, 1.0, salt);
      const double fd = (loss(axpy(w, h, dir), bias) - loss(axpy(w, -h, dir), bias)) / (2 * h);
      const double an = dot(grad, dir);
      const double rel = std::abs(fd - an) / std::abs(an);
      worst = test::worst(worst, rel);
      INFO("analytic " << an << " finite difference " << fd << " relative error " << rel);
      CHECK(rel <= tolerance);
    }
    if (c.offset) {  // dL/dc
      const double fd = (loss(w, bias + h) - loss(w, bias - h)) / (2 * h);
      const double rel = std::abs(fd - bias_grad) / std::abs(bias_grad);
      worst = test::worst(worst, rel);
      INFO("dL/dc analytic " << bias_grad << " finite difference " << fd << " relative error " << rel);
      CHECK(rel <= tolerance);
    }
  }
  if (world.rank() == 0)
    std::printf("gradient check (%s): worst relative error %.2e (tolerance %.2e) over %zu models\n",
                std::is_same_v<TestType, float> ? "float" : "double", worst, tolerance, cases.size());
  // The validation samples do not enter the loss.
  const TaylorModel model(options(TaylorOrder::Quadratic, Activation::Quadratic, m, 4), 7, kStreams, grid);
  TaylorBatch<TestType> batch(model, u);
  std::vector<double> y2 = p.y;
  for (int64_t i = n_fit; i < p.n; ++i) y2[i] += 100;
  const DistMatrix<double> w = movement(model, 0.8, 1.1);
  CHECK(taylor_objective(batch, y2, n_fit, w, 0, nullptr) == taylor_objective(batch, p.y, n_fit, w, 0, nullptr));
}

TEST_CASE("the quadratic model is the second-order Taylor term of the full network") {
  boost::mpi::communicator world;
  const Problem p(6, 2, 40, 2);
  ProcessGrid grid(world, parse_grid_shape("auto", world.size()));
  const DistMatrix<double> u = p.inputs(grid, Split::Train, 8);
  for (Activation a : {Activation::Tanh, Activation::Softplus}) {
    const int64_t m = 16;
    const TaylorModel full(options(TaylorOrder::Full, a, m, 8), 6, kStreams, grid);
    const TaylorModel lin(options(TaylorOrder::Linear, a, m, 8), 6, kStreams, grid);
    const TaylorModel quad(options(TaylorOrder::Quadratic, a, m, 8), 6, kStreams, grid);
    TaylorBatch<double> bf(full, u), bl(lin, u), bq(quad, u);
    const DistMatrix<double> w = movement(full, 1.0, 0.9);
    const auto f2 = bq.predictions(w, 0);
    std::vector<double> log_t, log_e;
    for (double t : {0.2, 0.1, 0.05, 0.025, 0.0125}) {
      DistMatrix<double> tw = w;
      tw.for_each_local([&](int64_t, int64_t, double& v) { v *= t; });
      const auto ff = bf.predictions(tw, 0), fl = bl.predictions(tw, 0);
      // (full - linear term)/t^2 -> quadratic term, with an error O(t).
      double e = 0;
      for (size_t i = 0; i < ff.size(); ++i) e = test::worst(e, std::abs((ff[i] - fl[i]) / (t * t) - f2[i]));
      log_t.push_back(std::log(t));
      log_e.push_back(std::log(e));
    }
    // Least-squares slope of log error against log t.
    double mt = 0, me = 0, stt = 0, ste = 0;
    for (size_t k = 0; k < log_t.size(); ++k) mt += log_t[k] / log_t.size(), me += log_e[k] / log_e.size();
    for (size_t k = 0; k < log_t.size(); ++k)
      stt += (log_t[k] - mt) * (log_t[k] - mt), ste += (log_t[k] - mt) * (log_e[k] - me);
    const double slope = ste / stt;
    if (world.rank() == 0)
      std::printf("%s: |(full - order 1)(tW)/t^2 - order 2(W)| ~ t^%.3f (from %.2e at t = 0.2 to %.2e at t = 0.0125)\n",
                  name(a), slope, std::exp(log_e.front()), std::exp(log_e.back()));
    INFO(name(a) << " slope " << slope);
    CHECK(slope == Approx(1.0).margin(0.05));  // so full - linear - quadratic = O(|W|^3)
    double f2_max = 0;
    for (double v : f2) f2_max = test::worst(f2_max, std::abs(v));
    CHECK(std::exp(log_e.back()) < 0.05 * f2_max);
  }
}

TEMPLATE_TEST_CASE("training curves are the same on 1 rank and on every grid shape", "", double, float) {
  boost::mpi::communicator world;
  const Problem p(6, 4, 70, 30);
  struct Case {
    TaylorOrder order;
    Activation sigma;
    bool signs;
    double momentum;
    Schedule schedule;
    double validation;
  };
  const Case cases[] = {
      {TaylorOrder::Quadratic, Activation::Relu2, false, 0.0, Schedule::Constant, 0.2},
      {TaylorOrder::Linear, Activation::Softplus, false, 0.5, Schedule::Cosine, 0.0},
      {TaylorOrder::Full, Activation::Tanh, true, 0.3, Schedule::Linear, 0.1},
  };
  for (const Case& c : cases) {
    TaylorOptions o = in_precision<TestType>(options(c.order, c.sigma, 13, 4));
    o.sign_randomization = c.signs;
    o.momentum = c.momentum;
    o.schedule = c.schedule;
    o.validation_fraction = c.validation;
    o.learning_rate = 0.2;
    o.regularizer = 1e-3;
    o.steps = 60;
    o.eval_every = 7;
    auto train = [&](const ProcessGrid& grid, TrainingCurve& curve) {
      const DistMatrix<double> u = p.inputs(grid, Split::Train, 4), ut = p.inputs(grid, Split::Test, 4);
      const LearnerData data{u, p.y, ut, p.f, 1.0};
      return train_taylor(data, o, kStreams, grid, &curve);
    };
    TrainingCurve serial;
    const FitResult ref = train(self_grid(), serial);
    REQUIRE(test::on_every_rank(world, serial.step.size() == 10));  // 0, 7, ..., 56, 60
    CHECK(serial.step.back() == 60);
    CHECK(serial.train_loss.back() < serial.train_loss.front());
    for (GridShape shape : test::all_shapes(world.size())) {
      ProcessGrid grid(world, shape);
      TrainingCurve curve, again;
      const FitResult fit = train(grid, curve);
      train(grid, again);
      double diff = 0;
      for (auto member : {&TrainingCurve::train_loss, &TrainingCurve::test_error, &TrainingCurve::validation_error,
                          &TrainingCurve::weight_norm})
        diff = test::worst(diff, max_relative_difference(curve.*member, serial.*member));
      if (world.rank() == 0)
        std::printf("order %s (%s), grid %dx%d: largest relative difference to 1 rank %.2e = %.0f eps\n",
                    order_name(c.order).c_str(), std::is_same_v<TestType, float> ? "float" : "double", shape.rows,
                    shape.cols, diff, diff / kEps<TestType>);
      INFO("order " << order_name(c.order) << " grid " << shape.rows << "x" << shape.cols);
      // Reassociation of the sums over coordinates, units and samples (seen: up to 4 eps after 60 steps).
      CHECK(diff < 64 * kEps<TestType>);
      CHECK(fit.test_error == Approx(ref.test_error).epsilon(64 * kEps<TestType>));
      CHECK(fit.extra.at("best_step") == ref.extra.at("best_step"));
      // Bit-identical on the same grid.
      CHECK(again.train_loss == curve.train_loss);
      CHECK(again.test_error == curve.test_error);
    }
  }
}

TEST_CASE("Quad with sigma = quadratic fits (beta.x)^2 from n = 10 d^2 samples") {
  boost::mpi::communicator world;
  const int d = 8;
  const Problem p(d, 2, 10 * d * d, 2000);
  ProcessGrid grid(world, parse_grid_shape("auto", world.size()));
  const DistMatrix<double> u = p.inputs(grid, Split::Train, 32), ut = p.inputs(grid, Split::Test, 32);
  TaylorOptions o = options(TaylorOrder::Quadratic, Activation::Quadratic, 4 * d, 32);
  o.learning_rate = 0.05;
  o.steps = 1500;
  o.eval_every = 100;
  TrainingCurve curve;
  const FitResult fit = train_taylor({u, p.y, ut, p.f, 1.0}, o, kStreams, grid, &curve);
  if (world.rank() == 0)
    std::printf("Quad on (beta.x)^2, d = %d, n = %lld, m = %lld: test error %.4f (from %.3f), train error %.2e\n",
                d, static_cast<long long>(p.n), static_cast<long long>(o.width), fit.test_error,
                curve.test_error.front(), fit.train_error);
  CHECK(fit.status == "ok");
  CHECK(curve.test_error.front() > 0.5);
  CHECK(fit.test_error < 0.05);
}

TEST_CASE("order 1 trained from W = 0 converges to ridgeless empirical-NTK regression") {
  boost::mpi::communicator world;
  const Problem p(6, 4, 48, 200);
  ProcessGrid grid(world, parse_grid_shape("auto", world.size()));
  const DistMatrix<double> u = p.inputs(grid, Split::Train, 8), ut = p.inputs(grid, Split::Test, 8);
  // ReLU: its empirical NTK is well conditioned here (eigenvalues of K/n in [1.8e-3, 0.43]).
  TaylorOptions o = options(TaylorOrder::Linear, Activation::Relu, 64, 8);
  o.init_scale = 0.0;
  o.learning_rate = 2.0;
  o.momentum = 0.9;
  o.steps = 4000;
  o.eval_every = 1000;
  TaylorTrainer<double> trainer({u, p.y, ut, p.f, 1.0}, o, kStreams, grid);
  TrainerState state = trainer.initial_state();
  trainer.run(state);
  const FitResult gd = trainer.result(state);

  // The same kernel regression, ridgeless, and its predictions by a serial solve.
  const EmpiricalNtkGram gram(trainer.model(), u, ut);
  KernelRegressionOptions kopt;
  kopt.kernel = KernelKind::Linear;
  kopt.ridges = {0.0};
  kopt.solver = KernelSolver::Cholesky;
  kopt.block = 8;
  const FitResult krr = kernel_regression(gram, p.y, p.f, 1.0, kopt, grid).front();
  DistMatrix<double> k(grid, p.n, p.n, 8, 8), kt(grid, p.nt, p.n, 8, 8);
  gram.train_gram(k);
  gram.test_gram(kt);
  std::vector<double> K = linalg::gather_all(k), Kt = linalg::gather_all(kt), alpha = p.y;
  const int n = static_cast<int>(p.n), one = 1;
  int info = 0;
  dpotrf_("L", &n, K.data(), &n, &info);
  REQUIRE(test::on_every_rank(world, info == 0));
  dpotrs_("L", &n, &one, K.data(), &n, alpha.data(), &n, &info);
  TaylorBatch<double> test_batch(trainer.model(), ut);
  const auto f_gd = test_batch.predictions(state.w, 0);
  double gap = 0, scale = 0;
  for (int64_t i = 0; i < p.nt; ++i) {
    double pred = 0;
    for (int64_t j = 0; j < p.n; ++j) pred += Kt[i + j * p.nt] * alpha[j];
    gap = test::worst(gap, std::abs(pred - f_gd[i]));
    scale = test::worst(scale, std::abs(pred));
  }
  if (world.rank() == 0)
    std::printf("order 1 GD vs empirical-NTK ridgeless: test error %.6f vs %.6f, train error %.2e, "
                "largest prediction gap %.2e (predictions up to %.2f)\n",
                gd.test_error, krr.test_error, gd.train_error, gap, scale);
  CHECK(krr.status == "ok");
  CHECK(gd.train_error < 1e-8);
  CHECK(gd.test_error == Approx(krr.test_error).epsilon(1e-4));
  CHECK(gap < 1e-3 * scale);
}

TEST_CASE("the empirical NTK Gram is (S S^T/m) o (U U^T) with S = sigma'(U W_0^T)") {
  boost::mpi::communicator world;
  const Problem p(4, 2, 19, 11);
  ProcessGrid grid(world, parse_grid_shape("auto", world.size()));
  const DistMatrix<double> u = p.inputs(grid, Split::Train, 4), ut = p.inputs(grid, Split::Test, 4);
  const int64_t m = 10;
  const TaylorModel model(options(TaylorOrder::Linear, Activation::Relu, m, 4), 4, kStreams, grid);
  const EmpiricalNtkGram gram(model, u, ut);
  DistMatrix<double> kt(grid, p.nt, p.n, 4, 4);
  gram.test_gram(kt);
  const auto Kt = linalg::gather_all(kt), U = linalg::gather_all(u), Ut = linalg::gather_all(ut);
  const auto W0 = linalg::gather_all(model.w0());
  const auto diag = gram.test_diagonal();
  double worst = 0;
  for (int64_t i = 0; i < p.nt; ++i)
    for (int64_t j = 0; j < p.n; ++j) {
      double ss = 0, uu = 0, dd = 0, uii = 0;
      for (int64_t r = 0; r < m; ++r) {
        double a = 0, b = 0;
        for (int c = 0; c < 4; ++c) a += W0[r + c * m] * Ut[i + c * p.nt], b += W0[r + c * m] * U[j + c * p.n];
        ss += (a >= 0) * (b >= 0);
        dd += (a >= 0);
      }
      for (int c = 0; c < 4; ++c) uu += Ut[i + c * p.nt] * U[j + c * p.n], uii += Ut[i + c * p.nt] * Ut[i + c * p.nt];
      worst = test::worst(worst, std::abs(Kt[i + j * p.nt] - ss / m * uu));
      if (j == 0) worst = test::worst(worst, std::abs(diag[i] - dd / m * uii));
    }
  CHECK(worst < 1e-12);
}

TEST_CASE("early stopping reports the best validation evaluation") {
  boost::mpi::communicator world;
  const Problem p(6, 4, 60, 100);
  ProcessGrid grid(world, parse_grid_shape("auto", world.size()));
  const DistMatrix<double> u = p.inputs(grid, Split::Train, 8), ut = p.inputs(grid, Split::Test, 8);
  TaylorOptions o = options(TaylorOrder::Linear, Activation::Tanh, 64, 8);
  o.learning_rate = 1.0;
  o.steps = 3000;
  o.eval_every = 20;
  o.validation_fraction = 0.25;
  o.patience = 5;
  TrainingCurve curve;
  const FitResult fit = train_taylor({u, p.y, ut, p.f, 1.0}, o, kStreams, grid, &curve);
  const auto best = std::min_element(curve.validation_error.begin(), curve.validation_error.end());
  const size_t e = static_cast<size_t>(best - curve.validation_error.begin());
  CHECK(fit.extra.at("best_step") == curve.step[e]);
  CHECK(fit.test_error == curve.test_error[e]);
  CHECK(fit.extra.at("validation_error") == *best);
  // Overfitting 45 points with 64 x 6 parameters: validation turns up and training stops early.
  CHECK(fit.extra.at("steps_run") < o.steps);
  CHECK(curve.step.size() == e + 1 + 5);
  CHECK(curve.train_error.back() < curve.train_error[e]);
}

TEST_CASE("divergence is recorded as a status and NaN errors, not an exception") {
  boost::mpi::communicator world;
  const Problem p(5, 4, 50, 20);
  ProcessGrid grid(world, parse_grid_shape("auto", world.size()));
  const DistMatrix<double> u = p.inputs(grid, Split::Train, 8), ut = p.inputs(grid, Split::Test, 8);
  TaylorOptions o = options(TaylorOrder::Quadratic, Activation::Quadratic, 8, 8);
  o.learning_rate = 50.0;
  o.steps = 500;
  TrainingCurve curve;
  const FitResult fit = train_taylor({u, p.y, ut, p.f, 1.0}, o, kStreams, grid, &curve);
  CHECK(fit.status == "diverged");
  CHECK(std::isnan(fit.test_error));
  CHECK(std::isnan(fit.train_error));
  CHECK(fit.extra.at("steps_run") < o.steps);
  CHECK_FALSE(std::isfinite(curve.train_loss.back()));
}

TEMPLATE_TEST_CASE("the hook sees every step and the state resumes where it stopped", "", double, float) {
  boost::mpi::communicator world;
  const Problem p(5, 4, 50, 20);
  ProcessGrid grid(world, parse_grid_shape("auto", world.size()));
  const DistMatrix<double> u = p.inputs(grid, Split::Train, 8), ut = p.inputs(grid, Split::Test, 8);
  TaylorOptions o = options(TaylorOrder::Full, Activation::Softplus, 8, 8);
  o.sign_randomization = true;
  o.momentum = 0.5;
  o.steps = 40;
  o.eval_every = 10;
  o.output_bias = true;  // the offset and its momentum are part of the state
  TaylorTrainer<TestType> trainer({u, p.y, ut, p.f, 1.0}, o, kStreams, grid);
  TrainerState whole = trainer.initial_state();
  std::vector<int64_t> seen;
  trainer.run(whole, [&](const TrainerState& s) { seen.push_back(s.step); });
  REQUIRE(test::on_every_rank(world, seen.size() == 40));
  CHECK(seen.front() == 1);
  CHECK(seen.back() == 40);
  // Interrupted after step 23 (the hook throws, as a kill would), resumed from a copy of the state.
  TrainerState part = trainer.initial_state();
  std::unique_ptr<TrainerState> saved;
  struct Stop {};
  try {
    trainer.run(part, [&](const TrainerState& s) {
      if (s.step == 23) {
        saved = std::make_unique<TrainerState>(s);
        throw Stop{};
      }
    });
  } catch (const Stop&) {
  }
  REQUIRE(test::on_every_rank(world, saved != nullptr));
  trainer.run(*saved);
  CHECK(saved->curve.train_loss == whole.curve.train_loss);
  CHECK(saved->curve.test_error == whole.curve.test_error);
  CHECK(linalg::gather_all(saved->w) == linalg::gather_all(whole.w));
  CHECK(saved->bias == whole.bias);
  CHECK(whole.bias != 0.0);
}

TEST_CASE("learner options: schedules and bad input naming the key") {
  TaylorOptions o;
  o.learning_rate = 0.2;
  o.steps = 100;
  o.schedule = Schedule::Cosine;
  CHECK(learning_rate_at(o, 0) == Approx(0.2));
  CHECK(learning_rate_at(o, 50) == Approx(0.1));
  o.schedule = Schedule::Linear;
  CHECK(learning_rate_at(o, 75) == Approx(0.05));
  const std::string taylor = "[learner]\nkind = \"taylor\"\nm = \"2*d\"\n";
  LearnerConfig c = parse_config(taylor, {}).learner;
  CHECK(taylor_options(c, 8, 16).width == 16);
  c = parse_config(taylor, {"learner.order=\"full\""}).learner;
  CHECK(taylor_options(c, 8, 16).order == TaylorOrder::Full);
  auto message = [&](LearnerConfig bad) {
    try {
      taylor_options(bad, 8, 16);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  LearnerConfig bad = c;
  std::get<TaylorLearnerConfig>(bad.method).network.widths = {SizeExpr("d-20", "learner.m")};
  CHECK(message(bad).rfind("learner.m:", 0) == 0);
  auto config_message = [&](const std::string& override) {
    try {
      parse_config(taylor, {override});
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(config_message("learner.activation=\"sigmoid\"").rfind("learner.activation:", 0) == 0);
  // Through the configuration: learner.m is checked at every d of the sweep.
  const std::string base = "[learner]\nkind = \"taylor\"\n[sweep]\ndims = [8, 30]\n";
  CHECK_NOTHROW(parse_config(base, {"learner.m=\"d-7\""}));
  CHECK_THROWS_WITH(parse_config(base, {"learner.m=\"d-10\""}), Catch::StartsWith("learner.m:"));
  CHECK_THROWS_WITH(parse_config(base, {"learner.activation=relu"}), Catch::StartsWith("learner.activation:"));
}

TEST_CASE("single precision: outputs and gradients to float accuracy, and the same fit") {
  boost::mpi::communicator world;
  const Problem p(7, 2, 61, 40);
  const int64_t m = 13;
  ProcessGrid grid(world, parse_grid_shape("auto", world.size()));
  const DistMatrix<double> u = p.inputs(grid, Split::Train, 4);
  for (TaylorOrder order : {TaylorOrder::Linear, TaylorOrder::Quadratic, TaylorOrder::Full}) {
    TaylorOptions o = options(order, Activation::Tanh, m, 4);
    const TaylorModel model(o, 7, kStreams, grid);
    o.single_precision = true;
    const TaylorModel model32(o, 7, kStreams, grid);
    TaylorBatch<double> batch(model, u);
    TaylorBatch<float> batch32(model32, u);
    const DistMatrix<double> w = movement(model, 0.8, 1.1);
    DistMatrix<double> grad = model.zero_movement(), grad32 = model.zero_movement();
    const double loss = taylor_objective(batch, p.y, p.n, w, 0, &grad);
    const double loss32 = taylor_objective(batch32, p.y, p.n, w, 0, &grad32);
    const auto f = batch.predictions(w, 0), f32 = batch32.predictions(w, 0);
    double gap = 0, scale = 0;
    for (size_t i = 0; i < f.size(); ++i) gap = test::worst(gap, std::abs(f[i] - f32[i])), scale = test::worst(scale, std::abs(f[i]));
    const DistMatrix<double> diff = axpy(grad, -1.0, grad32);
    INFO("order " << order_name(order) << ": outputs " << gap << " of " << scale << ", loss " << loss << " vs " << loss32);
    CHECK(gap <= 1e-5 * scale);
    CHECK(std::abs(loss - loss32) <= 1e-5 * loss);
    CHECK(std::sqrt(dot(diff, diff)) <= 1e-5 * std::sqrt(dot(grad, grad)));
  }
  // Training: the Quad fit of (beta.x)^2 ends at the same test error to ~1e-4.
  const int d = 8;
  const Problem q(d, 2, 10 * d * d, 500);
  const DistMatrix<double> x = q.inputs(grid, Split::Train, 32), xt = q.inputs(grid, Split::Test, 32);
  TaylorOptions o = options(TaylorOrder::Quadratic, Activation::Quadratic, 4 * d, 32);
  o.learning_rate = 0.05;
  o.steps = 600;
  o.eval_every = 100;
  const FitResult fit = train_taylor({x, q.y, xt, q.f, 1.0}, o, kStreams, grid);
  o.single_precision = true;
  const FitResult fit32 = train_taylor({x, q.y, xt, q.f, 1.0}, o, kStreams, grid);
  if (world.rank() == 0)
    std::printf("Quad in single precision: test error %.6f (double %.6f)\n", fit32.test_error, fit.test_error);
  CHECK(fit32.status == "ok");
  CHECK(std::abs(fit32.test_error - fit.test_error) <= 1e-4 + 1e-3 * fit.test_error);
}

TEST_CASE("the output offset: m = 1 Quad with a = +1 fits a centred target only with it") {
  // f(u) = (w.u)^2/2 >= 0 with one unit of output sign +1, but (beta.x)^2
  // normalised to mean 0 is negative on most of the sphere: on the sphere of
  // radius sqrt(d) it is ((beta.x)^2 - 1)/s, s^2 = 2(d - 1)/(d + 2), which is
  // f with w = (2/s)^(1/2) beta and the offset c = -1/s.
  boost::mpi::communicator world;
  const int d = 6;
  const Problem p(d, 2, 200, 500);
  ProcessGrid grid(world, parse_grid_shape("auto", world.size()));
  const DistMatrix<double> u = p.inputs(grid, Split::Train, 16), ut = p.inputs(grid, Split::Test, 16);
  TaylorOptions o = options(TaylorOrder::Quadratic, Activation::Quadratic, 1, 16);
  o.learning_rate = 0.2;
  o.momentum = 0.9;
  o.steps = 1500;
  o.eval_every = 100;
  const TaylorModel model(o, d, kStreams, grid);
  REQUIRE(model.output_sign(0) == 1.0);
  const FitResult without = train_taylor({u, p.y, ut, p.f, 1.0}, o, kStreams, grid);
  o.output_bias = true;
  const FitResult with = train_taylor({u, p.y, ut, p.f, 1.0}, o, kStreams, grid);
  const double c = -1 / std::sqrt(2.0 * (d - 1) / (d + 2));
  if (world.rank() == 0)
    std::printf("m = 1 Quad on centred (beta.x)^2, d = %d: test error %.3g without the offset, %.3g with it "
                "(c = %.9f, exact %.9f)\n", d, without.test_error, with.test_error, with.extra.at("output_bias"), c);
  CHECK(without.extra.count("output_bias") == 0);  // no column unless asked for
  CHECK(without.status == "ok");
  CHECK(without.test_error > 0.2);
  CHECK(with.status == "ok");
  CHECK(with.test_error < 1e-3);
  CHECK(with.extra.at("output_bias") == Approx(c).epsilon(1e-6));
}

TEST_CASE("divergence is not judged on the test error") {
  // Test inputs so large that the test outputs overflow: the training data and the fit are fine.
  boost::mpi::communicator world;
  const Problem p(5, 2, 40, 20);
  ProcessGrid grid(world, parse_grid_shape("auto", world.size()));
  const DistMatrix<double> u = p.inputs(grid, Split::Train, 8);
  DistMatrix<double> ut = p.inputs(grid, Split::Test, 8);
  ut.for_each_local([](int64_t, int64_t, double& v) { v *= 1e200; });
  TaylorOptions o = options(TaylorOrder::Quadratic, Activation::Quadratic, 4, 8);
  o.steps = 50;
  o.eval_every = 10;
  for (double validation : {0.0, 0.25}) {
    o.validation_fraction = validation;
    TrainingCurve curve;
    const FitResult fit = train_taylor({u, p.y, ut, p.f, 1.0}, o, kStreams, grid, &curve);
    INFO("validation_fraction " << validation);
    CHECK_FALSE(std::isfinite(curve.test_error.back()));
    CHECK(fit.status == "ok");
    CHECK(fit.extra.at("steps_run") == o.steps);
    CHECK(std::isfinite(fit.train_error));
  }
}

TEMPLATE_TEST_CASE("a diverged run keeps the evaluation its validation split chose, on every rank alike", "", double,
                   float) {
  boost::mpi::communicator world;
  const Problem p(5, 4, 50, 20);
  ProcessGrid grid(world, parse_grid_shape("auto", world.size()));
  const DistMatrix<double> u = p.inputs(grid, Split::Train, 8), ut = p.inputs(grid, Split::Test, 8);
  // Quad from a small start: W grows slowly at first, then the step is far too large for its curvature.
  TaylorOptions o = in_precision<TestType>(options(TaylorOrder::Quadratic, Activation::Quadratic, 8, 8));
  o.learning_rate = 8.0;
  o.init_scale = 0.01;
  o.steps = 500;
  o.eval_every = 1;
  o.validation_fraction = 0.2;
  TrainingCurve curve;
  const FitResult fit = train_taylor({u, p.y, ut, p.f, 1.0}, o, kStreams, grid, &curve);
  const auto best = std::min_element(curve.validation_error.begin(), curve.validation_error.end() - 1);
  const size_t e = static_cast<size_t>(best - curve.validation_error.begin());
  if (world.rank() == 0)
    std::printf("diverged at step %g; validation chose step %g (validation error %.3g, from %.3g at step 0)\n",
                fit.extra.at("steps_run"), fit.extra.at("best_step"), *best, curve.validation_error.front());
  CHECK(fit.status == "diverged-after-best");
  CHECK_FALSE(std::isfinite(curve.train_loss.back()));
  CHECK(fit.extra.at("steps_run") < o.steps);
  CHECK(fit.extra.at("best_step") > 0);  // not just the start
  CHECK(fit.extra.at("best_step") == curve.step[e]);
  CHECK(fit.test_error == curve.test_error[e]);
  CHECK(fit.train_error == curve.train_error[e]);
  CHECK(fit.extra.at("validation_error") == *best);
  // The decision is shared: every rank stopped at the same step with the same status.
  const std::pair<double, double> mine{fit.extra.at("steps_run"), fit.extra.at("best_step")};
  std::vector<std::pair<double, double>> all;
  boost::mpi::all_gather(world, mine, all);
  for (const auto& other : all) CHECK(other == mine);
  std::vector<std::string> statuses;
  boost::mpi::all_gather(world, fit.status, statuses);
  for (const auto& other : statuses) CHECK(other == fit.status);
}

TEST_CASE("stop_step: a run stopped early is the prefix of the whole run") {
  boost::mpi::communicator world;
  const Problem p(5, 2, 40, 30);
  ProcessGrid grid(world, parse_grid_shape("auto", world.size()));
  const DistMatrix<double> u = p.inputs(grid, Split::Train, 8), ut = p.inputs(grid, Split::Test, 8);
  TaylorOptions o = options(TaylorOrder::Quadratic, Activation::Quadratic, 6, 8);
  o.schedule = Schedule::Cosine;  // the schedule keeps spanning `steps`
  o.momentum = 0.5;
  o.output_bias = true;
  o.steps = 80;
  o.eval_every = 10;
  TrainingCurve whole, part;
  train_taylor({u, p.y, ut, p.f, 1.0}, o, kStreams, grid, &whole);
  o.stop_step = 30;
  const FitResult fit = train_taylor({u, p.y, ut, p.f, 1.0}, o, kStreams, grid, &part);
  REQUIRE(part.step.size() == 4);  // 0, 10, 20, 30
  CHECK(fit.extra.at("steps_run") == 30);
  CHECK(fit.extra.at("best_step") == 30);
  for (size_t k = 0; k < part.step.size(); ++k) {
    CHECK(part.step[k] == whole.step[k]);
    CHECK(part.train_loss[k] == whole.train_loss[k]);
    CHECK(part.test_error[k] == whole.test_error[k]);
  }
  CHECK(fit.test_error == whole.test_error[3]);
}

TEST_CASE("learner.require_converged: the rule on curves (train within 10 % of validation, no gain in the last quarter)") {
  // Evaluations every 10 steps to step 100.
  const auto curve = [](std::function<double(double)> train, std::function<double(double)> val) {
    TrainingCurve c;
    for (int s = 0; s <= 100; s += 10) {
      c.step.push_back(s);
      c.train_error.push_back(train(s));
      c.validation_error.push_back(val(s));
    }
    return c;
  };
  const auto plateau = [](double s) { return 0.3 + std::exp(-s / 5.0); };        // flat after ~step 40
  const auto falling = [](double s) { return 0.3 + std::exp(-s / 50.0); };       // still falling at the end
  CHECK(optimisation_converged(curve(plateau, plateau), 10, 100));
  CHECK(optimisation_converged(curve([](double s) { return 1.05 * (0.3 + std::exp(-s / 5.0)); }, plateau), 10, 100));
  CHECK_FALSE(optimisation_converged(curve(falling, falling), 10, 100));  // the last quarter improved it by ~20 %
  CHECK_FALSE(optimisation_converged(curve([](double s) { return 0.5 * (0.3 + std::exp(-s / 5.0)); }, plateau), 10, 100));
  CHECK_FALSE(optimisation_converged(curve([](double s) { return 1.5 * (0.3 + std::exp(-s / 5.0)); }, plateau), 10, 100));
  // Early stopping: the best evaluation (step 40) before the last quarter of the 100 steps run.
  CHECK(optimisation_converged(curve(plateau, [](double s) { return 0.3 + 1e-3 * std::abs(s - 40.0); }), 4, 100));
  // Both at ~0 (an exact fit to rounding): converged, whatever their ratio.
  CHECK(optimisation_converged(curve([](double) { return 1e-29; }, [](double) { return 3e-29; }), 10, 100));
  // The random start (step 0) reported because validation only rose from there: not converged,
  // even with a training error near the validation error (issue 14: the step features' 0.99 at d = 16).
  CHECK_FALSE(optimisation_converged(curve(plateau, [](double s) { return 1.3 + 1e-3 * s; }), 0, 100));
  const auto v_shape = [](double s) { return 0.3 + 1e-3 * std::abs(s - 10.0); };
  CHECK(optimisation_converged(curve(v_shape, v_shape), 1, 100));
  // A NaN at the reported evaluation, or an evaluation that is not in the curve, is not converged.
  CHECK_FALSE(optimisation_converged(curve([](double) { return std::nan(""); }, plateau), 10, 100));
  CHECK_FALSE(optimisation_converged(curve(plateau, plateau), 11, 100));
}
