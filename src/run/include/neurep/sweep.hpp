// The parts of the sweep driver (experiment.cpp runs them in order):
//   plan       which points (d, n, seed, candidate) the sweep has, which are
//              done already (--resume) and what the rest costs;
//   resources  whether the largest point fits in this node's memory;
//   run        the loop over points (experiment.cpp);
//   checkpoint the typed state of an unfinished point (the learner's
//              save/load, committed through PointCheckpoints).
#pragma once

#include <boost/mpi/communicator.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "neurep/config.hpp"
#include "neurep/learner.hpp"

namespace neurep {

// The learners of a sweep: one per candidate setting (learner_candidates).
using Learners = std::vector<std::unique_ptr<Learner>>;
Learners make_learners(const Config& config);

class SweepPlan {
 public:
  using PointKey = std::tuple<int64_t, int64_t, int64_t, int64_t>;  // (d, n, seed, candidate)
  // The candidate index of the point that refits the chosen candidate on all n (learner.refit).
  static constexpr int64_t kRefit = -1;

  // `done`: the points an earlier run finished.
  SweepPlan(const Config& config, const Learners& learners, std::set<PointKey> done);

  int64_t candidates() const { return candidates_; }
  // The points of each (d, n, seed) in the order they run: the candidates,
  // then with learner.refit the refit (kRefit).
  const std::vector<int64_t>& points() const { return points_; }
  // Is anything left to do at (d, seed), (d, seed, n), or this point?
  bool pending(int d, int64_t seed) const;
  bool pending(int d, int64_t seed, int64_t n) const;
  bool pending(int d, int64_t seed, int64_t n, int64_t candidate) const;
  void mark_done(int d, int64_t seed, int64_t n, int64_t candidate);

  size_t total() const { return total_; }
  size_t done() const { return done_.size(); }
  // Expected cost of the points still to do, and of one (for the ETA).
  double remaining_cost() const { return remaining_cost_; }
  double cost(int d, int64_t n, int64_t candidate) const;
  bool finished() const { return remaining_ == 0; }
  // A search: the upper bound of the cost still to do at (d, seed) that
  // remaining_cost() counts (its ladder points not done, the bisections).
  double search_bound(int d, int64_t seed) const {
    const auto it = search_bound_.find({d, seed});
    return it == search_bound_.end() ? 0.0 : it->second;
  }

  // The point's name in /curves and /checkpoint: d16_n1024_s0 (or ..._c2 with
  // candidates, ..._refit for the refit).
  std::string point_name(int d, int64_t n, int64_t seed, int64_t candidate) const;

 private:
  const Config& config_;
  const Learners& learners_;
  int64_t candidates_;
  std::vector<int64_t> points_;
  std::set<PointKey> done_;
  size_t total_ = 0, remaining_ = 0;
  std::map<std::pair<int, int64_t>, double> search_bound_;
  double remaining_cost_ = 0;
};

// The memory model of a sweep's largest point on `ranks` ranks (the dominant
// arrays, from each learner's memory_words, the representation and the inputs).
struct ResourceEstimate {
  double bytes_per_rank = 0;            // the largest point
  double whitening_bytes_per_rank = 0;  // zca whitening, before the point (0 without)
  double whiten_width = 0, whiten_unlabeled = 0;
  double n = 0, n_test = 0, m = 0;  // the largest sizes (m = 0: no network)
  const char* key = "sweep.n_train";  // the size that dominates
};
ResourceEstimate estimate_resources(const Config& config, const Learners& learners, int ranks);
// This node's physical memory.
double node_memory_bytes();

// Refuses, before allocating anything, a sweep whose largest point needs
// more memory per rank than this node has: InputError naming the key.
// A model of the dominant arrays. Collective.
void check_resources(const Config& config, const Learners& learners, const boost::mpi::communicator& comm);

}  // namespace neurep
