#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <mpi.h>

#include "neurep/errors.hpp"
#include "neurep/search.hpp"
#include "neurep/sweep.hpp"

namespace neurep {

Learners make_learners(const Config& config) {
  Learners out;
  for (const LearnerConfig& candidate : learner_candidates(config.learner)) {
    Config c = config;
    c.learner = candidate;
    out.push_back(make_learner(c));
  }
  return out;
}

SweepPlan::SweepPlan(const Config& config, const Learners& learners, std::set<PointKey> done)
    : config_(config), learners_(learners), candidates_(static_cast<int64_t>(learners.size())), done_(std::move(done)) {
  for (int64_t c = 0; c < candidates_; ++c) points_.push_back(c);
  if (const TaylorLearnerConfig* t = config.learner.taylor(); t && t->refit) points_.push_back(kRefit);
  const bool search = config.sweep.searches();
  const auto bisections = static_cast<size_t>(search ? search_bisections(config.sweep.search) : 0) *
                          config.sweep.search.targets.size();
  for (int d : config.dims())
    for (int64_t seed : config.sweep.seeds) {
      double bound = 0;
      for (int64_t n : config.sweep.n_train)
        for (int64_t c : points_) {
          ++total_;
          if (pending(d, seed, n, c)) bound += cost(d, n, c), ++remaining_;
        }
      // A search: n_train is its doubling ladder; add at most search_bisections
      // points per target, each costing at most a point at n_max. An upper bound
      // (the search may stop early); the count goes down as points are done.
      for (size_t b = 0; b < bisections; ++b)
        for (int64_t c : points_) ++total_, bound += cost(d, config.sweep.search.n_max, c);
      if (search) search_bound_[{d, seed}] = bound;
      remaining_cost_ += bound;
    }
  if (search) remaining_ = total_ > done_.size() ? total_ - done_.size() : 0;
}

bool SweepPlan::pending(int d, int64_t seed, int64_t n, int64_t c) const { return !done_.count({d, n, seed, c}); }

bool SweepPlan::pending(int d, int64_t seed, int64_t n) const {
  for (int64_t c : points_)
    if (pending(d, seed, n, c)) return true;
  return false;
}

bool SweepPlan::pending(int d, int64_t seed) const {
  for (int64_t n : config_.sweep.n_train)
    if (pending(d, seed, n)) return true;
  return false;
}

void SweepPlan::mark_done(int d, int64_t seed, int64_t n, int64_t c) {
  if (done_.insert({d, n, seed, c}).second && remaining_ > 0) --remaining_;
}

double SweepPlan::cost(int d, int64_t n, int64_t c) const {
  // A refit costs about what a candidate does (which one is chosen is known only then).
  return learners_[static_cast<size_t>(c == kRefit ? 0 : c)]->cost(d, n, config_.data.n_test);
}

std::string SweepPlan::point_name(int d, int64_t n, int64_t seed, int64_t c) const {
  if (c == kRefit) return fmt::format("d{}_n{}_s{}_refit", d, n, seed);
  return candidates_ > 1 ? fmt::format("d{}_n{}_s{}_c{}", d, n, seed, c) : fmt::format("d{}_n{}_s{}", d, n, seed);
}

ResourceEstimate estimate_resources(const Config& c, const Learners& learners, int ranks) {
  ResourceEstimate e;
  const int64_t n_max = *std::max_element(c.sweep.n_train.begin(), c.sweep.n_train.end());
  const double n = e.n = static_cast<double>(n_max);
  const double nt = e.n_test = static_cast<double>(c.data.n_test);
  // The learner's big matrices (in 8-byte words), at the largest point.
  double words = 0, rank_words = 0;
  for (int d : c.dims())
    for (const auto& l : learners) {
      words = std::max(words, l->memory_words(d, n_max, c.data.n_test));
      rank_words = std::max(rank_words, l->rank_words(d, n_max, c.data.n_test));
    }
  const RandomRepresentationConfig* r = c.representation.random();
  if (r && !r->infinite) {  // H_train, H_test next to the learner; before them the whitening
    double rep_words = 0, features = 0;  // estimate: G_unl and its centred copy, Sigma, Z, Z s, S^{-1/2}
    for (int d : c.dims()) {
      const double w = static_cast<double>(r->width.at(d));
      const double nu = static_cast<double>(r->unlabeled_at(d));
      features = std::max(features, (n + nt) * w);
      if (r->whiten == WhitenKind::Zca && 2 * nu * w + 4 * w * w > rep_words)
        rep_words = 2 * nu * w + 4 * w * w, e.whiten_width = w, e.whiten_unlabeled = nu;
    }
    words += features;
    e.whitening_bytes_per_rank = 8.0 * rep_words / ranks;
  }
  // The inputs (n + n_test) x (d + 1), distributed, and the labels and targets, on every rank.
  const auto dims = c.dims();
  words += (n + nt) * (*std::max_element(dims.begin(), dims.end()) + 1);
  e.bytes_per_rank = 8.0 * (words / ranks + 2.0 * (n + nt) + rank_words);
  // The size that dominates: the training set, the test set or the network's width m.
  if (const TaylorLearnerConfig* t = c.learner.taylor())
    for (const auto& w : t->network.widths)
      for (int d : dims) e.m = std::max(e.m, static_cast<double>(w.at(d)));
  e.key = e.m > std::max(n, nt) ? "learner.m" : nt > n ? "data.n_test" : "sweep.n_train";
  return e;
}

void check_resources(const Config& c, const Learners& learners, const boost::mpi::communicator& comm) {
  MPI_Comm shared;
  MPI_Comm_split_type(MPI_Comm(comm), MPI_COMM_TYPE_SHARED, comm.rank(), MPI_INFO_NULL, &shared);
  int ranks_here = 1;
  MPI_Comm_size(shared, &ranks_here);
  MPI_Comm_free(&shared);
  const double available = node_memory_bytes() / ranks_here;
  const ResourceEstimate e = estimate_resources(c, learners, comm.size());
  if (e.whitening_bytes_per_rank > 0.9 * available)
    throw InputError(fmt::format("representation.width: zca whitening of D = {:.0f} features on {:.0f} unlabelled inputs "
                                 "needs about {:.1f} GiB per rank, but this node has {:.1f} GiB for each of its {} "
                                 "ranks; use more ranks, a smaller width or n_unlabeled", e.whiten_width,
                                 e.whiten_unlabeled, e.whitening_bytes_per_rank / (1 << 30), available / (1 << 30),
                                 ranks_here));
  if (e.bytes_per_rank > 0.9 * available)
    throw InputError(
        fmt::format("{}: the largest point (n = {:.0f}, n_test = {:.0f}{}) needs about {:.1f} GiB of memory "
                    "per rank for the {} matrices, but this node has {:.1f} GiB for each of its {} ranks; "
                    "use more ranks on more nodes or a smaller {}",
                    e.key, e.n, e.n_test, e.m > 0 ? fmt::format(", m = {:.0f}", e.m) : "",
                    e.bytes_per_rank / (1 << 30), name_of(c.learner.kind()), available / (1 << 30), ranks_here, e.key));
}

double node_memory_bytes() {
  return static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGE_SIZE));
}

}  // namespace neurep
