// The search for n_eps (sweep.target_error): the next n as a pure function of
// the points so far — doubling, bisection in log n for every target, the
// floor and n_max stops, and the same decision from the same points in any order.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <set>

#include "neurep/config.hpp"
#include "neurep/errors.hpp"
#include "neurep/search.hpp"

using namespace neurep;

namespace {

SearchConfig settings(std::vector<double> targets, int64_t n_min, int64_t n_max, double resolution = std::pow(2.0, 0.25)) {
  SearchConfig s;
  s.targets = std::move(targets);
  s.n_min = n_min, s.n_max = n_max, s.resolution = resolution;
  return s;
}

// Runs a search to its end on the error curve `error(n)`; the points in the order computed.
// At input dimension d (4 unless given: a floor over two doublings).
std::vector<SearchPoint> run_search(const SearchConfig& s, const std::function<double(int64_t)>& error, SearchStep& last,
                                    int d = 4) {
  std::vector<SearchPoint> points;
  for (int i = 0; i < 200; ++i) {
    last = next_search_step(s, d, points);
    if (last.done) return points;
    for (const auto& p : points) REQUIRE(p.n != last.next_n);  // never a point twice
    REQUIRE(last.next_n >= s.n_min);
    REQUIRE(last.next_n <= s.n_max);
    points.push_back({last.next_n, error(last.next_n)});
  }
  FAIL("the search did not end");
  return points;
}

std::vector<int64_t> ns(const std::vector<SearchPoint>& points) {
  std::vector<int64_t> out;
  for (const auto& p : points) out.push_back(p.n);
  return out;
}

}  // namespace

TEST_CASE("search: doubles to the largest target, bisects it, then the next target") {
  // error = (n / 100)^-1 / 2: crosses 0.1 at n = 500 and 0.05 at n = 1000.
  const auto error = [](int64_t n) { return 50.0 / static_cast<double>(n); };
  const SearchConfig s = settings({0.1, 0.05}, 64, 65536);
  SearchStep last;
  const std::vector<SearchPoint> points = run_search(s, error, last);
  // 64 .. 512 doubling (0.098 < 0.1 at 512), bisect (256, 512): 362 (0.138), 431 (0.116);
  // then 1024 (0.0488 < 0.05), bisect (512, 1024): 724 (0.069), 861 (0.058): two bisections
  // per target, 2 -> 2^(1/2) -> 2^(1/4) (861 / 1024 misses 2^(1/4) by the rounding alone).
  const std::vector<int64_t> order = ns(points);
  CHECK(order == std::vector<int64_t>{64, 128, 256, 512, 362, 431, 1024, 724, 861});
  CHECK(std::find(order.begin(), order.end(), 1024) != order.end());
  CHECK(std::find(order.begin(), order.end(), 2048) == order.end());  // no doubling past the smallest target
  // Every point of the first target's bisection comes before 1024.
  const auto at1024 = std::find(order.begin(), order.end(), 1024) - order.begin();
  for (long i = 0; i < at1024; ++i) CHECK(order[static_cast<size_t>(i)] <= 512);
  REQUIRE(last.results.size() == 2);
  for (const auto& r : last.results) {
    CHECK(r.status == "reached");
    CHECK(error(r.n_lo) >= r.target);
    CHECK(error(r.n_hi) < r.target);
    CHECK((static_cast<double>(r.n_hi) - 0.5) / (static_cast<double>(r.n_lo) + 0.5) <= s.resolution);
    CHECK(static_cast<double>(r.n_hi) / static_cast<double>(r.n_lo) <= s.resolution * 1.01);
    CHECK(r.error_lo == error(r.n_lo));
    CHECK(r.error_hi == error(r.n_hi));
    CHECK(r.n_eps >= static_cast<double>(r.n_lo));
    CHECK(r.n_eps <= static_cast<double>(r.n_hi));
    CHECK(r.points == static_cast<int64_t>(points.size()));
    // A power law is a line in log-log: the interpolation is exact.
    CHECK(r.n_eps == Approx(50.0 / r.target).epsilon(1e-9));
  }
  CHECK(last.results[0].target == 0.1);
  CHECK(last.results[1].target == 0.05);
  CHECK(search_bisections(s) == 2);  // log 2 -> log 2^(1/2) -> log 2^(1/4)
}

