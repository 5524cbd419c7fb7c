// Inputs, targets and their normalisation, checked by Monte Carlo.
#include <catch2/catch.hpp>

#include <cmath>
#include <numeric>

#include "neurep/config.hpp"
#include "neurep/data.hpp"

using namespace neurep;

namespace {
DataConfig config(const std::string& input, std::vector<int> degrees, std::vector<double> coefs) {
  DataConfig c = default_config().data;
  c.input = parse_enum<InputDistribution>("data.input", input);
  c.degrees = std::move(degrees);
  c.coefficients = std::move(coefs);
  return c;
}
}  // namespace

TEST_CASE("exact projection moments match their closed forms") {
  // Gaussian: E t^4 = 3, E t^8 = 105; sphere: E t^4 = 3d/(d+2).
  CHECK(projection_moment({4}, 10, false) == Approx(3));
  CHECK(projection_moment({8}, 10, false) == Approx(105));
  CHECK(projection_moment({4}, 10, true) == Approx(3.0 * 10 / 12));
  CHECK(projection_moment({2, 2}, 10, true) == Approx(10.0 / 12));
  CHECK(projection_moment({3}, 10, true) == 0);
}

TEST_CASE("normalised targets have mean 0 and variance 1 (Monte Carlo)") {
  struct Case { std::string input; std::vector<int> p; std::vector<double> a; int d; };
  for (const Case& k : {Case{"sphere", {4}, {1.0}, 8}, Case{"gaussian", {4}, {1.0}, 8},
                        Case{"sphere", {2, 3, 4}, {1.0, -0.5, 0.25}, 6}, Case{"gaussian", {1, 2}, {2.0, 1.0}, 5}}) {
    const DataConfig c = config(k.input, k.p, k.a);
    const Dataset data(c, k.d, RandomStreams(11, 0));
    const int64_t n = 200000;
    const std::vector<double> f = data.targets(Split::Test, n);
    const double mean = std::accumulate(f.begin(), f.end(), 0.0) / n;
    double var = 0, m4 = 0;
    for (double v : f) var += (v - mean) * (v - mean), m4 += std::pow(v - mean, 4);
    var /= n - 1;
    m4 /= n;
    INFO(k.input << " d=" << k.d);
    CHECK(std::abs(mean) < 5 / std::sqrt(double(n)));
    CHECK(std::abs(var - 1) < 5 * std::sqrt((m4 - 1) / n));
  }
}

TEST_CASE("inputs: sphere of radius sqrt(d), Gaussian coordinates, orthonormal directions") {
  const Dataset sphere(config("sphere", {2, 2, 2}, {1, 1, 1}), 9, RandomStreams(1, 3));
  std::vector<double> x(9);
  for (int i = 0; i < 20; ++i) {
    sphere.input(Split::Train, i, x.data());
    CHECK(std::inner_product(x.begin(), x.end(), x.begin(), 0.0) == Approx(9.0));
  }
  const auto& b = sphere.directions();
  for (size_t s = 0; s < b.size(); ++s)
    for (size_t t = 0; t < b.size(); ++t)
      CHECK(std::inner_product(b[s].begin(), b[s].end(), b[t].begin(), 0.0) == Approx(s == t ? 1.0 : 0.0).margin(1e-14));
}

TEST_CASE("training sets are nested and splits are independent streams") {
  DataConfig c = config("sphere", {4}, {1.0});
  c.noise = 0.5;
  const Dataset data(c, 6, RandomStreams(5, 1));
  const auto y100 = data.labels(100), y300 = data.labels(300);
  for (int i = 0; i < 100; ++i) REQUIRE(y100[i] == y300[i]);
  const auto ftrain = data.targets(Split::Train, 50), ftest = data.targets(Split::Test, 50);
  int same = 0;
  for (int i = 0; i < 50; ++i) same += ftrain[i] == ftest[i];
  CHECK(same == 0);
  // Label noise has standard deviation tau.
  const auto y = data.labels(40000), f = data.targets(Split::Train, 40000);
  double s = 0;
  for (size_t i = 0; i < y.size(); ++i) s += (y[i] - f[i]) * (y[i] - f[i]);
  CHECK(std::sqrt(s / y.size()) == Approx(0.5).epsilon(0.02));
  // Another seed index gives other data.
  const Dataset other(c, 6, RandomStreams(5, 2));
  CHECK(other.labels(1)[0] != y100[0]);
}
