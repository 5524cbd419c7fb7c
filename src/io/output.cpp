#include "neurep/output.hpp"

#include <boost/mpi/collectives.hpp>
#include <boost/serialization/map.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/vector.hpp>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <fmt/core.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <chrono>
#include <cmath>
#include <fstream>
#include <thread>
#include <utility>
#include <cstdio>
#include <filesystem>
#include <set>
#include <type_traits>
#include <variant>
#include <sstream>
#include <toml++/toml.h>

#include "neurep/agreement.hpp"
#include "neurep/errors.hpp"
#include "neurep/hdf5.hpp"
#include "neurep/linalg.hpp"

namespace neurep {
namespace fs = std::filesystem;
namespace {


const ResultRow kEmptyRow{};  // for the list of columns

// The fixed columns of a table of rows (Row::for_each_column's list, in its order).
using Column = std::variant<std::vector<int64_t>, std::vector<double>, std::vector<std::string>>;
template <typename Row>
std::vector<std::pair<std::string, Column>> fixed_columns(const std::vector<Row>& rows) {
  std::vector<std::pair<std::string, Column>> columns;
  static const Row empty{};
  Row::for_each_column(empty, [&](const char* name, const auto& v) {
    columns.emplace_back(name, std::vector<std::decay_t<decltype(v)>>{});
  });
  for (const auto& r : rows) {
    size_t k = 0;
    Row::for_each_column(r, [&](const char*, const auto& v) {
      std::get<std::vector<std::decay_t<decltype(v)>>>(columns[k++].second).push_back(v);
    });
  }
  return columns;
}

// Writes `bytes` to a new file `path` and fsyncs it; 0 or the errno.
int write_file(const std::string& path, const std::vector<char>& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const int err = w < 0 ? errno : EIO;
      ::close(fd);
      return err;
    }
    done += static_cast<size_t>(w);
  }
  const int err = ::fsync(fd) == 0 || errno == EINVAL || errno == EROFS ? 0 : errno;
  if (::close(fd) != 0 && err == 0) return errno;
  return err;
}

// fsync, and the error that matters (EIO, ENOSPC, EDQUOT: the data did not
// reach the disk); 0 also where fsync is not supported (EINVAL, EROFS).
int fsync_path(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return 0;
  const int rc = ::fsync(fd), err = rc == 0 ? 0 : errno;
  ::close(fd);
  return err == EINVAL || err == EROFS ? 0 : err;
}

// /config attributes: every key as "section.key".
void write_config_attributes(const h5::Group& g, const std::string& toml_text) {
  toml::table t = toml::parse(toml_text);
  for (const auto& [sname, snode] : t) {
    if (!snode.is_table()) continue;
    for (const auto& [kname, node] : *snode.as_table()) {
      const std::string key = std::string(sname.str()) + "." + std::string(kname.str());
      if (auto i = node.as_integer()) g.set_attribute(key, i->get());
      else if (auto f = node.as_floating_point()) g.set_attribute(key, f->get());
      else if (auto b = node.as_boolean()) g.set_attribute(key, int64_t(b->get() ? 1 : 0));
      else if (auto s = node.as_string()) g.set_attribute(key, s->get());
      else if (auto a = node.as_array()) {
        if (!a->empty() && a->is_homogeneous(toml::node_type::integer)) {
          std::vector<int64_t> v;
          for (const auto& e : *a) v.push_back(e.value<int64_t>().value());
          g.set_attribute(key, v);
        } else {
          std::vector<double> v;
          for (const auto& e : *a) v.push_back(e.value<double>().value_or(std::nan("")));
          g.set_attribute(key, v);
        }
      }
    }
  }
}

std::string attribute_text(const h5::AttributeValue& v) {
  if (auto s = std::get_if<std::string>(&v)) return *s;
  if (auto d = std::get_if<double>(&v)) return fmt::format("{}", *d);
  if (auto i = std::get_if<int64_t>(&v)) return fmt::format("{}", *i);
  return "(array)";
}

}  // namespace

ResultsFile::ResultsFile(std::string path, const ProcessGrid& grid, const Config& config,
                         Provenance provenance, std::string normalization_note)
    : path_(std::move(path)), grid_(grid), config_(config), provenance_(std::move(provenance)),
      normalization_(std::move(normalization_note)) {}

void ResultsFile::restore(ResultsContents contents) {
  rows_ = std::move(contents.rows);
  curves_ = std::move(contents.curves);
}

