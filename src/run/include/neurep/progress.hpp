// Progress on rank 0 (DESIGN 3.3): on standard error (unless -q) a line per
// finished sweep point with the elapsed time and an ETA weighted by each
// point's expected cost (a live bar when it is a terminal), and inside an
// iterative point a line per evaluation with the point's own ETA; and with
// run.log a JSON-lines file of the run's events for batch jobs, one object a
// line, flushed per line, appended on --resume.
#pragma once

#include <boost/mpi/communicator.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "neurep/learner.hpp"
#include "neurep/output.hpp"

namespace neurep {

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
  // Work counted in total_cost that will not be done (a search that stopped
  // before its upper bound): the ETA leaves it out.
  void forgo(double cost);
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
};

}  // namespace neurep
