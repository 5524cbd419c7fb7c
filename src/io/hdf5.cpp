#include "neurep/hdf5.hpp"

#include <hdf5.h>
#include <fmt/core.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "neurep/agreement.hpp"
#include "neurep/errors.hpp"

namespace neurep::h5 {
namespace {

static_assert(sizeof(hid_t) == sizeof(hid), "hid_t is expected to be 64-bit (HDF5 >= 1.10)");

herr_t collect_error(unsigned n, const H5E_error2_t* e, void* out) {
  auto* msg = static_cast<std::string*>(out);
  if (n == 0 && e->desc) *msg = e->desc;  // the innermost cause
  return 0;
}

std::string hdf5_message() {
  std::string msg;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_error, &msg);
  H5Eclear2(H5E_DEFAULT);
  return msg.empty() ? "unknown HDF5 error" : msg;
}

// HDF5 prints its error stack on its own unless told not to; we report instead.
struct SilenceHdf5 {
  SilenceHdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }
};
void silence() { static SilenceHdf5 once; }

// On a file opened with a communicator every call is collective, and a call
// can fail on one rank alone (a full disk hits the rank that writes): the
// outcome is agreed over the ranks (`comm` non-null) before anyone goes on, so
// that all throw together and unwind through the same collective closes
// instead of waiting in different ones. The message is rank 0's if it failed
// there, else the failing rank's own.
void check_status(herr_t s, const std::string& what, const std::string& path,
                  const boost::mpi::communicator* comm = nullptr) {
  const bool failed = s < 0;
  if (comm && on_any_rank(*comm, failed)) {
    std::string msg = failed ? hdf5_message() : std::string();
    const std::string root_msg = from_rank0(*comm, msg);
    if (!root_msg.empty()) msg = root_msg;
    throw CollectiveError(fmt::format("HDF5: {} '{}': {}", what, path, msg.empty() ? "failed on another rank" : msg));
  }
  if (failed) throw RuntimeError(fmt::format("HDF5: {} '{}': {}", what, path, hdf5_message()));
}

Handle make(hid_t id, herr_t (*close)(hid_t), const std::string& what, const std::string& path,
            const boost::mpi::communicator* comm = nullptr) {
  Handle h(id, reinterpret_cast<int (*)(hid)>(close), path);  // closes it if another rank failed
  check_status(id < 0 ? -1 : 0, what, path, comm);
  return h;
}

std::string join(const std::string& parent, const std::string& name) {
  return parent == "/" ? "/" + name : parent + "/" + name;
}

Handle transfer_plist(bool collective) {
  hid_t p = H5Pcreate(H5P_DATASET_XFER);
  if (collective) H5Pset_dxpl_mpio(p, H5FD_MPIO_COLLECTIVE);
  return make(p, H5Pclose, "create transfer list", "");
}

Handle string_type(size_t len) {
  Handle t = make(H5Tcopy(H5T_C_S1), H5Tclose, "copy string type", "");
  H5Tset_size(t.id(), std::max<size_t>(len, 1));
  H5Tset_strpad(t.id(), H5T_STR_NULLPAD);
  return t;
}

// Writes a 1-D dataset from rank 0 (all ranks call). Its length is rank 0's.
// Extendible: chunked with an unlimited maximum; otherwise contiguous, which
// spares small arrays the chunk index (a training curve's six columns of a
// few dozen values took ~18 KB chunked, ~3 KB contiguous).
void write_1d(hid_t group, const std::string& gpath, const std::string& name, hid_t type,
              const void* buf, hsize_t n, const boost::mpi::communicator* comm, bool writer, bool extendible = true) {
  const std::string path = join(gpath, name);
  const bool collective = comm != nullptr;
  if (comm) n = from_rank0(*comm, n);
  if (H5Lexists(group, name.c_str(), H5P_DEFAULT) > 0)
    check_status(H5Ldelete(group, name.c_str(), H5P_DEFAULT), "delete", path, comm);
  hsize_t dims[1] = {n}, maxdims[1] = {H5S_UNLIMITED}, chunk[1] = {std::clamp<hsize_t>(n, 64, 4096)};
  Handle space = make(H5Screate_simple(1, dims, extendible ? maxdims : nullptr), H5Sclose, "dataspace", path);
  Handle dcpl = make(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, "create list", path);
  if (extendible) H5Pset_chunk(dcpl.id(), 1, chunk);
  Handle ds = make(H5Dcreate2(group, name.c_str(), type, space.id(), H5P_DEFAULT, dcpl.id(), H5P_DEFAULT),
                   H5Dclose, "create dataset", path, comm);
  if (n == 0) return;
  Handle mem = make(H5Screate_simple(1, dims, nullptr), H5Sclose, "dataspace", path);
  if (!writer) {
    H5Sselect_none(mem.id());
    H5Sselect_none(space.id());
  }
  Handle xfer = transfer_plist(collective);
  check_status(H5Dwrite(ds.id(), type, mem.id(), space.id(), xfer.id(), buf), "write", path, comm);
}