void ResultsFile::add_curve(Curve curve) {
  for (auto& c : curves_)
    if (c.name == curve.name) {
      c = std::move(curve);
      return;
    }
  curves_.push_back(std::move(curve));
}

void ResultsFile::add_data_link(const std::string& name, const std::string& file) {
  data_links_[name] = file;
}

void ResultsFile::commit(const std::string& local_status) {
  const boost::mpi::communicator& comm = grid_.comm();
  // The file holds rank 0's table. Every rank keeps its own copy of the rows
  // and curves, equal by design; a rank-local difference must never decide
  // what the file holds, and every rank carries on with the table written.
  if (comm.size() > 1) {
    boost::mpi::broadcast(comm, rows_, 0);
    boost::mpi::broadcast(comm, curves_, 0);
    boost::mpi::broadcast(comm, data_links_, 0);
    boost::mpi::broadcast(comm, checkpoint_, 0);  // point, scalars, vectors; the matrices are distributed
  }
  const std::string status = from_rank0(comm, local_status);
  std::map<std::string, std::vector<double>> matrices;  // the checkpoint's, whole (collective)
  for (const auto& [name, m] : checkpoint_.matrices) matrices[name] = linalg::gather_all(*m);

  // Rank 0 builds the file in memory and writes its bytes with plain POSIX
  // calls: an I/O error (a full disk, a quota) is then one errno on one
  // process, never a failure inside a collective MPI-IO call that leaves the
  // other ranks waiting, and no MPI-IO state (shared file pointers, locks)
  // depends on the file's name.
  const std::string tmp = path_ + ".tmp";
  std::string error;
  if (grid_.rank() == 0) {
    try {
      std::vector<char> bytes;
      {
        h5::File file = h5::File::create_in_memory(tmp);
        write_contents(file, status, matrices);
        bytes = file.image();
      }
      if (const int err = write_file(tmp, bytes)) {
        ::unlink(tmp.c_str());  // whatever part of it was written
        error = fmt::format("cannot write {} (through {}): {}; the previous version of the file is unchanged", path_,
                            tmp, std::strerror(err));
      } else {
        const std::string prev = path_ + ".prev";
        std::error_code ec;
        if (fs::exists(path_)) {
          fs::remove(prev, ec);
          fs::create_hard_link(path_, prev, ec);  // keep the previous generation
        }
        if (std::rename(tmp.c_str(), path_.c_str()) != 0)
          error = fmt::format("cannot rename {} to {}: {}", tmp, path_, std::strerror(errno));
        else
          fsync_path(fs::absolute(path_).parent_path().string());
      }
    } catch (const std::exception& e) {
      ::unlink(tmp.c_str());
      error = fmt::format("cannot write {}: {}", path_, e.what());
    }
  }
  // Every rank waits for the outcome (after the rename) and shares it.
  error = from_rank0(comm, error);
  if (!error.empty()) throw CollectiveError(error);
}

