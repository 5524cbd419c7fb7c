// A thin RAII layer over the HDF5 C API, for the few operations neurep
// needs (in the shape of HighFive). Every hid_t lives in a Handle that closes
// it exactly once and never throws from its destructor; HDF5 failures become
// RuntimeError with the object's path and HDF5's own message; on a file
// opened with a communicator the failure of a collective call is agreed over
// the ranks first, and all of them throw CollectiveError together.
//
// Files opened with a communicator use the MPI-IO driver: every call on them
// is collective (all ranks, same arguments). Small data (columns, attributes)
// are written by rank 0 inside the collective call, distributed matrices by
// every rank for its own blocks.
#pragma once

#include <cstdint>
#include <optional>
#include <variant>
#include <string>
#include <vector>

#include <boost/mpi/communicator.hpp>

#include "neurep/dist_matrix.hpp"

namespace neurep::h5 {

using hid = int64_t;  // hid_t, without exposing the HDF5 headers

class Handle {
 public:
  Handle() = default;
  Handle(hid id, int (*close)(hid), std::string path) : id_(id), close_(close), path_(std::move(path)) {}
  ~Handle() { reset(); }
  Handle(Handle&& o) noexcept { *this = std::move(o); }
  Handle& operator=(Handle&& o) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid id() const { return id_; }
  // Gives up ownership (the caller closes it).
  hid release() noexcept {
    const hid id = id_;
    id_ = -1;
    return id;
  }
  const std::string& path() const { return path_; }
  void reset() noexcept;

 private:
  hid id_ = -1;
  int (*close_)(hid) = nullptr;
  std::string path_;
};

// Scalar or 1-D attribute values.
using AttributeValue = std::variant<std::string, double, int64_t, std::vector<double>, std::vector<int64_t>>;

class Group {
 public:
  Group(Handle h, const boost::mpi::communicator* comm) : h_(std::move(h)), comm_(comm) {}

  Group create_group(const std::string& name) const;
  Group open_group(const std::string& name) const;
  bool exists(const std::string& name) const;
  // Number of dimensions of dataset `name`.
  int rank_of(const std::string& name) const;
  std::vector<std::string> children() const;
  // A soft link into another HDF5 file (path relative to this file's folder).
  void external_link(const std::string& name, const std::string& file, const std::string& object) const;

  // Rank 0's value, on a file opened with a communicator (metadata must agree).
  void set_attribute(const std::string& name, const AttributeValue& value) const;
  std::optional<AttributeValue> attribute(const std::string& name) const;
  std::vector<std::string> attribute_names() const;

  // Extendible, chunked 1-D datasets (the /results columns): rank 0's values;
  // the length and a string column's width are agreed over the ranks.
  void write_column(const std::string& name, const std::vector<double>& v) const;
  void write_column(const std::string& name, const std::vector<int64_t>& v) const;
  void write_column(const std::string& name, const std::vector<std::string>& v) const;
  // A fixed-length (contiguous) 1-D dataset of rank 0's values, for small
  // arrays written whole (training curves); read_column reads it.
  void write_array(const std::string& name, const std::vector<double>& v) const;
  // Reads a 1-D dataset of any of those types; numbers come back as double
  // in `numbers`, strings in `strings` (the other left empty).
  void read_column(const std::string& name, std::vector<double>& numbers,
                   std::vector<std::string>& strings) const;

  // A scalar string dataset (the /config TOML text).
  void write_text(const std::string& name, const std::string& text) const;
  std::string read_text(const std::string& name) const;

  // A dense rows x cols dataset, row-major as h5py reads it, written by
  // every rank for the blocks it owns (collective).
  void write_matrix(const std::string& name, const DistMatrix<double>& a) const;
  // The same from a whole matrix held by this process (column-major), on a
  // file without a communicator.
  void write_matrix(const std::string& name, int64_t rows, int64_t cols, const std::vector<double>& column_major) const;
  // Reads such a dataset into the blocks this rank owns (collective).
  void read_matrix(const std::string& name, DistMatrix<double>& a) const;

  const std::string& path() const { return h_.path(); }

 private:
  bool collective() const { return comm_ != nullptr; }
  bool writer() const { return comm_ == nullptr || comm_->rank() == 0; }
  Handle h_;
  const boost::mpi::communicator* comm_;
};

class File {
 public:
  // Creates (truncating) a file; collective over comm.
  static File create(const std::string& path, const boost::mpi::communicator& comm);
  // A file in this process's memory only (HDF5's core driver), for image().
  static File create_in_memory(const std::string& name);
  // The bytes of the file as it would be on disk (flushes first).
  std::vector<char> image() const;
  // Opens read-only; collective over comm.
  static File open(const std::string& path, const boost::mpi::communicator& comm);
  // Opens read-only on this process alone (neurep info, tests).
  static File open_serial(const std::string& path);
  // True if `path` is an HDF5 file (signature check; no exception).
  static bool is_hdf5(const std::string& path);

  Group root() const;
  // Flushes and closes; throws if that fails (a full disk shows here). Without
  // it the destructor closes the file and ignores failures. Collective, and
  // the failure is agreed over the ranks: all throw CollectiveError.
  void close();

 private:
  File(Handle h, const boost::mpi::communicator* comm) : h_(std::move(h)), comm_(comm) {}
  Handle h_;
  const boost::mpi::communicator* comm_;
};

}  // namespace neurep::h5
