#include "neurep/progress.hpp"

#include <fmt/core.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace neurep {

Progress::Progress(bool active, double total_cost)
    : active_(active), terminal_(active && isatty(fileno(stderr))), total_(total_cost),
      start_(std::chrono::steady_clock::now()) {}

std::string Progress::format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "--:--:--";
  const long t = std::lround(s);
  return fmt::format("{:02}:{:02}:{:02}", t / 3600, (t / 60) % 60, t % 60);
}

void Progress::point_done(double cost, const std::string& what) {
  if (!active_) return;
  done_ += cost;
  ++points_;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double frac = total_ > 0 ? std::min(1.0, done_ / total_) : 1.0;
  const double eta = frac > 0 ? elapsed * (1 - frac) / frac : NAN;
  if (terminal_) {
    const int width = 30, filled = static_cast<int>(frac * width);
    fmt::print(stderr, "\r\033[K{}\n[{}{}] {:5.1f}%  elapsed {}  ETA {}", what, std::string(filled, '#'),
               std::string(width - filled, '.'), 100 * frac, format_duration(elapsed), format_duration(eta));
    if (frac >= 1) fmt::print(stderr, "\n");
  } else {
    fmt::print(stderr, "{}  [{:.0f}% elapsed {} ETA {}]\n", what, 100 * frac, format_duration(elapsed),
               format_duration(eta));
  }
  std::fflush(stderr);
}

}  // namespace neurep
