#include "neurep/signals.hpp"

#include <boost/mpi/collectives.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <string>
#include <thread>

namespace neurep {
namespace {
volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_stop_signal(int) { g_stop = 1; }
}  // namespace

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

void test_stop_at(const char* phase) {
  const char* want = std::getenv("NEUREP_TEST_STOP_AT");
  if (!want) return;
  const std::string spec = want;
  const auto at = spec.find('@');
  if (spec.substr(0, at) != phase) return;
  if (at != std::string::npos) {  // phase@R: rank R only (known before MPI_Init from the launcher)
    const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
    if (spec.substr(at + 1) != (rank ? rank : "0")) return;
  }
  std::raise(SIGUSR1);
}

void test_wait_after(const char* event) {
  const char* want = std::getenv("NEUREP_TEST_WAIT_AFTER");
  if (!want) return;
  std::string spec = want;  // "K" (a point) or "event:K"
  const auto colon = spec.find(':');
  if ((colon == std::string::npos ? std::string("point") : spec.substr(0, colon)) != event) return;
  static long calls = 0;  // one event is counted per process: the variable names one
  if (++calls != std::strtol(spec.c_str() + (colon == std::string::npos ? 0 : colon + 1), nullptr, 10)) return;
  for (int i = 0; i < 12000 && !g_stop; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

SafePoint safe_point(const boost::mpi::communicator& comm, bool checkpoint_due) {
  const int local[2] = {g_stop ? 1 : 0, checkpoint_due ? 1 : 0};
  int any[2] = {0, 0};
  boost::mpi::all_reduce(comm, local, 2, any, boost::mpi::maximum<int>());
  return {any[0] != 0, any[1] != 0};
}

}  // namespace neurep