// Rank 0's attribute value on every rank (collective).
AttributeValue agreed(const boost::mpi::communicator& comm, const AttributeValue& v) {
  if (comm.size() == 1) return v;
  const size_t kind = from_rank0(comm, v.index());
  AttributeValue out = v;
  if (out.index() != kind) {  // the ranks disagree even on the type: take rank 0's
    switch (kind) {
      case 0: out = std::string(); break;
      case 1: out = 0.0; break;
      case 2: out = int64_t(0); break;
      case 3: out = std::vector<double>(); break;
      default: out = std::vector<int64_t>(); break;
    }
  }
  std::visit([&](auto& x) { x = from_rank0(comm, x); }, out);
  return out;
}

// The blocks this rank owns of a DistMatrix, as a hyperslab union.
bool select_owned_blocks(hid_t space, const DistMatrix<double>& a) {
  bool any = false;
  for (int64_t li = 0; li < a.local_rows(); li += a.row_block()) {
    const hsize_t r0 = static_cast<hsize_t>(a.global_row(li));
    const hsize_t mr = static_cast<hsize_t>(std::min<int64_t>(a.row_block(), a.local_rows() - li));
    for (int64_t lj = 0; lj < a.local_cols(); lj += a.col_block()) {
      const hsize_t c0 = static_cast<hsize_t>(a.global_col(lj));
      const hsize_t nc = static_cast<hsize_t>(std::min<int64_t>(a.col_block(), a.local_cols() - lj));
      hsize_t start[2] = {r0, c0}, count[2] = {mr, nc};
      H5Sselect_hyperslab(space, any ? H5S_SELECT_OR : H5S_SELECT_SET, start, nullptr, count, nullptr);
      any = true;
    }
  }
  if (!any) H5Sselect_none(space);
  return any;
}

}  // namespace

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    close_ = o.close_;
    path_ = std::move(o.path_);
    o.id_ = -1;
  }
  return *this;
}

void Handle::reset() noexcept {
  if (id_ >= 0 && close_) close_(id_);
  id_ = -1;
}

// ---- File -------------------------------------------------------------------

File File::create(const std::string& path, const boost::mpi::communicator& comm) {
  silence();
  Handle fapl = make(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, "access list", path);
  H5Pset_fapl_mpio(fapl.id(), static_cast<MPI_Comm>(comm), MPI_INFO_NULL);
  return File(make(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.id()), H5Fclose,
                   "create file", path, &comm),
              &comm);
}

File File::create_in_memory(const std::string& name) {
  silence();
  Handle fapl = make(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, "access list", name);
  check_status(H5Pset_fapl_core(fapl.id(), 1 << 20, /*backing_store=*/0), "core driver", name);
  return File(make(H5Fcreate(name.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.id()), H5Fclose, "create file", name),
              nullptr);
}

std::vector<char> File::image() const {
  check_status(H5Fflush(h_.id(), H5F_SCOPE_GLOBAL), "flush file", h_.path());
  const ssize_t size = H5Fget_file_image(h_.id(), nullptr, 0);
  if (size < 0) throw RuntimeError(fmt::format("HDF5: file image of '{}': {}", h_.path(), hdf5_message()));
  std::vector<char> out(static_cast<size_t>(size));
  if (H5Fget_file_image(h_.id(), out.data(), out.size()) < 0)
    throw RuntimeError(fmt::format("HDF5: file image of '{}': {}", h_.path(), hdf5_message()));
  return out;
}