TEST_CASE("search: the decision depends on the set of points only (a resumed run takes the same)") {
  const auto error = [](int64_t n) { return 3.0 * std::pow(static_cast<double>(n), -0.6); };
  const SearchConfig s = settings({0.1, 0.05, 0.02}, 10, 100000);
  SearchStep last;
  std::vector<SearchPoint> points = run_search(s, error, last);
  std::mt19937 rng(7);
  for (size_t k = 0; k <= points.size(); ++k) {  // every prefix, shuffled: the step after it
    std::vector<SearchPoint> prefix(points.begin(), points.begin() + static_cast<long>(k));
    const SearchStep in_order = next_search_step(s, 4, prefix);
    std::shuffle(prefix.begin(), prefix.end(), rng);
    const SearchStep shuffled = next_search_step(s, 4, prefix);
    CHECK(shuffled.done == in_order.done);
    CHECK(shuffled.next_n == in_order.next_n);
    if (k < points.size()) CHECK(in_order.next_n == points[k].n);
  }
  REQUIRE(last.results.size() == 3);
  for (const auto& r : last.results) {
    CHECK(r.status == "reached");
    CHECK(within_resolution(r.n_lo, r.n_hi, s.resolution));
  }
}

TEST_CASE("search: the resolution up to the rounding of n to integers") {
  const double r = std::pow(2.0, 0.25);
  CHECK(within_resolution(304, 362, r));   // 362 / 304 = 1.1908 > 2^(1/4), 361.5 / 304.5 = 1.1872
  CHECK(!within_resolution(256, 362, r));  // one halving short
  CHECK(!within_resolution(300, 362, r));  // 361.5 / 300.5 = 1.203
  CHECK(within_resolution(7, 8, 1.0001));  // n_hi - n_lo <= 1
  CHECK(!within_resolution(6, 8, 1.0001));
  // From a doubling bracket: exactly two bisections at 2^(1/4), whatever its size.
  for (int64_t lo : {64, 100, 256, 1000, 4096, 12345, 1 << 20}) {
    int64_t a = lo, b = 2 * lo, steps = 0;
    while (!within_resolution(a, b, r)) {
      const int64_t mid = static_cast<int64_t>(std::round(std::sqrt(static_cast<double>(a) * static_cast<double>(b))));
      (steps % 2 ? a : b) = mid;  // alternate sides
      ++steps;
    }
    CHECK(steps == 2);
  }
}

TEST_CASE("search: floor when the error falls by no more than 10 % over two doublings") {
  // Halving down to 0.3, then a plateau a little below it.
  const auto error = [](int64_t n) { return n <= 256 ? 76.8 / static_cast<double>(n) : 0.28; };
  const SearchConfig s = settings({0.1, 0.05}, 64, 65536);
  SearchStep last;
  const std::vector<SearchPoint> points = run_search(s, error, last);
  // 256: 0.3, 512: 0.28, 1024: 0.28 = 0.93 x 0.3: floor after 1024.
  CHECK(ns(points) == std::vector<int64_t>{64, 128, 256, 512, 1024});
  REQUIRE(last.results.size() == 2);
  for (const auto& r : last.results) {
    CHECK(r.status == "floor");
    CHECK(std::isnan(r.n_eps));
    CHECK(r.n_lo == 1024);
    CHECK(r.n_hi == 0);
  }
}

TEST_CASE("search: a plateau before the model starts to learn is no floor") {
  // As Quad on quadratic features at d = 24 (part 1b of campaign paper-2): the
  // error stays about 1 (noisy, 0.84-1.14) up to n ~ 512, then falls as 1/n.
  const auto error = [](int64_t n) {
    if (n <= 512) return n == 64 ? 1.14 : n == 128 ? 0.95 : n == 256 ? 0.84 : 0.92;
    return 460.0 / static_cast<double>(n);
  };
  const SearchConfig s = settings({0.1}, 64, 65536);
  SearchStep last;
  const std::vector<SearchPoint> points = run_search(s, error, last);
  REQUIRE(last.results.size() == 1);
  CHECK(last.results[0].status == "reached");
  CHECK(last.results[0].n_eps == Approx(4600.0).epsilon(1e-9));
  CHECK(ns(points).front() == 64);
  CHECK(points.size() > 8u);  // 64 ... 8192 and two bisections: past the plateau

  // A curve that never starts to fall is searched to n_max, not called a floor there.
  SearchStep flat;
  const std::vector<SearchPoint> all = run_search(settings({0.1}, 64, 4096), [](int64_t) { return 0.97; }, flat);
  CHECK(ns(all) == std::vector<int64_t>{64, 128, 256, 512, 1024, 2048, 4096});
  REQUIRE(flat.results.size() == 1);
  CHECK(flat.results[0].status == "n_max");

  // Failing at every n (+inf, NaN) still stops at the floor after three rungs.
  SearchStep failing;
  const std::vector<SearchPoint> failed = run_search(settings({0.1}, 64, 4096), [](int64_t) { return std::nan(""); }, failing);
  CHECK(ns(failed) == std::vector<int64_t>{64, 128, 256});
  REQUIRE(failing.results.size() == 1);
  CHECK(failing.results[0].status == "floor");
}

