#include "neurep/progress.hpp"

#include <fmt/core.h>
#include <unistd.h>
#include <boost/mpi/collectives.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "neurep/errors.hpp"

namespace neurep {
namespace {

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\')
      out += {'\\', ch};
    else if (c < 0x20)
      out += fmt::format("\\u{:04x}", c);
    else
      out += ch;
  }
  return out + "\"";
}

// Shortest text that reads back to the same double; null for NaN and infinities.
std::string json_number(double v) {
  return std::isfinite(v) ? fmt::format("{}", v) : "null";
}

template <typename V>
std::string json_value(const V& v) {
  if constexpr (std::is_same_v<V, std::string>)
    return json_string(v);
  else if constexpr (std::is_floating_point_v<V>)
    return json_number(v);
  else
    return fmt::format("{}", v);
}

template <typename V>
std::string field(const char* key, const V& v) {
  return fmt::format(",{}:{}", json_string(key), json_value(v));
}

std::string json_row(const ResultRow& r) {
  std::string out;
  ResultRow::for_each_column(r, [&](const char* name, const auto& v) { out += field(name, v); });
  for (const auto& [name, v] : r.extra) out += field(name.c_str(), v);
  out[0] = '{';
  return out + "}";
}

}  // namespace

Progress::Progress(bool lines, const std::string& log, bool append, double total_cost,
                   const boost::mpi::communicator& comm)
    : lines_(lines), terminal_(lines && isatty(fileno(stderr))), total_(total_cost),
      start_(std::chrono::steady_clock::now()), point_start_(start_) {
  std::string error;
  if (comm.rank() == 0 && !log.empty()) {
    log_ = std::fopen(log.c_str(), append ? "a" : "w");
    if (!log_) error = fmt::format("run.log: cannot open {}: {}", log, std::strerror(errno));
  }
  boost::mpi::broadcast(comm, error, 0);
  if (!error.empty()) throw InputError(error);
}

Progress::~Progress() {
  if (log_) std::fclose(log_);
}

std::string Progress::format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "--:--:--";
  const long t = std::lround(s);
  return fmt::format("{:02}:{:02}:{:02}", t / 3600, (t / 60) % 60, t % 60);
}

double Progress::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::log_line(const std::string& event, const std::string& fields) {
  if (!log_) return;
  fmt::print(log_, "{{\"event\":{},\"elapsed\":{}{}}}\n", json_string(event), json_number(elapsed()), fields);
  std::fflush(log_);
}

void Progress::print(const std::string& line) {
  if (!lines_) return;
  if (terminal_)
    fmt::print(stderr, "\r\033[K{}\n{}", line, bar_);
  else
    fmt::print(stderr, "{}\n", line);
  std::fflush(stderr);
}

void Progress::run_started(const std::string& output, bool resumed, size_t done, size_t total) {
  log_line("run_started",
           field("output", output) + field("resumed", resumed) + field("points_done", done) + field("points", total));
}

void Progress::point_started(const std::string& point, const std::string& what) {
  point_start_ = std::chrono::steady_clock::now();
  fit_seen_ = false;
  log_line("point_started", field("point", point) + field("what", what));
}

