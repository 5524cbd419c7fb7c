// Index maps, descriptors and one PBLAS product of DistMatrix, on every grid
// shape of the ranks the test runs on.
#include <catch2/catch.hpp>

#include <boost/mpi/collectives.hpp>

#include "neurep/detail/scalapack_imports.hpp"
#include "neurep/dist_matrix.hpp"
#include "neurep/errors.hpp"
#include "neurep/linalg.hpp"
#include "test_helpers.hpp"

using namespace neurep;

TEST_CASE("local_extent agrees with ScaLAPACK's numroc") {
  for (int n : {0, 1, 7, 128, 129, 1000, 4097})
    for (int nb : {1, 3, 64, 128})
      for (int np : {1, 2, 3, 4, 7})
        for (int ip = 0; ip < np; ++ip) {
          const int zero = 0;
          REQUIRE(local_extent(n, nb, ip, np) == numroc_(&n, &nb, &ip, &zero, &np));
        }
}

TEST_CASE("grid shapes are parsed and checked") {
  CHECK(parse_grid_shape("auto", 4).rows == 2);
  CHECK(parse_grid_shape("auto", 2).rows == 1);
  CHECK(parse_grid_shape("auto", 2).cols == 2);
  CHECK(parse_grid_shape("auto", 6).rows == 2);
  CHECK(parse_grid_shape("auto", 4, GridWork::Tall).rows == 4);
  CHECK(parse_grid_shape("auto", 4, GridWork::Tall).cols == 1);
  CHECK(parse_grid_shape("2x2", 4, GridWork::Tall).rows == 2);
  CHECK(parse_grid_shape("4x1", 4).rows == 4);
  CHECK_THROWS_AS(parse_grid_shape("3x2", 4), InputError);
  CHECK_THROWS_AS(parse_grid_shape("2by2", 4), InputError);
  CHECK_THROWS_AS(parse_grid_shape("2x", 4), InputError);
}

TEST_CASE("index maps are a bijection on every grid shape") {
  boost::mpi::communicator world;
  for (GridShape shape : test::all_shapes(world.size())) {
    ProcessGrid grid(world, shape);
    for (int mb : {1, 3, 8}) {
      const int64_t m = 29, n = 17;
      DistMatrix<double> a(grid, m, n, mb, mb + 1);
      // Local -> global -> local is the identity, and ownership agrees.
      bool maps_agree = true;
      for (int64_t li = 0; li < a.local_rows(); ++li) {
        const int64_t i = a.global_row(li);
        maps_agree = maps_agree && i < m && a.row_owner(i) == grid.row() && a.local_row(i) == li;
      }
      for (int64_t lj = 0; lj < a.local_cols(); ++lj) {
        const int64_t j = a.global_col(lj);
        maps_agree = maps_agree && j < n && a.col_owner(j) == grid.col() && a.local_col(j) == lj;
      }
      INFO("grid " << shape.rows << "x" << shape.cols << " block " << mb);
      REQUIRE(test::on_every_rank(world, maps_agree));
      // Every entry is owned by exactly one rank.
      int64_t owned = a.local_rows() * a.local_cols(), total = 0;
      boost::mpi::all_reduce(world, owned, total, std::plus<int64_t>());
      REQUIRE(total == m * n);
      const auto desc = a.descriptor();
      CHECK(desc[2] == m);
      CHECK(desc[3] == n);
      CHECK(desc[4] == mb);
      CHECK(desc[5] == mb + 1);
      CHECK(desc[8] == a.lld());
      CHECK(desc[8] >= 1);
    }
  }
}

TEST_CASE("descriptors refuse layouts ScaLAPACK cannot describe") {
  boost::mpi::communicator world;
  ProcessGrid grid(world, parse_grid_shape("auto", world.size()));
  CHECK_THROWS_AS(make_descriptor(grid, int64_t(3) << 31, 4, 128, 128, 1), RuntimeError);
}

TEST_CASE("pdgemm on every grid shape matches a serial dgemm") {
  boost::mpi::communicator world;
  const int m = 37, k = 23, n = 19;
  std::vector<double> a(m * k), b(k * n), c(m * n, 0.0);
  for (int j = 0; j < k; ++j)
    for (int i = 0; i < m; ++i) a[i + j * m] = test::entry(i, j);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < k; ++i) b[i + j * k] = test::entry(i, j, 0.5);
  const double one = 1, zero = 0;
  dgemm_("N", "N", &m, &n, &k, &one, a.data(), &m, b.data(), &k, &zero, c.data(), &m);
  for (GridShape shape : test::all_shapes(world.size())) {
    ProcessGrid grid(world, shape);
    DistMatrix<double> da(grid, m, k, 4, 4), db(grid, k, n, 4, 4), dc(grid, m, n, 4, 4);
    da.for_each_local([](int64_t i, int64_t j, double& v) { v = test::entry(i, j); });
    db.for_each_local([](int64_t i, int64_t j, double& v) { v = test::entry(i, j, 0.5); });
    linalg::gemm(linalg::Op::N, linalg::Op::N, 1.0, da, db, 0.0, dc);
    const auto all = linalg::gather_all(dc);
    double err = 0, scale = 0;
    for (size_t i = 0; i < c.size(); ++i) err = test::worst(err, std::abs(all[i] - c[i])), scale = test::worst(scale, std::abs(c[i]));
    INFO("grid " << shape.rows << "x" << shape.cols);
    CHECK(err <= 1e-13 * scale * k);
  }
}

