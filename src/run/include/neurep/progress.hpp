// Progress on rank 0 (DESIGN 3.3): on standard error (unless -q) a line per
// finished sweep point with the elapsed time and an ETA weighted by each
// point's expected cost (a live bar when it is a terminal), and inside an
// iterative point a line per evaluation (a Taylor model's) or per iteration
// (pcg's) with the point's own ETA; and with
// run.log a JSON-lines file of the run's events for batch jobs, one object a
// line, flushed per line, appended on --resume.
#pragma once

#include <boost/mpi/communicator.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "neurep/learner.hpp"
#include "neurep/output.hpp"

namespace neurep {

// The expected work of a run's searches (sweep.target_error) for the ETA, in
// the cost weights of SweepPlan::weight. A (d, seed) search starts at its
// upper bound (SweepPlan::search_bound: its doubling ladder to n_max and every
// bisection at n_max), which a search that stops early at n << n_max
// overestimates many times over. Once searches have finished, each
// unfinished one is expected to spend its bound times the share of their
// bounds the finished ones spent: those at the same d when there are any
// (the seeds of a d stop near the same n), else all finished so far (of
// smaller d: an underestimate where larger d needs larger n, corrected when
// the first search at that d finishes); and at least what it has spent.
// Searches this run did no point of (finished before a --resume) teach
// nothing and are left out of the share. Pure: the same numbers on every
// rank (weights, no clocks).
class SearchWork {
 public:
  // A search still to do at the start of the run, with its upper bound.
  void add(int d, int64_t seed, double bound);
  // A point of the search finished, of cost weight `cost`.
  void spent(int d, int64_t seed, double cost);
  // The search is over (its spent work is all it cost).
  void finished(int d, int64_t seed);
  // The work this run expects to do in all: what the finished searches
  // spent and what the unfinished ones are expected to.
  double expected_total() const;
  // The share of its bound a search at d is expected to spend (1: no search finished yet).
  double share(int d) const;

 private:
  struct Search {
    double bound = 0, spent = 0;
    bool over = false;
  };
  std::map<std::pair<int, int64_t>, Search> searches_;
};

class Progress {
 public:
  // lines: progress lines on standard error (pass rank 0 && !quiet);
  // log: run.log ("" = none), opened by rank 0, appended when `append`;
  // total_cost: sum of the cost weights of all points still to run.
  // Collective: an unusable log is an InputError (run.log: ...) on every rank.
  Progress(bool lines, const std::string& log, bool append, double total_cost, const boost::mpi::communicator& comm);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void run_started(const std::string& output, bool resumed, size_t done, size_t total);
  // `what`: the point's learner and settings, as a progress line shows them.
  void point_started(const std::string& point, const std::string& what);
  void evaluation(const std::string& point, const Evaluation& e);
  void checkpoint(const std::string& point, int64_t step, bool interrupted);
  // A point of the given cost weight finished with `rows`; `what` describes it.
  void point_done(double cost, const std::string& point, const std::string& what, const std::vector<ResultRow>& rows);
  // The work the run now expects to do in all, in the weights of total_cost
  // (a search's: SearchWork::expected_total).
  void expect_total(double cost);
  // status: "complete" or "interrupted".
  void run_finished(const std::string& status, size_t done, size_t total);
  static std::string format_duration(double seconds);

 private:
  double elapsed() const;
  void log_line(const std::string& event, const std::string& fields);
  void print(const std::string& line);

  bool lines_;
  bool terminal_;
  std::FILE* log_ = nullptr;
  double total_ = 0, done_ = 0;
  std::string bar_;  // the live bar under the lines (terminal)
  std::chrono::steady_clock::time_point start_, point_start_;
  // The first evaluation of the current fit of the point (its label, step, time).
  bool fit_seen_ = false;
  std::string fit_label_;
  int64_t fit_step_ = 0;
  std::chrono::steady_clock::time_point fit_start_;
};

}  // namespace neurep
