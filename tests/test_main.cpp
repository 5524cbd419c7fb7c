// Shared main of the Catch2 tests: every rank runs the session, and the
// verdict is reduced over ranks so that a failure anywhere fails everywhere.
#define CATCH_CONFIG_RUNNER
#include <boost/mpi/collectives.hpp>
#include <boost/mpi/communicator.hpp>
#include <boost/mpi/environment.hpp>
#include <catch2/catch.hpp>
#include <cstdio>

int main(int argc, char** argv) {
  boost::mpi::environment env(argc, argv, boost::mpi::threading::funneled);
  boost::mpi::communicator world;
  Catch::Session session;
  if (world.rank() != 0) {
    // Only rank 0 reports passes; failures are reported by the rank that sees them.
    session.configData().reporterName = "console";
  }
  int rc = session.applyCommandLine(argc, argv);
  if (rc != 0) return rc;
  int failed = session.run();
  int any_failed = 0;
  boost::mpi::all_reduce(world, failed, any_failed, boost::mpi::maximum<int>());
  if (world.rank() == 0)
    std::printf("[%d ranks] %s\n", world.size(), any_failed ? "FAILED on at least one rank" : "passed on every rank");
  return any_failed ? 1 : 0;
}
