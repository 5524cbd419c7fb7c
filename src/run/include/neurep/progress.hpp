// Progress on rank 0 (DESIGN 3.3): a line per finished sweep point with the
// elapsed time and an ETA weighted by each point's expected cost; a live
// bar when standard error is a terminal.
#pragma once

#include <chrono>
#include <string>

namespace neurep {

class Progress {
 public:
  // total_cost: sum of the cost weights of all points still to run.
  Progress(bool active, double total_cost);
  // A point of the given cost weight finished; `what` describes it.
  void point_done(double cost, const std::string& what);
  static std::string format_duration(double seconds);

 private:
  bool active_;
  bool terminal_;
  double total_ = 0, done_ = 0;
  int points_ = 0;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace neurep
