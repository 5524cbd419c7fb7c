// The results file round-trips, is replaced atomically, and distributed
// matrices written on one grid read back on another.
#include <catch2/catch.hpp>

#include <boost/mpi/collectives.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <hdf5.h>
#include <unistd.h>

#include "neurep/errors.hpp"
#include "neurep/hdf5.hpp"
#include "neurep/output.hpp"
#include "test_helpers.hpp"

using namespace neurep;
namespace fs = std::filesystem;

namespace {
std::string scratch(const boost::mpi::communicator& world, const std::string& name) {
  std::string dir;
  if (world.rank() == 0) {
    dir = (fs::temp_directory_path() / fs::path("neurep-test-" + std::to_string(::getpid()))).string();
    fs::create_directories(dir);
  }
  boost::mpi::broadcast(world, dir, 0);
  return dir + "/" + name;
}
}  // namespace

TEST_CASE("results rows, curves and config round-trip through HDF5") {
  boost::mpi::communicator world;
  ProcessGrid grid(world, parse_grid_shape("auto", world.size()));
  const Config config = parse_config("[data]\ndim = 9\n", {});
  const std::string path = scratch(world, "roundtrip.h5");
  Provenance prov = collect_provenance();
  prov.mpi_ranks = world.size();
  ResultsFile file(path, grid, config, prov, "exact moments");
  ResultRow r;
  r.d = 9, r.n = 128, r.seed = 2, r.ridge = 1e-3, r.learner = "kernel:ntk", r.input = "x";
  r.test_error = 0.25, r.train_error = 0.125, r.seconds = 1.5, r.flops = 3e9, r.status = "jitter=1e-08";
  r.extra["jitter"] = 1e-8;
  file.add_row(r);
  r.n = 256, r.status = "ok", r.test_error = std::nan("");
  r.extra.clear();
  file.add_row(r);
  Curve c;
  c.name = "d9_n128_s2", c.d = 9, c.n = 128, c.seed = 2, c.learner = "taylor:order=2", c.input = "x";
  c.step = {0, 50}, c.train_loss = {1.0, 0.5}, c.test_error = {1.1, 0.6}, c.weight_norm = {0.1, 0.2};
  c.train_error = {0.9, 0.4}, c.validation_error = {1.2, std::nan("")};
  file.add_curve(c);
  file.commit("running");
  file.commit("complete");
  if (world.rank() == 0) CHECK(fs::exists(path + ".prev"));
  CHECK_FALSE(fs::exists(path + ".tmp"));

  const ResultsContents back = read_results(path, world);
  CHECK(back.status == "complete");
  CHECK(back.config_toml == config.resolved_toml);
  REQUIRE(test::on_every_rank(world, back.rows.size() == 2));
  CHECK(back.rows[0].d == 9);
  CHECK(back.rows[0].n == 128);
  CHECK(back.rows[0].seed == 2);
  CHECK(back.rows[0].ridge == 1e-3);
  CHECK(back.rows[0].learner == "kernel:ntk");
  CHECK(back.rows[0].status == "jitter=1e-08");
  CHECK(back.rows[0].test_error == 0.25);
  CHECK(back.rows[0].extra.at("jitter") == 1e-8);
  CHECK(std::isnan(back.rows[1].test_error));
  CHECK(std::isnan(back.rows[1].extra.at("jitter")));  // absent in a row: NaN
  REQUIRE(test::on_every_rank(world, back.curves.size() == 1));
  CHECK(back.curves[0].train_loss == c.train_loss);
  CHECK(back.curves[0].train_error == c.train_error);
  CHECK(back.curves[0].validation_error[0] == 1.2);
  CHECK(std::isnan(back.curves[0].validation_error[1]));
  CHECK(back.curves[0].learner == "taylor:order=2");
  CHECK(back.attributes.at("mpi_ranks") == std::to_string(world.size()));

  // The /results columns are chunked and extendible; a curve's small arrays
  // are contiguous (no chunk index: a sixth of the bytes in a Taylor sweep's file).
  int layouts[2] = {-1, -1};
  if (world.rank() == 0) {
    const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    const char* names[2] = {"/results/n", "/curves/d9_n128_s2/train_loss"};
    for (int i = 0; i < 2; ++i) {
      const hid_t ds = H5Dopen2(f, names[i], H5P_DEFAULT);
      const hid_t dcpl = H5Dget_create_plist(ds);
      layouts[i] = static_cast<int>(H5Pget_layout(dcpl));
      H5Pclose(dcpl);
      H5Dclose(ds);
    }
    H5Fclose(f);
  }
  boost::mpi::broadcast(world, layouts, 2, 0);
  CHECK(layouts[0] == static_cast<int>(H5D_CHUNKED));
  CHECK(layouts[1] == static_cast<int>(H5D_CONTIGUOUS));
}

