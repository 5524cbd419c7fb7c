#include "neurep/extension.hpp"

#include <fmt/core.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <optional>

#include "neurep/errors.hpp"

namespace neurep {
namespace {

// A candidate's settings as text, in learner_candidates' order (m, then
// regularizer, then learning rate): what identifies it across two files.
std::vector<std::string> candidate_settings(const Config& c) {
  const auto axis = [&](bool applies, const char* key) {
    return applies ? science_items(c, "learner", key) : std::vector<std::string>{""};
  };
  const bool taylor = c.learner.taylor() != nullptr;
  const std::vector<std::string> m = axis(c.learner.network() != nullptr, "m"), reg = axis(taylor, "regularizer"),
                                  rate = axis(taylor, "learning_rate");
  std::vector<std::string> out;
  for (const auto& w : m)
    for (const auto& r : reg)
      for (const auto& e : rate) out.push_back(fmt::format("m={} regularizer={} learning_rate={}", w, r, e));
  if (out.size() != learner_candidates(c.learner).size())
    throw std::logic_error("extension: the candidate settings do not match learner_candidates");
  return out;
}

// The point of `config`'s sweep (with `candidates` candidates) named `name`.
std::optional<SweepPlan::PointKey> find_point(const std::string& name, const Config& config, int64_t candidates,
                                              bool refit) {
  for (int d : config.dims())
    for (int64_t seed : config.sweep.seeds)
      for (int64_t n : config.sweep.n_train) {
        for (int64_t c = 0; c < candidates; ++c)
          if (SweepPlan::point_name(d, n, seed, c, candidates) == name) return SweepPlan::PointKey{d, n, seed, c};
        if (refit && SweepPlan::point_name(d, n, seed, SweepPlan::kRefit, candidates) == name)
          return SweepPlan::PointKey{d, n, seed, SweepPlan::kRefit};
      }
  return std::nullopt;
}

template <typename T>
int64_t position(const std::vector<T>& v, const T& x) {
  return std::find(v.begin(), v.end(), x) - v.begin();
}

}  // namespace

std::string extend_results(ResultsContents& earlier, const Config& stored, const Config& config,
                           const std::string& output) {
  const std::vector<std::string> conflicts = extension_conflicts(stored, config);
  if (!conflicts.empty())
    throw InputError(fmt::format(
        "{}: --extend with a configuration that changes more than the sweep's extent ({}); an extension only adds "
        "values to sweep.dims, sweep.n_train, sweep.seeds, learner.ridge, learner.m, learner.learning_rate or "
        "learner.regularizer; use --overwrite or another -o",
        output, fmt::join(conflicts, "; ")));

  // Old candidate index -> new (every old setting is among the new ones).
  const std::vector<std::string> before = candidate_settings(stored), after = candidate_settings(config);
  std::vector<int64_t> renumber;
  for (const auto& s : before) renumber.push_back(position(after, s));
  const int64_t nc_old = static_cast<int64_t>(before.size()), nc_new = static_cast<int64_t>(after.size());
  const bool same_candidates = before == after;
  const bool ridges_changed =
      config.learner.kernel() && science_items(stored, "learner", "ridge") != science_items(config, "learner", "ridge");
  const TaylorLearnerConfig* taylor = stored.learner.taylor();
  const bool refit = taylor && taylor->refit;
  // Is the earlier point still done under the new configuration?
  const auto kept = [&](int64_t c) { return !ridges_changed && (c != SweepPlan::kRefit || same_candidates); };
  const auto new_index = [&](int64_t c) { return c == SweepPlan::kRefit ? c : renumber[static_cast<size_t>(c)]; };

  std::vector<ResultRow> rows;
  for (auto& r : earlier.rows) {
    const int64_t c = std::get<3>(point_key(r));
    if (!kept(c)) continue;
    if (c != SweepPlan::kRefit && nc_new > 1) r.extra["candidate"] = static_cast<double>(new_index(c));
    rows.push_back(std::move(r));
  }
  earlier.rows = std::move(rows);

  std::vector<Curve> curves;
  for (auto& curve : earlier.curves) {
    const auto p = find_point(curve.name, stored, nc_old, refit);
    if (!p || !kept(std::get<3>(*p))) continue;
    curve.name = SweepPlan::point_name(curve.d, curve.n, curve.seed, new_index(std::get<3>(*p)), nc_new);
    curves.push_back(std::move(curve));
  }
  earlier.curves = std::move(curves);

  if (!earlier.checkpoint.point.empty()) {  // an interrupted point: continue it if it is still the same point
    const auto p = find_point(earlier.checkpoint.point, stored, nc_old, refit);
    if (p && kept(std::get<3>(*p))) {
      const auto [d, n, seed, c] = *p;
      earlier.checkpoint.point = SweepPlan::point_name(static_cast<int>(d), n, seed, new_index(c), nc_new);
    } else {
      earlier.checkpoint = Checkpoint{};
    }
  }
  return fmt::format("{}", fmt::join(config_differences(stored, config), "; "));
}

std::string first_pending_point(const Config& config, const SweepPlan& plan) {
  for (int d : config.dims())
    for (int64_t seed : config.sweep.seeds)
      for (int64_t n : config.sweep.n_train)
        for (int64_t c : plan.points())
          if (plan.pending(d, seed, n, c)) return plan.point_name(d, n, seed, c);
  return "";
}

void order_rows(std::vector<ResultRow>& rows, const Config& config, const SweepPlan& plan) {
  const std::vector<int> dims = config.dims();
  const auto place = [&](const ResultRow& r) {
    const auto [d, n, seed, c] = point_key(r);
    return std::make_tuple(position(dims, static_cast<int>(d)), position(config.sweep.seeds, seed),
                           position(config.sweep.n_train, n), position(plan.points(), c));
  };
  std::stable_sort(rows.begin(), rows.end(), [&](const ResultRow& a, const ResultRow& b) { return place(a) < place(b); });
}

}  // namespace neurep