void Progress::evaluation(const std::string& point, const Evaluation& e) {
  // The ETA from the steps this process has run of this fit: from its first
  // evaluation when there were steps since (what came before it, e.g. a
  // kernel solver's preconditioner, is not a step), else from the point's start.
  const auto now = std::chrono::steady_clock::now();
  if (e.label != fit_label_ || e.step <= fit_step_ || !fit_seen_) fit_label_ = e.label, fit_step_ = e.step, fit_start_ = now, fit_seen_ = true;
  const double since_first = std::chrono::duration<double>(now - fit_start_).count();
  const double in_point = std::chrono::duration<double>(now - point_start_).count();
  const double eta = e.step > fit_step_ ? since_first * static_cast<double>(e.last_step - e.step) /
                                              static_cast<double>(e.step - fit_step_)
                     : e.step > e.start_step ? in_point * static_cast<double>(e.last_step - e.step) /
                                                   static_cast<double>(e.step - e.start_step)
                                             : std::nan("");
  if (std::isfinite(e.residual)) {  // an iterative kernel solver's iteration
    log_line("iteration", field("point", point) + field("label", e.label) + field("note", e.note) +
                              field("iteration", e.step) + field("last_iteration", e.last_step) +
                              field("residual", e.residual) + field("eta_seconds", eta));
    print(fmt::format("  {} {} iteration {}/{}  residual {:.3g}  {}  ETA {}", point, e.label, e.step, e.last_step,
                      e.residual, e.note, format_duration(eta)));
    return;
  }
  log_line("evaluation", field("point", point) + field("step", e.step) + field("last_step", e.last_step) +
                             field("train_loss", e.train_loss) + field("validation_error", e.validation_error) +
                             field("eta_seconds", eta));
  print(fmt::format("  {} step {}/{}  loss {:.4g}  validation error {:.4g}  ETA {}", point, e.step, e.last_step,
                    e.train_loss, e.validation_error, format_duration(eta)));
}

void Progress::checkpoint(const std::string& point, int64_t step, bool interrupted) {
  log_line("checkpoint", field("point", point) + field("step", step) + field("interrupted", interrupted));
}

void Progress::expect_total(double cost) { total_ = std::max(done_, cost); }

void SearchWork::add(int d, int64_t seed, double bound) { searches_[{d, seed}].bound = bound; }

void SearchWork::spent(int d, int64_t seed, double cost) { searches_[{d, seed}].spent += cost; }

void SearchWork::finished(int d, int64_t seed) { searches_[{d, seed}].over = true; }

double SearchWork::share(int d) const {
  double spent[2] = {0, 0}, bound[2] = {0, 0};  // [0]: at d, [1]: all
  for (const auto& [key, s] : searches_) {
    if (!s.over || !(s.spent > 0) || !(s.bound > 0)) continue;
    for (int k = key.first == d ? 0 : 1; k < 2; ++k) spent[k] += s.spent, bound[k] += s.bound;
  }
  for (int k = 0; k < 2; ++k)
    if (bound[k] > 0) return std::min(1.0, spent[k] / bound[k]);
  return 1.0;
}

double SearchWork::expected_total() const {
  double total = 0;
  for (const auto& [key, s] : searches_) total += s.over ? s.spent : std::max(s.spent, share(key.first) * s.bound);
  return total;
}

void Progress::point_done(double cost, const std::string& point, const std::string& what,
                          const std::vector<ResultRow>& rows) {
  done_ += cost;
  const double seconds = elapsed();
  const double frac = total_ > 0 ? std::min(1.0, done_ / total_) : 1.0;
  const double eta = frac > 0 ? seconds * (1 - frac) / frac : NAN;
  std::string row_list;
  for (const auto& r : rows) row_list += "," + json_row(r);
  if (!row_list.empty())
    row_list[0] = '[';
  else
    row_list = "[";
  log_line("point_done", field("point", point) + ",\"rows\":" + row_list + "]" + field("eta_seconds", eta));
  if (!lines_) return;
  if (terminal_) {
    const int width = 30, filled = static_cast<int>(frac * width);
    bar_ = fmt::format("[{}{}] {:5.1f}%  elapsed {}  ETA {}", std::string(filled, '#'),
                       std::string(width - filled, '.'), 100 * frac, format_duration(seconds), format_duration(eta));
    fmt::print(stderr, "\r\033[K{}\n{}", what, bar_);
    if (frac >= 1) fmt::print(stderr, "\n"), bar_.clear();
  } else {
    fmt::print(stderr, "{}  [{:.0f}% elapsed {} ETA {}]\n", what, 100 * frac, format_duration(seconds),
               format_duration(eta));
  }
  std::fflush(stderr);
}

void Progress::run_finished(const std::string& status, size_t done, size_t total) {
  log_line(status == "complete" ? "run_finished" : "run_interrupted",
           field("status", status) + field("points_done", done) + field("points", total));
}

}  // namespace neurep