TEST_CASE("a file of an earlier version, with a Taylor model's regulariser in the ridge column, reads as today's") {
  boost::mpi::communicator world;
  ProcessGrid grid(world, parse_grid_shape("auto", world.size()));
  const Config config = parse_config("[learner]\nkind = \"taylor\"\n", {});
  const std::string path = scratch(world, "old_taylor.h5");
  ResultsFile file(path, grid, config, collect_provenance(), "exact moments");
  ResultRow r;  // as the earlier versions wrote it: ridge = lambda, no regularizer column
  r.d = 5, r.n = 64, r.ridge = 0.01, r.learner = "taylor:order=2", r.input = "x", r.status = "ok";
  r.extra["m"] = 16;
  file.add_row(r);
  file.commit("complete");
  const ResultsContents back = read_results(path, world);
  REQUIRE(back.rows.size() == 1);
  CHECK(std::isnan(back.rows[0].ridge));
  CHECK(back.rows[0].extra.at("regularizer") == 0.01);
  CHECK(back.rows[0].extra.at("m") == 16);
}

TEST_CASE("files that are not neurep results are input errors") {
  boost::mpi::communicator world;
  const std::string text = scratch(world, "not-hdf5.h5");
  if (world.rank() == 0) std::ofstream(text) << "hello";
  world.barrier();
  CHECK_THROWS_AS(read_results(text, world), InputError);
  CHECK_THROWS_AS(read_results(text + ".missing", world), InputError);
  const std::string other = scratch(world, "other.h5");
  { h5::File::create(other, world).root().set_attribute("software", std::string("other")); }
  CHECK_THROWS_AS(read_results(other, world), InputError);
}

TEST_CASE("a matrix written on one grid reads back on every other grid") {
  boost::mpi::communicator world;
  const std::string path = scratch(world, "matrix.h5");
  const int64_t m = 45, n = 13;
  {
    ProcessGrid grid(world, parse_grid_shape("auto", world.size()));
    DistMatrix<double> a(grid, m, n, 8, 4);
    a.for_each_local([](int64_t i, int64_t j, double& v) { v = test::entry(i, j); });
    h5::File f = h5::File::create(path, world);
    f.root().write_matrix("a", a);
  }
  for (GridShape shape : test::all_shapes(world.size())) {
    ProcessGrid grid(world, shape);
    DistMatrix<double> b(grid, m, n, 5, 3);
    h5::File f = h5::File::open(path, world);
    f.root().read_matrix("a", b);
    int bad = 0;
    b.for_each_local([&](int64_t i, int64_t j, double& v) { bad += v != test::entry(i, j); });
    CHECK(bad == 0);
  }
}

TEST_CASE("the file holds rank 0's values even when the ranks' copies differ") {
  // A decision taken on one rank alone (jitter, a status) once gave the ranks
  // strings of different lengths: they created the column with different
  // types and the file was torn (or the run hung). Every rank here hands the
  // writer its own strings, lengths, attributes and rows; the file must be
  // rank 0's, whole and readable.
  boost::mpi::communicator world;
  const int me = world.rank();
  const std::string path = scratch(world, "disagree.h5");
  const std::vector<std::string> mine{"ok", std::string(static_cast<size_t>(3 + 7 * me), 'x')};
  std::vector<double> numbers(static_cast<size_t>(2 + me), 1.0 + me);
  {
    h5::File f = h5::File::create(path, world);
    {
      h5::Group g = f.root();
      g.write_column("status", mine);
      g.write_column("numbers", numbers);
      g.set_attribute("note", std::string(static_cast<size_t>(1 + 5 * me), 'a'));
      g.set_attribute("value", me == 0 ? h5::AttributeValue(2.5) : h5::AttributeValue(std::string("other")));
      g.write_text("text", "rank " + std::to_string(me) + std::string(static_cast<size_t>(me), '!'));
    }
    f.close();  // every object of the file closed first (the MPI-IO driver requires it)
  }
  bool same = true;
  if (me == 0) {
    h5::File f = h5::File::open_serial(path);
    h5::Group g = f.root();
    std::vector<double> nums;
    std::vector<std::string> strings;
    g.read_column("status", nums, strings);
    same = same && strings == mine;
    g.read_column("numbers", nums, strings);
    same = same && nums == std::vector<double>{1.0, 1.0};
    same = same && std::get<std::string>(*g.attribute("note")) == "a";
    same = same && std::get<double>(*g.attribute("value")) == 2.5;
    same = same && g.read_text("text") == "rank 0";
  }
  CHECK(test::on_every_rank(world, same));

  // The same through ResultsFile: rows that differ in status, count and extra columns.
  ProcessGrid grid(world, parse_grid_shape("auto", world.size()));
  const Config config = parse_config("[data]\ndim = 4\n", {});
  const std::string results = scratch(world, "disagree-results.h5");
  ResultsFile file(results, grid, config, collect_provenance(), "exact moments");
  ResultRow r;
  r.d = 4, r.n = 16, r.learner = "kernel:ntk", r.input = "x", r.test_error = 0.5;
  r.status = me == 0 ? "ok" : "jitter=1e-08";
  if (me > 0) r.extra["jitter"] = 1e-8;
  file.add_row(r);
  for (int i = 0; i < me; ++i) file.add_row(r);
  file.commit(me == 0 ? "complete" : "running");
  const ResultsContents back = read_results(results, world);
  CHECK(back.status == "complete");
  REQUIRE(test::on_every_rank(world, back.rows.size() == 1));
  CHECK(back.rows[0].status == "ok");
  CHECK(back.rows[0].extra.count("jitter") == 0);
  CHECK(file.rows().size() == 1);  // and every rank now holds rank 0's table
}
