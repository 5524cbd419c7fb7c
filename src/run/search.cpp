#include "neurep/search.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

namespace neurep {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
// "floor": the error fell by no more than this share over floor_doublings(d)
// doublings,
constexpr double kFloorDrop = 0.10;
// after it had started to fall: to at most this share of max(1, the largest
// error on the ladder so far). Errors are relative to Var f*, so a plateau
// near 1 before a model starts to learn — Quad on a representation below
// n ~ its parameter count — is no floor however flat.
constexpr double kFloorLearned = 0.5;

}  // namespace

int floor_doublings(int d) {
  // A kernel learns the degree-k part of f* at n ~ d^k: between two such
  // stages the error can rest on the share of the degrees still to learn for
  // a factor ~d in n (the NTK on x for (b.x)^3 sat at 0.31-0.44 from n = 64
  // to 1024 at d = 16 after the degree-1 part, then fell to 0.1 at d = 12 by
  // n ~ 2300). A floor must be flat for longer: log2 d doublings, at least two.
  return std::max(2, static_cast<int>(std::ceil(std::log2(static_cast<double>(std::max(d, 1))) - 1e-9)));
}

namespace {

// The crossing of `target` by the straight line through (log n_lo, log e_lo)
// and (log n_hi, log e_hi); n_hi when e_lo is infinite (no line to draw).
double interpolate(double target, int64_t n_lo, double e_lo, int64_t n_hi, double e_hi) {
  if (!std::isfinite(e_lo) || !(e_lo > e_hi)) return static_cast<double>(n_hi);
  const double l0 = std::log(static_cast<double>(n_lo)), l1 = std::log(static_cast<double>(n_hi));
  const double frac = (std::log(target) - std::log(e_lo)) / (std::log(std::max(e_hi, 1e-300)) - std::log(e_lo));
  return std::exp(l0 + frac * (l1 - l0));
}

}  // namespace

bool within_resolution(int64_t n_lo, int64_t n_hi, double resolution) {
  // n is rounded to an integer at every bisection, so n_hi / n_lo can miss the
  // resolution by the rounding alone (256 -> 362 -> 304: 362 / 304 = 1.1908 >
  // 2^(1/4)); allowed up to half a sample at each end.
  return n_hi - n_lo <= 1 || (static_cast<double>(n_hi) - 0.5) / (static_cast<double>(n_lo) + 0.5) <= resolution;
}

int64_t search_bisections(const SearchConfig& s) {
  // Each bisection halves log(n_hi / n_lo), from log 2 (one doubling) to at most log(resolution).
  return static_cast<int64_t>(std::max(0.0, std::ceil(std::log2(std::log(2.0) / std::log(s.resolution)) - 1e-12)));
}

SearchStep next_search_step(const SearchConfig& s, int d, const std::vector<SearchPoint>& points) {
  std::map<int64_t, double> error;  // n -> error, ascending n
  for (const auto& p : points) error[p.n] = std::isfinite(p.error) ? p.error : kInf;
  const std::vector<int64_t> ladder = doubling_ladder(s.n_min, s.n_max);
  size_t rungs = 0;  // the ladder points computed, in order
  while (rungs < ladder.size() && error.count(ladder[rungs])) ++rungs;

  SearchStep step;
  // Why the ladder cannot go on, if it cannot: "floor", "n_max" or "".
  std::string stop;
  if (rungs == ladder.size())
    stop = "n_max";
  else if (rungs >= 3) {
    double largest = 1;  // over the points that did not fail
    for (size_t i = 0; i < rungs; ++i)
      if (std::isfinite(error[ladder[i]])) largest = std::max(largest, error[ladder[i]]);
    const double last = error[ladder[rungs - 1]];  // +inf: failed (as every point may, e.g. diverging)
    const auto window = static_cast<size_t>(floor_doublings(d));
    const bool flat = rungs > window && !(last < (1 - kFloorDrop) * error[ladder[rungs - 1 - window]]);
    if (!std::isfinite(last) || (flat && last <= kFloorLearned * largest)) stop = "floor";
  }

  for (double target : s.targets) {
    ComplexityRow r;
    r.target = target;
    r.error_lo = r.error_hi = r.n_eps = std::nan("");
    auto below = std::find_if(error.begin(), error.end(), [&](const auto& e) { return e.second < target; });
    if (below == error.end()) {
      if (stop.empty()) {  // not reached yet: the next rung
        step.next_n = ladder[rungs];
        step.results.clear();
        return step;
      }
      r.status = stop;  // not reached within the budget or the floor: n_lo the largest point
      if (!error.empty()) r.n_lo = error.rbegin()->first, r.error_lo = error.rbegin()->second;
      step.results.push_back(r);
      continue;
    }
    r.n_hi = below->first, r.error_hi = below->second;
    if (below == error.begin()) {  // below the target at n_min already: n_eps < n_min
      r.status = "below-n_min";
      step.results.push_back(r);
      continue;
    }
    const auto lo = std::prev(below);  // the largest n under n_hi, at or above the target
    r.n_lo = lo->first, r.error_lo = lo->second;
    if (!within_resolution(r.n_lo, r.n_hi, s.resolution)) {
      const double mid = std::round(std::sqrt(static_cast<double>(r.n_lo) * static_cast<double>(r.n_hi)));
      step.next_n = std::clamp(static_cast<int64_t>(mid), r.n_lo + 1, r.n_hi - 1);
      step.results.clear();
      return step;
    }
    r.status = "reached";
    r.n_eps = interpolate(target, r.n_lo, r.error_lo, r.n_hi, r.error_hi);
    step.results.push_back(r);
  }
  step.done = true;
  for (auto& r : step.results) r.points = static_cast<int64_t>(error.size());
  return step;
}

}  // namespace neurep