TEST_CASE("A B^T and A^T B, the Taylor model's products, match serial ones on every grid shape") {
  // Pr x 1 grids take the gather / reduce-scatter path of linalg::gemm; the
  // sizes leave some ranks without rows, and beta != 0 checks the update.
  boost::mpi::communicator world;
  const int n = 29, q = 7, m = 5;  // U n x q, W m x q, Z n x m, G m x q
  auto u_of = [](int64_t i, int64_t j) { return test::entry(i, j); };
  auto w_of = [](int64_t i, int64_t j) { return test::entry(i, j, 0.7); };
  auto c_of = [](int64_t i, int64_t j) { return test::entry(i, j, 1.9); };
  std::vector<double> z(n * m), g(m * q);
  for (int i = 0; i < n; ++i)
    for (int r = 0; r < m; ++r) {
      double s = 0;
      for (int j = 0; j < q; ++j) s += u_of(i, j) * w_of(r, j);
      z[i + r * n] = 0.5 * s - 0.25 * c_of(i, r);  // alpha 0.5, beta -0.25
    }
  for (int r = 0; r < m; ++r)
    for (int j = 0; j < q; ++j) {
      double s = 0;
      for (int i = 0; i < n; ++i) s += z[i + r * n] * u_of(i, j);
      g[r + j * m] = 2.0 * s + 0.5 * c_of(r, j);  // alpha 2, beta 0.5
    }
  for (GridShape shape : test::all_shapes(world.size())) {
    for (int wb : {2, 3}) {
      ProcessGrid grid(world, shape);
      DistMatrix<double> du(grid, n, q, 3, 3), dw(grid, m, q, wb, 3), dz(grid, n, m, 3, wb), dg(grid, m, q, wb, 3);
      du.for_each_local([&](int64_t i, int64_t j, double& v) { v = u_of(i, j); });
      dw.for_each_local([&](int64_t i, int64_t j, double& v) { v = w_of(i, j); });
      dz.for_each_local([&](int64_t i, int64_t j, double& v) { v = c_of(i, j); });
      dg.for_each_local([&](int64_t i, int64_t j, double& v) { v = c_of(i, j); });
      linalg::gemm(linalg::Op::N, linalg::Op::T, 0.5, du, dw, -0.25, dz);
      linalg::gemm(linalg::Op::T, linalg::Op::N, 2.0, dz, du, 0.5, dg);
      DistMatrix<float> fu(grid, n, q, 3, 3), fw(grid, m, q, wb, 3), fz(grid, n, m, 3, wb);
      linalg::convert(du, fu);
      linalg::convert(dw, fw);
      linalg::gemm(linalg::Op::N, linalg::Op::T, 0.5f, fu, fw, 0.0f, fz);
      DistMatrix<double> dg0(grid, m, q, wb, 3);  // beta = 0: the reduce-scatter lands in C directly
      dg0.fill(std::nan(""));
      linalg::gemm(linalg::Op::T, linalg::Op::N, 2.0, dz, du, 0.0, dg0);
      const auto zz = linalg::gather_all(dz), gg = linalg::gather_all(dg), gg0 = linalg::gather_all(dg0);
      DistMatrix<double> fz64(grid, n, m, 3, wb);
      linalg::convert(fz, fz64);
      const auto zf = linalg::gather_all(fz64);
      double ez = 0, eg = 0, ef = 0;
      for (int i = 0; i < n; ++i)
        for (int r = 0; r < m; ++r) {
          ez = test::worst(ez, std::abs(zz[i + r * n] - z[i + r * n]));
          ef = test::worst(ef, std::abs(zf[i + r * n] - (z[i + r * n] + 0.25 * c_of(i, r))));
        }
      for (size_t i = 0; i < g.size(); ++i) {
        eg = test::worst(eg, std::abs(gg[i] - g[i]));
        const double d0 = std::abs(gg0[i] - (g[i] - 0.5 * c_of(static_cast<int64_t>(i) % m, static_cast<int64_t>(i) / m)));
        eg = test::worst(eg, std::isnan(d0) ? HUGE_VAL : d0);  // an entry left unwritten (NaN) fails
      }
      INFO("grid " << shape.rows << "x" << shape.cols << ", W's row block " << wb);
      CHECK(ez <= 1e-13);
      CHECK(eg <= 1e-12);
      CHECK(ef <= 1e-5);
    }
  }
}

TEST_CASE("copy_rows takes any row range, aligned (local copy) or not (pdgemr2d)") {
  boost::mpi::communicator world;
  for (GridShape shape : test::all_shapes(world.size())) {
    ProcessGrid grid(world, shape);
    const int64_t m = 37, n = 5;
    const int mb = 4;
    DistMatrix<double> a(grid, m, n, mb, 2);
    a.for_each_local([](int64_t i, int64_t j, double& x) { x = 100.0 * static_cast<double>(i) + static_cast<double>(j); });
    const int64_t unit = mb * grid.rows();
    for (auto [first, count] : {std::pair<int64_t, int64_t>{0, m}, {unit, m - unit}, {3, 20}, {m - 7, 7}, {11, 0}}) {
      DistMatrix<double> b = linalg::copy_rows(a, first, count);
      REQUIRE(test::on_every_rank(world, b.rows() == count && b.cols() == n));
      int64_t wrong = 0, all_wrong = 0;
      b.for_each_local([&](int64_t i, int64_t j, double& x) {
        if (x != 100.0 * static_cast<double>(first + i) + static_cast<double>(j)) ++wrong;
      });
      boost::mpi::all_reduce(world, wrong, all_wrong, std::plus<int64_t>());
      REQUIRE(all_wrong == 0);
    }
    CHECK_THROWS_AS(linalg::copy_rows(a, 30, 8), RuntimeError);
  }
}