TEST_CASE("search: a floor is flat over log2 d doublings, so a kernel's plateau between two degrees is searched on") {
  CHECK(floor_doublings(1) == 2);
  CHECK(floor_doublings(4) == 2);
  CHECK(floor_doublings(8) == 3);
  CHECK(floor_doublings(16) == 4);
  CHECK(floor_doublings(20) == 5);
  CHECK(floor_doublings(32) == 5);
  // As the NTK on x for (b.x)^3 at d = 16 (part 5a of campaign paper-2): the
  // degree-1 part learned at once, then 0.31-0.44 up to n = 1024 (two
  // doublings at 0.388 -> 0.351 stopped the old rule there), then 1/n.
  const auto error = [](int64_t n) {
    if (n <= 1024) return n == 64 ? 0.484 : n == 128 ? 0.497 : n == 256 ? 0.388 : n == 512 ? 0.441 : 0.351;
    return 358.0 / static_cast<double>(n);
  };
  const SearchConfig s = settings({0.1}, 64, 65536);
  SearchStep at4, at16;
  run_search(s, error, at4, 4);
  REQUIRE(at4.results.size() == 1);
  CHECK(at4.results[0].status == "floor");  // two doublings: 0.351 > 0.9 x 0.388
  run_search(s, error, at16, 16);
  REQUIRE(at16.results.size() == 1);
  CHECK(at16.results[0].status == "reached");
  CHECK(at16.results[0].n_eps == Approx(3580.0).epsilon(1e-9));
  // A true floor at d = 16 stops after four flat doublings: 64 ... 1024.
  SearchStep floor16;
  const std::vector<SearchPoint> flat = run_search(s, [](int64_t) { return 0.4; }, floor16, 16);
  CHECK(ns(flat) == std::vector<int64_t>{64, 128, 256, 512, 1024});
  REQUIRE(floor16.results.size() == 1);
  CHECK(floor16.results[0].status == "floor");
}

TEST_CASE("search: the first target reached, the second stopped by the floor") {
  const auto error = [](int64_t n) { return n <= 1024 ? 102.4 / static_cast<double>(n) : 0.095; };
  const SearchConfig s = settings({0.2, 0.05}, 64, 65536);
  SearchStep last;
  const std::vector<SearchPoint> points = run_search(s, error, last);
  REQUIRE(last.results.size() == 2);
  CHECK(last.results[0].status == "reached");
  CHECK(last.results[0].n_eps == Approx(512.0).epsilon(1e-9));
  CHECK(last.results[1].status == "floor");
  CHECK(std::isnan(last.results[1].n_eps));
  CHECK(ns(points).back() == 4096);  // 1024: 0.1, 2048 and 4096: 0.095 > 0.09
}

TEST_CASE("search: n_max ends the ladder, which includes n_max itself") {
  const auto error = [](int64_t n) { return 100.0 / static_cast<double>(n); };  // 0.1 at n = 1000
  const SearchConfig s = settings({0.1}, 50, 700);
  SearchStep last;
  const std::vector<SearchPoint> points = run_search(s, error, last);
  CHECK(ns(points) == std::vector<int64_t>{50, 100, 200, 400, 700});
  REQUIRE(last.results.size() == 1);
  CHECK(last.results[0].status == "n_max");
  CHECK(last.results[0].n_lo == 700);
  CHECK(std::isnan(last.results[0].n_eps));
  CHECK(doubling_ladder(50, 700) == std::vector<int64_t>{50, 100, 200, 400, 700});
  CHECK(doubling_ladder(64, 64) == std::vector<int64_t>{64});
}

