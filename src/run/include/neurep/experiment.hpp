// The sweep driver (DESIGN 1.4): for every d, seed and n of the sweep, build
// the data and the learner's input, fit the learner and append its rows to
// the results file as soon as the point is done. Completed points are never
// recomputed on --resume.
#pragma once

#include <string>

#include <boost/mpi/communicator.hpp>

#include "neurep/config.hpp"

namespace neurep {

struct RunOptions {
  std::string output;        // results file
  bool resume = false;       // continue an earlier run of the same configuration
  bool overwrite = false;    // replace an existing file
  bool extend = false;       // grow an existing file to a configuration that adds sweep values (extension.hpp)
  std::string command_line;  // recorded in the file
  bool progress = true;      // progress lines on rank 0
};

// The default output path for a configuration file: its stem + ".h5".
std::string default_output(const std::string& config_path);

// Runs the whole sweep. Collective over comm. Returns kExitOk, or
// kExitInterrupted after a stop signal (state committed). Throws InputError
// for bad input before anything is written.
int run_experiment(const Config& config, const RunOptions& options, const boost::mpi::communicator& comm);

}  // namespace neurep
