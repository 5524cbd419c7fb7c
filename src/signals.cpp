#include "neurep/signals.hpp"

#include <boost/mpi/collectives.hpp>
#include <csignal>

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

bool stop_requested(const boost::mpi::communicator& comm) {
  int local = g_stop ? 1 : 0, any = 0;
  boost::mpi::all_reduce(comm, local, any, boost::mpi::maximum<int>());
  return any != 0;
}

void request_stop() { g_stop = 1; }

}  // namespace neurep