File File::open(const std::string& path, const boost::mpi::communicator& comm) {
  silence();
  Handle fapl = make(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, "access list", path);
  H5Pset_fapl_mpio(fapl.id(), static_cast<MPI_Comm>(comm), MPI_INFO_NULL);
  return File(make(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.id()), H5Fclose, "open file", path, &comm),
              &comm);
}

File File::open_serial(const std::string& path) {
  silence();
  return File(make(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose, "open file", path),
              nullptr);
}

bool File::is_hdf5(const std::string& path) {
  silence();
  std::ifstream f(path);
  if (!f) return false;
  return H5Fis_hdf5(path.c_str()) > 0;
}

void File::close() {
  if (h_.id() < 0) return;
  const hid_t id = h_.release();
  check_status(H5Fclose(id), "close (and flush) file", h_.path(), comm_);
}

Group File::root() const {
  return Group(make(H5Gopen2(h_.id(), "/", H5P_DEFAULT), H5Gclose, "open group", "/"), comm_);
}

// ---- Group ------------------------------------------------------------------

Group Group::create_group(const std::string& name) const {
  const std::string p = join(path(), name);
  return Group(make(H5Gcreate2(h_.id(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                    H5Gclose, "create group", p, comm_),
               comm_);
}

Group Group::open_group(const std::string& name) const {
  const std::string p = join(path(), name);
  return Group(make(H5Gopen2(h_.id(), name.c_str(), H5P_DEFAULT), H5Gclose, "open group", p), comm_);
}

bool Group::exists(const std::string& name) const {
  return H5Lexists(h_.id(), name.c_str(), H5P_DEFAULT) > 0;
}

int Group::rank_of(const std::string& name) const {
  const std::string p = join(path(), name);
  Handle ds = make(H5Dopen2(h_.id(), name.c_str(), H5P_DEFAULT), H5Dclose, "open dataset", p);
  Handle space = make(H5Dget_space(ds.id()), H5Sclose, "dataset space", p);
  return H5Sget_simple_extent_ndims(space.id());
}

std::vector<std::string> Group::children() const {
  std::vector<std::string> out;
  H5Literate(
      h_.id(), H5_INDEX_NAME, H5_ITER_INC, nullptr,
      [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
        static_cast<std::vector<std::string>*>(data)->push_back(name);
        return 0;
      },
      &out);
  return out;
}

void Group::external_link(const std::string& name, const std::string& file, const std::string& object) const {
  check_status(H5Lcreate_external(file.c_str(), object.c_str(), h_.id(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT),
               "create external link", join(path(), name), comm_);
}

void Group::set_attribute(const std::string& name, const AttributeValue& local_value) const {
  const std::string p = path() + "@" + name;
  // Attributes are metadata: every rank must write the same bytes. Rank 0's value.
  const AttributeValue value = comm_ ? agreed(*comm_, local_value) : local_value;
  if (H5Aexists(h_.id(), name.c_str()) > 0) H5Adelete(h_.id(), name.c_str());
  auto write = [&](hid_t type, hid_t space, const void* buf) {
    Handle a = make(H5Acreate2(h_.id(), name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
                    "create attribute", p, comm_);
    if (buf) check_status(H5Awrite(a.id(), type, buf), "write attribute", p, comm_);
  };
  Handle scalar = make(H5Screate(H5S_SCALAR), H5Sclose, "dataspace", p);
  if (auto s = std::get_if<std::string>(&value)) {
    Handle t = string_type(s->size());
    std::string buf = *s;
    buf.resize(std::max<size_t>(buf.size(), 1), '\0');
    write(t.id(), scalar.id(), buf.data());
  } else if (auto d = std::get_if<double>(&value)) {
    write(H5T_NATIVE_DOUBLE, scalar.id(), d);
  } else if (auto i = std::get_if<int64_t>(&value)) {
    write(H5T_NATIVE_INT64, scalar.id(), i);
  } else if (auto vd = std::get_if<std::vector<double>>(&value)) {
    hsize_t dims[1] = {vd->size()};
    Handle sp = make(vd->empty() ? H5Screate(H5S_NULL) : H5Screate_simple(1, dims, nullptr), H5Sclose, "dataspace", p);
    write(H5T_NATIVE_DOUBLE, sp.id(), vd->empty() ? nullptr : vd->data());
  } else if (auto vi = std::get_if<std::vector<int64_t>>(&value)) {
    hsize_t dims[1] = {vi->size()};
    Handle sp = make(vi->empty() ? H5Screate(H5S_NULL) : H5Screate_simple(1, dims, nullptr), H5Sclose, "dataspace", p);
    write(H5T_NATIVE_INT64, sp.id(), vi->empty() ? nullptr : vi->data());
  }
}

std::vector<std::string> Group::attribute_names() const {
  std::vector<std::string> out;
  H5Aiterate2(
      h_.id(), H5_INDEX_NAME, H5_ITER_INC, nullptr,
      [](hid_t, const char* name, const H5A_info_t*, void* data) -> herr_t {
        static_cast<std::vector<std::string>*>(data)->push_back(name);
        return 0;
      },
      &out);
  return out;
}

std::optional<AttributeValue> Group::attribute(const std::string& name) const {
  if (H5Aexists(h_.id(), name.c_str()) <= 0) return std::nullopt;
  const std::string p = path() + "@" + name;
  Handle a = make(H5Aopen(h_.id(), name.c_str(), H5P_DEFAULT), H5Aclose, "open attribute", p);
  Handle type = make(H5Aget_type(a.id()), H5Tclose, "attribute type", p);
  Handle space = make(H5Aget_space(a.id()), H5Sclose, "attribute space", p);
  const hssize_t n = H5Sget_simple_extent_npoints(space.id());
  const bool scalar = H5Sget_simple_extent_type(space.id()) == H5S_SCALAR;
  switch (H5Tget_class(type.id())) {
    case H5T_STRING: {
      if (H5Tis_variable_str(type.id()) > 0) {
        char* s = nullptr;
        Handle mt = make(H5Tcopy(H5T_C_S1), H5Tclose, "type", p);
        H5Tset_size(mt.id(), H5T_VARIABLE);
        check_status(H5Aread(a.id(), mt.id(), &s), "read attribute", p);
        std::string out = s ? s : "";
        H5free_memory(s);
        return out;
      }
      std::string buf(H5Tget_size(type.id()), '\0');
      check_status(H5Aread(a.id(), type.id(), buf.data()), "read attribute", p);
      return std::string(buf.c_str());
    }
    case H5T_INTEGER: {
      std::vector<int64_t> v(static_cast<size_t>(std::max<hssize_t>(n, 0)));
      if (!v.empty()) check_status(H5Aread(a.id(), H5T_NATIVE_INT64, v.data()), "read attribute", p);
      if (scalar) return v.at(0);
      return v;
    }
    case H5T_FLOAT: {
      std::vector<double> v(static_cast<size_t>(std::max<hssize_t>(n, 0)));
      if (!v.empty()) check_status(H5Aread(a.id(), H5T_NATIVE_DOUBLE, v.data()), "read attribute", p);
      if (scalar) return v.at(0);
      return v;
    }
    default:
      return std::nullopt;
  }
}

void Group::write_column(const std::string& name, const std::vector<double>& v) const {
  write_1d(h_.id(), path(), name, H5T_NATIVE_DOUBLE, v.data(), v.size(), comm_, writer());
}

void Group::write_array(const std::string& name, const std::vector<double>& v) const {
  write_1d(h_.id(), path(), name, H5T_NATIVE_DOUBLE, v.data(), v.size(), comm_, writer(), false);
}

void Group::write_column(const std::string& name, const std::vector<int64_t>& v) const {
  write_1d(h_.id(), path(), name, H5T_NATIVE_INT64, v.data(), v.size(), comm_, writer());
}

void Group::write_column(const std::string& name, const std::vector<std::string>& v) const {
  // The string type is part of the dataset's metadata, identical on every
  // rank: its length is agreed (the longest on any rank), never this rank's.
  size_t len = 1;
  for (const auto& s : v) len = std::max(len, s.size());
  if (comm_ && comm_->size() > 1) {
    size_t longest = len;
    boost::mpi::all_reduce(*comm_, len, longest, boost::mpi::maximum<size_t>());
    len = longest;
  }
  std::vector<char> buf(len * v.size(), '\0');
  for (size_t i = 0; i < v.size(); ++i) std::memcpy(buf.data() + i * len, v[i].data(), v[i].size());
  Handle t = string_type(len);
  write_1d(h_.id(), path(), name, t.id(), buf.data(), v.size(), comm_, writer());
}

void Group::read_column(const std::string& name, std::vector<double>& numbers,
                        std::vector<std::string>& strings) const {
  const std::string p = join(path(), name);
  numbers.clear();
  strings.clear();
  Handle ds = make(H5Dopen2(h_.id(), name.c_str(), H5P_DEFAULT), H5Dclose, "open dataset", p);
  Handle type = make(H5Dget_type(ds.id()), H5Tclose, "dataset type", p);
  Handle space = make(H5Dget_space(ds.id()), H5Sclose, "dataset space", p);
  const hssize_t n = H5Sget_simple_extent_npoints(space.id());
  if (n <= 0) return;
  Handle xfer = transfer_plist(false);
  if (H5Tget_class(type.id()) == H5T_STRING) {
    if (H5Tis_variable_str(type.id()) > 0) {
      std::vector<char*> ptrs(static_cast<size_t>(n), nullptr);
      Handle mt = make(H5Tcopy(H5T_C_S1), H5Tclose, "type", p);
      H5Tset_size(mt.id(), H5T_VARIABLE);
      check_status(H5Dread(ds.id(), mt.id(), H5S_ALL, H5S_ALL, xfer.id(), ptrs.data()), "read", p);
      for (char* s : ptrs) strings.emplace_back(s ? s : "");
      H5Dvlen_reclaim(mt.id(), space.id(), H5P_DEFAULT, ptrs.data());
    } else {
      const size_t len = H5Tget_size(type.id());
      std::vector<char> buf(len * static_cast<size_t>(n) + 1, '\0');
      check_status(H5Dread(ds.id(), type.id(), H5S_ALL, H5S_ALL, xfer.id(), buf.data()), "read", p);
      for (hssize_t i = 0; i < n; ++i) {
        const char* s = buf.data() + static_cast<size_t>(i) * len;
        strings.emplace_back(s, strnlen(s, len));
      }
    }
    return;
  }
  numbers.resize(static_cast<size_t>(n));
  check_status(H5Dread(ds.id(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, xfer.id(), numbers.data()), "read", p);
}

void Group::write_text(const std::string& name, const std::string& local_text) const {
  const std::string p = join(path(), name);
  const std::string text = comm_ ? from_rank0(*comm_, local_text) : local_text;
  Handle t = string_type(text.size());
  Handle space = make(H5Screate(H5S_SCALAR), H5Sclose, "dataspace", p);
  Handle ds = make(H5Dcreate2(h_.id(), name.c_str(), t.id(), space.id(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                   H5Dclose, "create dataset", p, comm_);
  Handle mem = make(H5Screate(H5S_SCALAR), H5Sclose, "dataspace", p);
  if (!writer()) {
    H5Sselect_none(mem.id());
    H5Sselect_none(space.id());
  }
  std::string buf = text;
  buf.resize(std::max<size_t>(buf.size(), 1), '\0');
  Handle xfer = transfer_plist(collective());
  check_status(H5Dwrite(ds.id(), t.id(), mem.id(), space.id(), xfer.id(), buf.data()), "write", p, comm_);
}

std::string Group::read_text(const std::string& name) const {
  std::vector<double> unused;
  const std::string p = join(path(), name);
  Handle ds = make(H5Dopen2(h_.id(), name.c_str(), H5P_DEFAULT), H5Dclose, "open dataset", p);
  Handle type = make(H5Dget_type(ds.id()), H5Tclose, "dataset type", p);
  if (H5Tget_class(type.id()) != H5T_STRING) throw RuntimeError(fmt::format("HDF5: '{}' is not a string", p));
  Handle xfer = transfer_plist(false);
  if (H5Tis_variable_str(type.id()) > 0) {
    char* s = nullptr;
    Handle mt = make(H5Tcopy(H5T_C_S1), H5Tclose, "type", p);
    H5Tset_size(mt.id(), H5T_VARIABLE);
    check_status(H5Dread(ds.id(), mt.id(), H5S_ALL, H5S_ALL, xfer.id(), &s), "read", p);
    std::string out = s ? s : "";
    H5free_memory(s);
    return out;
  }
  std::string buf(H5Tget_size(type.id()), '\0');
  check_status(H5Dread(ds.id(), type.id(), H5S_ALL, H5S_ALL, xfer.id(), buf.data()), "read", p);
  return std::string(buf.c_str());
}

void Group::write_matrix(const std::string& name, const DistMatrix<double>& a) const {
  const std::string p = join(path(), name);
  hsize_t dims[2] = {static_cast<hsize_t>(a.rows()), static_cast<hsize_t>(a.cols())};
  Handle space = make(H5Screate_simple(2, dims, nullptr), H5Sclose, "dataspace", p);
  Handle ds = make(H5Dcreate2(h_.id(), name.c_str(), H5T_NATIVE_DOUBLE, space.id(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                   H5Dclose, "create dataset", p, comm_);
  const int64_t lr = a.local_rows(), lc = a.local_cols();
  std::vector<double> buf(static_cast<size_t>(lr * lc));  // row-major local blocks
  for (int64_t li = 0; li < lr; ++li)
    for (int64_t lj = 0; lj < lc; ++lj) buf[static_cast<size_t>(li * lc + lj)] = a.local(li, lj);
  hsize_t mdims[2] = {static_cast<hsize_t>(std::max<int64_t>(lr, 1)), static_cast<hsize_t>(std::max<int64_t>(lc, 1))};
  Handle mem = make(H5Screate_simple(2, mdims, nullptr), H5Sclose, "dataspace", p);
  if (!select_owned_blocks(space.id(), a)) H5Sselect_none(mem.id());
  if (buf.empty()) buf.push_back(0.0);
  Handle xfer = transfer_plist(collective());
  check_status(H5Dwrite(ds.id(), H5T_NATIVE_DOUBLE, mem.id(), space.id(), xfer.id(), buf.data()), "write", p, comm_);
}

void Group::write_matrix(const std::string& name, int64_t rows, int64_t cols, const std::vector<double>& column_major) const {
  const std::string p = join(path(), name);
  if (collective()) throw RuntimeError(fmt::format("HDF5: '{}': a whole matrix is written by one process", p));
  hsize_t dims[2] = {static_cast<hsize_t>(rows), static_cast<hsize_t>(cols)};
  Handle space = make(H5Screate_simple(2, dims, nullptr), H5Sclose, "dataspace", p);
  Handle ds = make(H5Dcreate2(h_.id(), name.c_str(), H5T_NATIVE_DOUBLE, space.id(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                   H5Dclose, "create dataset", p);
  std::vector<double> row_major(column_major.size());
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) row_major[static_cast<size_t>(i * cols + j)] = column_major[static_cast<size_t>(i + j * rows)];
  if (!row_major.empty())
    check_status(H5Dwrite(ds.id(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, row_major.data()), "write", p);
}

void Group::read_matrix(const std::string& name, DistMatrix<double>& a) const {
  const std::string p = join(path(), name);
  Handle ds = make(H5Dopen2(h_.id(), name.c_str(), H5P_DEFAULT), H5Dclose, "open dataset", p);
  Handle space = make(H5Dget_space(ds.id()), H5Sclose, "dataset space", p);
  hsize_t dims[2] = {0, 0};
  if (H5Sget_simple_extent_ndims(space.id()) != 2 || (H5Sget_simple_extent_dims(space.id(), dims, nullptr),
      dims[0] != static_cast<hsize_t>(a.rows()) || dims[1] != static_cast<hsize_t>(a.cols())))
    throw RuntimeError(fmt::format("HDF5: '{}' is not a {} x {} matrix", p, a.rows(), a.cols()));
  const int64_t lr = a.local_rows(), lc = a.local_cols();
  std::vector<double> buf(static_cast<size_t>(std::max<int64_t>(lr * lc, 1)));
  hsize_t mdims[2] = {static_cast<hsize_t>(std::max<int64_t>(lr, 1)), static_cast<hsize_t>(std::max<int64_t>(lc, 1))};
  Handle mem = make(H5Screate_simple(2, mdims, nullptr), H5Sclose, "dataspace", p);
  if (!select_owned_blocks(space.id(), a)) H5Sselect_none(mem.id());
  Handle xfer = transfer_plist(collective());
  check_status(H5Dread(ds.id(), H5T_NATIVE_DOUBLE, mem.id(), space.id(), xfer.id(), buf.data()), "read", p, comm_);
  for (int64_t li = 0; li < lr; ++li)
    for (int64_t lj = 0; lj < lc; ++lj) a.local(li, lj) = buf[static_cast<size_t>(li * lc + lj)];
}

}  // namespace neurep::h5
