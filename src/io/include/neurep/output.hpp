// The results file (DESIGN 3.2): provenance, /config, /results (a row per
// sweep point), /curves, /checkpoint, and links to /data.
//
// The file is never modified in place: commit() builds the whole file in
// rank 0's memory, writes it to FILE.tmp and renames it over FILE, after hard-linking the
// previous generation to FILE.prev. A kill at any instant leaves FILE either
// the old or the new version, always readable.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "neurep/config.hpp"
#include "neurep/dist_matrix.hpp"
#include "neurep/grid.hpp"
#include "neurep/hdf5.hpp"
#include "neurep/learner.hpp"
#include "neurep/provenance.hpp"

namespace neurep {

struct ResultRow {
  int64_t d = 0, n = 0, seed = 0;
  double ridge = 0;
  std::string learner, input;
  int64_t width = 0;  // D of the representation, 0 for raw input
  double test_error = 0, train_error = 0, seconds = 0, flops = 0;
  std::string status;
  std::map<std::string, double> extra;  // further columns, NaN where a row has none

  // f(name, field) for each fixed column of /results, in file order: the
  // one list of them (writer, reader).
  template <typename Row, typename F>
  static void for_each_column(Row& r, F&& f) {
    f("d", r.d);
    f("n", r.n);
    f("seed", r.seed);
    f("ridge", r.ridge);
    f("learner", r.learner);
    f("input", r.input);
    f("width", r.width);
    f("test_error", r.test_error);
    f("train_error", r.train_error);
    f("seconds", r.seconds);
    f("flops", r.flops);
    f("status", r.status);
  }

  template <class Archive>
  void serialize(Archive& ar, unsigned) {
    for_each_column(*this, [&](const char*, auto& v) { ar& v; });
    ar& extra;
  }
};

// /complexity: a row per (d, seed, learner, target) of a search (sweep.target_error).
struct ComplexityRow {
  int64_t d = 0, seed = 0;
  std::string learner, input;  // as in /results
  double target = 0;           // the test error to cross
  int64_t n_lo = 0, n_hi = 0;  // the bracket: error(n_lo) >= target > error(n_hi); 0 where there is none
  double error_lo = 0, error_hi = 0;  // the selected rows' test errors there (NaN where there is no point)
  double n_eps = 0;   // log-log interpolation between the bracket's points; NaN unless reached
  int64_t points = 0; // the points (values of n) the search of this (d, seed) computed
  std::string status; // reached, below-n_min, floor, n_max

  template <typename Row, typename F>
  static void for_each_column(Row& r, F&& f) {
    f("d", r.d);
    f("seed", r.seed);
    f("learner", r.learner);
    f("input", r.input);
    f("target", r.target);
    f("n_lo", r.n_lo);
    f("n_hi", r.n_hi);
    f("error_lo", r.error_lo);
    f("error_hi", r.error_hi);
    f("n_eps", r.n_eps);
    f("points", r.points);
    f("status", r.status);
  }
};

// /curves/<name>: the training curve of one point of an iterative learner.
struct Curve : TrainingCurve {
  std::string name;  // e.g. d16_n1024_s0
  int64_t d = 0, n = 0, seed = 0;
  std::string learner, input;

  template <class Archive>
  void serialize(Archive& ar, unsigned) {
    ar& name& d& n& seed& learner& input;
    for_each_column(*this, [&](const char*, std::vector<double>& v) { ar& v; });
  }
};

// What a results file holds, as read back (for --resume and neurep info).
struct ResultsContents {
  std::string status;
  std::string config_toml;
  std::map<std::string, std::string> attributes;  // root attributes as text
  std::vector<ResultRow> rows;
  std::vector<Curve> curves;
  Checkpoint checkpoint;  // point is empty when there is none

  template <class Archive>
  void serialize(Archive& ar, unsigned) {
    ar& status& config_toml& attributes& rows& curves& checkpoint;
  }
};

// Reads /checkpoint/<name> of a results file into `a` (this rank's blocks). Collective.
void read_checkpoint_matrix(const std::string& path, const std::string& name, DistMatrix<double>& a);

// Reads a results file on rank 0 and broadcasts it (collective). Throws
// InputError if the file is not a neurep results file.
ResultsContents read_results(const std::string& path, const boost::mpi::communicator& comm);
// The same on this process alone.
ResultsContents read_results_serial(const std::string& path);

// Excludes a second neurep run from writing the same output while one is at
// it (two writers would share FILE.tmp: a torn file, or a checkpoint mixed
// from two generations). Rank 0 holds an flock on FILE.lock from before the
// --resume read to the end of the run; the kernel drops it when the process
// dies, so a killed run leaves no stale lock. A run that finds the lock held
// waits up to `wait_seconds` (the ranks of a run whose mpiexec was killed
// live on for a few seconds) and then throws InputError naming the holder.
// Where the file system has no flock (some Lustre mounts) it does nothing.
// Collective.
class OutputLock {
 public:
  OutputLock(const std::string& output, const boost::mpi::communicator& comm, double wait_seconds = 30);
  ~OutputLock();  // removes FILE.lock, then releases it
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;

 private:
  std::string path_;
  int fd_ = -1;
};

class ResultsFile {
 public:
  ResultsFile(std::string path, const ProcessGrid& grid, const Config& config, Provenance provenance,
              std::string normalization_note);

  // Starts from what an earlier run left (after --resume checks).
  void restore(ResultsContents contents);

  const std::vector<ResultRow>& rows() const { return rows_; }
  // For updating columns that depend on several rows (e.g. which candidate is selected).
  std::vector<ResultRow>& mutable_rows() { return rows_; }
  void add_row(ResultRow row) { rows_.push_back(std::move(row)); }
  void add_curve(Curve curve);
  // The /complexity table of a search (written with every commit; rank 0's is written).
  void set_complexity(std::vector<ComplexityRow> rows) { complexity_ = std::move(rows); }
  // /data/<name> becomes an external link to `file` (relative to FILE's folder).
  void add_data_link(const std::string& name, const std::string& file);

  // The state of the point in progress, written with every commit until
  // cleared; the matrices it points to must live until the next commit.
  void set_checkpoint(Checkpoint checkpoint) { checkpoint_ = std::move(checkpoint); }
  void clear_checkpoint() { checkpoint_ = Checkpoint{}; }

  // Atomically replaces the file with rank 0's current state. Collective. A
  // failure to write (a full disk) throws CollectiveError on every rank,
  // leaves FILE and FILE.prev as they were and removes FILE.tmp.
  void commit(const std::string& status);
  const std::string& path() const { return path_; }

 private:
  void write_contents(const h5::File& file, const std::string& status,
                      const std::map<std::string, std::vector<double>>& matrices) const;
  std::string path_;
  const ProcessGrid& grid_;
  const Config& config_;
  Provenance provenance_;
  std::string normalization_;
  std::vector<ResultRow> rows_;
  std::vector<Curve> curves_;
  std::vector<ComplexityRow> complexity_;
  std::map<std::string, std::string> data_links_;
  Checkpoint checkpoint_;
};

}  // namespace neurep
