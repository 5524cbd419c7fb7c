// The arc-cosine functions and the kernels against their Monte Carlo
// definitions and exact identities.
#include <boost/mpi/communicator.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>

#include "neurep/errors.hpp"
#include "neurep/grid.hpp"
#include "neurep/kernels.hpp"
#include "test_helpers.hpp"

using namespace neurep;

TEST_CASE("kappa0 and kappa1 at exact points and kappa1' = kappa0") {
  CHECK(kappa0(1.0) == Approx(1.0));
  CHECK(kappa0(-1.0) == Approx(0.0).margin(1e-15));
  CHECK(kappa0(0.0) == Approx(0.5));
  CHECK(kappa1(1.0) == Approx(1.0));
  CHECK(kappa1(-1.0) == Approx(0.0).margin(1e-15));
  CHECK(kappa1(0.0) == Approx(1.0 / M_PI));
  for (double t : {-0.9, -0.5, 0.0, 0.3, 0.8}) {
    const double h = 1e-6;
    CHECK((kappa1(t + h) - kappa1(t - h)) / (2 * h) == Approx(kappa0(t)).epsilon(1e-7));
  }
  // Rounding can push t a hair outside [-1, 1]; the functions clamp.
  CHECK(std::isfinite(kappa1(1.0 + 1e-15)));
}

TEST_CASE("kernels are the Monte Carlo expectations of ReLU features") {
  // For w ~ N(0, I): E[1{w.u>=0} 1{w.u'>=0}] = kappa0(t)/2 and
  // E[relu(w.u) relu(w.u')] = |u||u'| kappa1(t)/2. Only the plane of u, u' matters.
  std::mt19937_64 gen(7);
  std::normal_distribution<double> g;
  const int samples = 400000;
  for (double theta : {0.3, 1.2, 2.5}) {
    const double ux = 1.5, vx = 0.8 * std::cos(theta), vy = 0.8 * std::sin(theta);
    double s0 = 0, s1 = 0, s1sq = 0;
    for (int k = 0; k < samples; ++k) {
      const double w1 = g(gen), w2 = g(gen);
      const double a = w1 * ux, b = w1 * vx + w2 * vy;
      s0 += (a >= 0 && b >= 0);
      const double r = std::max(a, 0.0) * std::max(b, 0.0);
      s1 += r;
      s1sq += r * r;
    }
    const double t = std::cos(theta), na = ux * ux, nb = 0.8 * 0.8, ip = ux * vx;
    const double mc0 = s0 / samples, mc1 = s1 / samples;
    const double se1 = std::sqrt((s1sq / samples - mc1 * mc1) / samples);
    CHECK(std::abs(mc0 - kappa0(t) / 2) < 5 * std::sqrt(0.25 / samples));
    CHECK(std::abs(mc1 - std::sqrt(na * nb) * kappa1(t) / 2) < 5 * se1);
    // The kernels are these expectations, up to the constant factor 2.
    CHECK(kernel_value(KernelKind::Ntk, ip, na, nb) == Approx(ip * 2 * mc0).epsilon(0.02).margin(0.01));
    CHECK(kernel_value(KernelKind::Nngp, ip, na, nb) == Approx(2 * mc1).epsilon(0.02));
    CHECK(kernel_value(KernelKind::NtkFull, ip, na, nb) ==
          Approx(ip * kappa0(t) + std::sqrt(na * nb) * kappa1(t)));
    CHECK(kernel_value(KernelKind::Linear, ip, na, nb) == ip);
  }
}

TEST_CASE("kernel names round-trip and unknown names are input errors") {
  for (auto k : {KernelKind::Ntk, KernelKind::NtkFull, KernelKind::Nngp, KernelKind::Linear, KernelKind::EmpiricalNtk})
    CHECK(parse_enum<KernelKind>("learner.kernel", name_of(k)) == k);
  CHECK_THROWS_AS(parse_enum<KernelKind>("learner.kernel", "rbf"), InputError);
}

TEST_CASE("the vectorised kernel map agrees with kernel_value entry by entry") {
  // Inner products over the whole range of t, its ends t = +-1 included, and
  // a zero row (t = 0 by convention); the lower-triangle map on a square
  // matrix takes its diagonal from the norms.
  boost::mpi::communicator world;
  ProcessGrid grid(world, {world.size(), 1});
  const int64_t n = 300;
  std::mt19937_64 gen(7);
  std::uniform_real_distribution<double> unif(0.1, 3.0);
  std::vector<double> sq(n);
  for (auto& a : sq) a = unif(gen);
  sq[5] = 0.0;
  auto inner = [&](int64_t i, int64_t j) {
    const double nn = std::sqrt(sq[i] * sq[j]);
    const double t = i % 7 == 0 ? 1.0 : j % 11 == 0 ? -1.0 : std::cos(0.013 * static_cast<double>(i * 31 + j * 17));
    return t * nn;
  };
  for (auto kind : {KernelKind::Ntk, KernelKind::NtkFull, KernelKind::Nngp}) {
    for (bool lower : {false, true}) {
      DistMatrix<double> g(grid, n, n, 16, 16);
      g.for_each_local([&](int64_t i, int64_t j, double& v) { v = inner(i, j); });
      apply_kernel(kind, g, sq, sq, lower);
      double worst = 0;
      g.for_each_local([&](int64_t i, int64_t j, double& v) {
        if (lower && i < j) return;
        const double want = lower && i == j ? kernel_value(kind, sq[i], sq[i], sq[i]) : kernel_value(kind, inner(i, j), sq[i], sq[j]);
        worst = test::worst(worst, std::abs(v - want) / std::max(1.0, std::abs(want)));
      });
      INFO(name_of(kind) << (lower ? " lower" : " full"));
      CHECK(worst < 4e-15);
    }
  }
}