void ResultsFile::write_contents(const h5::File& file, const std::string& status,
                                 const std::map<std::string, std::vector<double>>& matrices) const {
  {
    h5::Group root = file.root();
    const Provenance& p = provenance_;
    root.set_attribute("software", p.software);
    root.set_attribute("version", p.version);
    root.set_attribute("git_revision", p.git_revision);
    root.set_attribute("created", p.created);
    root.set_attribute("command_line", p.command_line);
    root.set_attribute("mpi_ranks", int64_t(p.mpi_ranks));
    root.set_attribute("threads_per_rank", int64_t(p.threads_per_rank));
    root.set_attribute("grid", p.grid);
    root.set_attribute("blas", p.blas);
    root.set_attribute("blas_core", p.blas_core);
    root.set_attribute("host", p.host);
    root.set_attribute("status", status);
    root.set_attribute("normalization", normalization_);
    if (!p.history.empty()) root.set_attribute("history", p.history);

    h5::Group cfg = root.create_group("config");
    cfg.write_text("toml", config_.resolved_toml);
    write_config_attributes(cfg, config_.resolved_toml);

    h5::Group res = root.create_group("results");
    const size_t m = rows_.size();
    // The fixed columns (ResultRow's list), then every extra key, NaN where a row has none.
    std::set<std::string> extra_keys;
    for (const auto& r : rows_)
      for (const auto& [key, v] : r.extra) extra_keys.insert(key);
    for (const auto& [name, column] : fixed_columns(rows_)) std::visit([&, &name = name](const auto& c) { res.write_column(name, c); }, column);
    for (const auto& k : extra_keys) {
      std::vector<double> col(m, std::nan(""));
      for (size_t i = 0; i < m; ++i)
        if (auto it = rows_[i].extra.find(k); it != rows_[i].extra.end()) col[i] = it->second;
      res.write_column(k, col);
    }

    if (!complexity_.empty()) {
      h5::Group cx = root.create_group("complexity");
      for (const auto& [name, column] : fixed_columns(complexity_))
        std::visit([&, &name = name](const auto& c) { cx.write_column(name, c); }, column);
    }
    if (!curves_.empty()) {
      h5::Group curves = root.create_group("curves");
      for (const auto& c : curves_) {
        h5::Group g = curves.create_group(c.name);
        g.set_attribute("d", c.d);
        g.set_attribute("n", c.n);
        g.set_attribute("seed", c.seed);
        g.set_attribute("learner", c.learner);
        g.set_attribute("input", c.input);
        TrainingCurve::for_each_column(c, [&](const char* name, const std::vector<double>& v) { g.write_array(name, v); });
      }
    }
    if (!checkpoint_.point.empty()) {
      h5::Group ck = root.create_group("checkpoint");
      ck.set_attribute("point", checkpoint_.point);
      for (const auto& [name, v] : checkpoint_.scalars) ck.set_attribute(name, v);
      for (const auto& [name, v] : checkpoint_.vectors) ck.write_column(name, v);
      for (const auto& [name, m] : checkpoint_.matrices) ck.write_matrix(name, m->rows(), m->cols(), matrices.at(name));
    }
    if (!data_links_.empty()) {
      h5::Group data = root.create_group("data");
      for (const auto& [name, file] : data_links_) data.external_link(name, file, "/");
    }
  }
}