TEST_CASE("search: below the target at n_min, failed points, and the bracket's end") {
  SearchStep last;
  run_search(settings({0.5}, 64, 1024), [](int64_t) { return 0.1; }, last);
  REQUIRE(last.results.size() == 1);
  CHECK(last.results[0].status == "below-n_min");
  CHECK(last.results[0].n_hi == 64);
  CHECK(std::isnan(last.results[0].n_eps));

  // A failed fit (NaN or inf) is above every target; the interpolation then gives n_hi.
  const double nan = std::nan("");
  SearchStep s1 = next_search_step(settings({0.1}, 4, 64, 1.05), 4, {{4, nan}, {8, 0.05}});
  CHECK(!s1.done);
  CHECK(s1.next_n == 6);  // round(sqrt(32))
  s1 = next_search_step(settings({0.1}, 4, 64, 1.05), 4, {{4, nan}, {8, 0.05}, {6, std::numeric_limits<double>::infinity()}});
  CHECK(s1.next_n == 7);
  s1 = next_search_step(settings({0.1}, 4, 64, 1.05), 4, {{4, nan}, {8, 0.05}, {6, nan}, {7, 0.2}});
  REQUIRE(s1.done);  // 8 - 7 <= 1
  CHECK(s1.results[0].n_lo == 7);
  CHECK(s1.results[0].n_hi == 8);
  CHECK(s1.results[0].n_eps > 7.0);
  CHECK(s1.results[0].n_eps < 8.0);
  s1 = next_search_step(settings({0.1}, 4, 64, 1.05), 4, {{4, nan}, {8, 0.05}, {6, nan}, {7, nan}});
  REQUIRE(s1.done);
  CHECK(s1.results[0].n_eps == 8.0);
}

TEST_CASE("search keys: parsed, validated with one line naming the key, exclusive with n_train") {
  const auto error_of = [](const std::string& toml) {
    try {
      parse_config(toml, {});
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const Config c = parse_config("[sweep]\ntarget_error = [0.05, 0.1]\nn_min = 32\nn_max = 300\n", {});
  CHECK(c.sweep.searches());
  CHECK(c.sweep.search.targets == std::vector<double>{0.1, 0.05});
  CHECK(c.sweep.search.resolution == Approx(std::pow(2.0, 0.25)));
  CHECK(c.sweep.n_train == std::vector<int64_t>{32, 64, 128, 256, 300});
  CHECK(!parse_config("", {}).sweep.searches());
  CHECK(error_of("[sweep]\ntarget_error = [0.1]\nn_train = [64]\n").rfind("sweep.n_train: applies only with", 0) == 0);
  CHECK(error_of("[sweep]\nn_min = 64\n").rfind("sweep.n_min: applies only with", 0) == 0);
  CHECK(error_of("[sweep]\ntarget_error = [0.0]\n").rfind("sweep.target_error:", 0) == 0);
  CHECK(error_of("[sweep]\ntarget_error = [-0.1]\n").rfind("sweep.target_error:", 0) == 0);
  CHECK(error_of("[sweep]\ntarget_error = [nan]\n").rfind("sweep.target_error:", 0) == 0);
  CHECK(error_of("[sweep]\ntarget_error = [0.1, 0.1]\n").rfind("sweep.target_error:", 0) == 0);
  CHECK(error_of("[sweep]\ntarget_error = [0.1]\nn_min = 0\n").rfind("sweep.n_min:", 0) == 0);
  CHECK(error_of("[sweep]\ntarget_error = [0.1]\nn_min = 128\nn_max = 64\n").rfind("sweep.n_max:", 0) == 0);
  CHECK(error_of("[sweep]\ntarget_error = [0.1]\nn_resolution = 1.0\n").rfind("sweep.n_resolution:", 0) == 0);
  CHECK(error_of("[learner]\nridge_selection = \"validation\"\nvalidation_fraction = 0.2\n"
                 "[sweep]\ntarget_error = [0.1]\nn_min = 4\n").rfind("sweep.n_min:", 0) == 0);
  CHECK(error_of("[learner]\nridge = [1e-6, 1e-3]\n[sweep]\ntarget_error = [0.1]\n").rfind("learner.ridge_selection:", 0) == 0);
  for (const char* bad : {"[sweep]\ntarget_error = [0.0]\n", "[sweep]\ntarget_error = [0.1]\nn_resolution = 1.0\n"})
    CHECK(error_of(bad).find('\n') == std::string::npos);
}