OutputLock::OutputLock(const std::string& output, const boost::mpi::communicator& comm, double wait_seconds)
    : path_(output + ".lock") {
  std::string error;
  if (comm.rank() == 0) {
    using clock = std::chrono::steady_clock;
    const auto deadline = clock::now() + std::chrono::duration<double>(wait_seconds);
    bool told = false;
    while (true) {
      const int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0) break;  // cannot even create it: the commit will report the folder
      if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
        // Ours only if FILE.lock is still this file: a holder removes it
        // before releasing, and whoever waited on the old one starts over.
        struct stat held {}, now {};
        if (::fstat(fd, &held) == 0 && ::stat(path_.c_str(), &now) == 0 && held.st_ino == now.st_ino &&
            held.st_dev == now.st_dev) {
          char host[256] = {};
          ::gethostname(host, sizeof host - 1);
          const std::string who = fmt::format("pid {} on {}\n", ::getpid(), host);
          if (::ftruncate(fd, 0) == 0) {  // the holder's name, for the message of a run that waits in vain
            [[maybe_unused]] const ssize_t written = ::write(fd, who.data(), who.size());
          }
          fd_ = fd;
          break;
        }
        ::close(fd);
        continue;
      }
      const int err = errno;
      ::close(fd);
      if (err != EWOULDBLOCK) break;  // no flock here (ENOSYS, ENOLCK, EOPNOTSUPP): run unlocked
      if (clock::now() >= deadline) {
        std::string holder;
        std::getline(std::ifstream(path_), holder);
        error = fmt::format("{}: another neurep run ({}) is writing this output; wait for it to end or stop it, "
                            "then run again", output, holder.empty() ? "unknown process" : holder);
        break;
      }
      if (!told) {
        fmt::print(stderr, "neurep: {} is being written by another run; waiting up to {:.0f} s for it to end\n",
                   output, wait_seconds);
        told = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  boost::mpi::broadcast(comm, error, 0);
  if (!error.empty()) throw InputError(error);
}

OutputLock::~OutputLock() {
  if (fd_ < 0) return;
  ::unlink(path_.c_str());
  ::close(fd_);
}

ResultsContents read_results_serial(const std::string& path) {
  if (!fs::exists(path)) throw InputError(fmt::format("{}: no such file", path));
  if (!h5::File::is_hdf5(path)) throw InputError(fmt::format("{}: not an HDF5 file, so not a neurep results file", path));
  ResultsContents out;
  h5::File file = h5::File::open_serial(path);
  h5::Group root = file.root();
  auto software = root.attribute("software");
  if (!software || attribute_text(*software) != "neurep" || !root.exists("results") || !root.exists("config"))
    throw InputError(fmt::format("{}: an HDF5 file, but not a neurep results file (no software = \"neurep\", /config and /results)", path));
  for (const auto& name : root.attribute_names())
    if (auto v = root.attribute(name)) out.attributes[name] = attribute_text(*v);
  out.status = out.attributes["status"];
  out.config_toml = root.open_group("config").read_text("toml");

  h5::Group res = root.open_group("results");
  std::map<std::string, std::vector<double>> num;
  std::map<std::string, std::vector<std::string>> text;
  for (const auto& name : res.children()) {
    std::vector<double> v;
    std::vector<std::string> s;
    res.read_column(name, v, s);
    if (!s.empty()) text[name] = std::move(s);
    else num[name] = std::move(v);
  }
  size_t m = num.count("d") ? num["d"].size() : 0;
  std::set<std::string> fixed;
  ResultRow::for_each_column(kEmptyRow, [&](const char* c, const auto& v) {
    fixed.insert(c);
    if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::string>) text[c].resize(m);
    else num[c].resize(m, std::nan(""));
  });
  out.rows.resize(m);
  for (size_t i = 0; i < m; ++i) {
    auto& r = out.rows[i];
    ResultRow::for_each_column(r, [&](const char* c, auto& v) {
      using T = std::decay_t<decltype(v)>;
      if constexpr (std::is_same_v<T, std::string>) v = text[c][i];
      else if constexpr (std::is_same_v<T, int64_t>) v = std::llround(num[c][i]);
      else v = num[c][i];
    });
    for (const auto& [k, v] : num)
      if (!fixed.count(k) && i < v.size()) r.extra[k] = v[i];
    // Files of earlier versions kept a Taylor model's regulariser in the ridge column.
    if (!num.count("regularizer") && r.learner.rfind("taylor:", 0) == 0)
      r.extra["regularizer"] = r.ridge, r.ridge = std::nan("");
  }
  if (root.exists("curves")) {
    h5::Group curves = root.open_group("curves");
    for (const auto& name : curves.children()) {
      h5::Group g = curves.open_group(name);
      Curve c;
      c.name = name;
      auto geti = [&](const char* a) { auto v = g.attribute(a); return v ? std::get<int64_t>(*v) : int64_t(0); };
      auto gets = [&](const char* a) { auto v = g.attribute(a); return v ? attribute_text(*v) : std::string(); };
      c.d = geti("d"), c.n = geti("n"), c.seed = geti("seed");
      c.learner = gets("learner"), c.input = gets("input");
      std::vector<std::string> unused;
      g.read_column("step", c.step, unused);
      TrainingCurve::for_each_column(c, [&](const char* column, std::vector<double>& v) {
        if (g.exists(column)) g.read_column(column, v, unused);
        else v.assign(c.step.size(), std::nan(""));  // train_error, validation_error: absent in files of earlier versions
      });
      out.curves.push_back(std::move(c));
    }
  }
  if (root.exists("checkpoint")) {
    h5::Group ck = root.open_group("checkpoint");
    for (const auto& name : ck.attribute_names()) {
      const auto v = ck.attribute(name);
      if (name == "point") out.checkpoint.point = attribute_text(*v);
      else if (auto d = std::get_if<double>(&*v)) out.checkpoint.scalars[name] = *d;
    }
    for (const auto& name : ck.children()) {
      std::vector<double> numbers;
      std::vector<std::string> unused;
      if (ck.rank_of(name) == 1) {
        ck.read_column(name, numbers, unused);
        out.checkpoint.vectors[name] = std::move(numbers);
      }
    }
  }
  return out;
}

void read_checkpoint_matrix(const std::string& path, const std::string& name, DistMatrix<double>& a) {
  h5::File file = h5::File::open(path, a.grid().comm());
  file.root().open_group("checkpoint").read_matrix(name, a);
}

ResultsContents read_results(const std::string& path, const boost::mpi::communicator& comm) {
  ResultsContents contents;
  std::string error;
  if (comm.rank() == 0) {
    try {
      contents = read_results_serial(path);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  boost::mpi::broadcast(comm, error, 0);
  if (!error.empty()) throw InputError(error);
  boost::mpi::broadcast(comm, contents, 0);
  return contents;
}

}  // namespace neurep
