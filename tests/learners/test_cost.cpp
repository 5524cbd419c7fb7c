// The learners' cost and memory models (cost.hpp; neurep plan, the ETA): their
// structure, not their speed (plan's time against a measured run is
// bench/plan_accuracy.py). Pure: no MPI collectives, no timing.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "neurep/config.hpp"
#include "neurep/cost.hpp"
#include "neurep/kernel_solver.hpp"
#include "neurep/kernel_solver_pcg.hpp"
#include "neurep/learner.hpp"
#include "neurep/sweep.hpp"

using namespace neurep;

namespace {

const Rates kRates;  // nominal

double seconds(const std::string& toml, std::vector<std::string> sets, int d, int64_t n, int64_t n_test = 1000) {
  return kRates.seconds(make_learner(parse_config(toml, sets))->cost(d, n, n_test));
}

const char* kTaylor = "[learner]\nkind = \"taylor\"\nm = 256\nsteps = 400\neval_every = 50\n";

}  // namespace

TEST_CASE("Rates::seconds: every kind of work at its own rate; the shared work divides over the ranks") {
  const Rates r{1e9, 1e8, 1e7, 1e-3, 1e-2, 0.5, 1e6, 1e5};
  CHECK(r.seconds(Cost{1e9, 0, 0, 0, 0, 0}) == Approx(1.0));
  CHECK(r.seconds(Cost{0, 1e8, 0, 0, 0, 0}) == Approx(1.0));
  CHECK(r.seconds(Cost{0, 0, 1e7, 0, 0, 0}) == Approx(1.0));
  CHECK(r.seconds(Cost{0, 0, 0, 1000, 0, 0}) == Approx(1.0));
  CHECK(r.seconds(Cost{0, 0, 0, 0, 100, 0}) == Approx(1.0));
  CHECK(r.seconds(Cost{0, 0, 0, 0, 0, 2}) == Approx(1.0));
  CHECK(r.seconds(Cost{0, 0, 0, 0, 0, 0, 1e6, 0}) == Approx(1.0));
  CHECK(r.seconds(Cost{0, 0, 0, 0, 0, 0, 0, 1e5}) == Approx(1.0));
  // Four ranks share flops, elements, entries, products and cached elements, not the fixed overheads.
  CHECK(r.seconds(Cost{4e9, 4e8, 4e7, 1000, 100, 2, 4e6, 4e5}, 4) == Approx(8.0));
  const Cost sum = Cost{1, 2, 3, 4, 5, 6, 7, 8} + 2.0 * Cost{1, 1, 1, 1, 1, 1, 1, 1};
  CHECK((sum.flops == 3 && sum.elements == 4 && sum.entries == 5 && sum.calls == 6 && sum.handovers == 7 &&
         sum.commits == 8 && sum.products == 9 && sum.cached == 10));
}

TEST_CASE("Taylor cost: grows with the steps, the evaluations and the element-wise work, not only the flops") {
  const double base = seconds(kTaylor, {}, 10, 2048);
  CHECK(seconds(kTaylor, {"learner.steps=800"}, 10, 2048) > 1.8 * base);
  CHECK(seconds(kTaylor, {"learner.eval_every=2"}, 10, 2048) > 1.2 * base);  // 201 evaluations, not 9
  // The full network evaluates the activation per element; tanh costs more than a quadratic.
  const double full_quad = seconds(kTaylor, {"learner.order=\"full\""}, 10, 2048);
  CHECK(full_quad > base);
  CHECK(seconds(kTaylor, {"learner.order=\"full\"", "learner.activation=\"tanh\""}, 10, 2048) > full_quad);
  // A step's element-wise work: at q = d = 10 the passes over Z cost more than the flops do.
  const Cost c = make_learner(parse_config(kTaylor, {}))->cost(10, 2048, 1000);
  CHECK(c.elements / kRates.elements_per_second + c.cached / kRates.cached_elements_per_second >
        c.flops / kRates.flops_per_second);
  // At least four passes over Z per step; Z (2048 x 256, 4 MiB) is in the caches.
  CHECK(c.cached > 400.0 * 2048 * 256 * 4.0);
  CHECK(c.elements < 1e-2 * c.cached);
  // Z of 65536 x 256 (128 MiB) is not: the same passes at the rate beyond the caches.
  const Cost big = make_learner(parse_config(kTaylor, {}))->cost(10, 65536, 1000);
  CHECK(big.elements > 400.0 * 65536 * 256 * 4.0);
  CHECK(big.cached < 1e-2 * big.elements);
  // Between 8 and 32 MiB, partly: Z of 8192 x 256 (16 MiB, with U 16.6 MiB) (32 - 16.6) / 24 = 0.64 of it.
  const Cost mid = make_learner(parse_config(kTaylor, {}))->cost(10, 8192, 1000);
  CHECK(mid.cached / (mid.cached + mid.elements) > 0.6);
  CHECK(mid.cached / (mid.cached + mid.elements) < 0.7);
  // So a point leaving the caches costs more than n alone says: 32x n, over 32x the time at the nominal rates.
  CHECK(kRates.seconds(big) > 40 * kRates.seconds(c));
  // n and m enter through n m: doubling either about doubles the time.
  CHECK(seconds(kTaylor, {}, 10, 4096) == Approx(2 * base).epsilon(0.2));
  CHECK(seconds(kTaylor, {"learner.m=512"}, 10, 2048) == Approx(2 * base).epsilon(0.2));
}

TEST_CASE("kernel cost: Cholesky n^3/3 per ridge; mixed below it; pcg proportional to iterations x n^2") {
  const std::string kernel = "[learner]\nkind = \"kernel\"\nridge = [1e-6]\n";
  const int64_t n = 16384;
  const Cost chol = make_learner(parse_config(kernel, {}))->cost(10, n, 1000);
  CHECK(chol.flops >= std::pow(static_cast<double>(n), 3) / 3.0);
  CHECK(make_learner(parse_config(kernel, {"learner.ridge=[1e-6, 1e-3]"}))->cost(10, n, 1000).flops >
        1.9 * std::pow(static_cast<double>(n), 3) / 3.0);
  const double t_chol = kRates.seconds(chol);
  const double t_mixed = seconds(kernel, {"learner.solver=\"mixed\""}, 10, n);
  CHECK(t_mixed < t_chol);
  CHECK(t_mixed > 0.3 * t_chol);  // the float factorisation is half, the refinement more
  // pcg: the preconditioner and the test predictions are fixed; each iteration
  // adds one product's kernel entries (products, at their measured rate), so
  // the increments are proportional.
  const std::string pcg = kernel + "solver = \"pcg\"\npreconditioner_rank = 256\n";
  const auto pcg_cost = [&](int64_t it, int64_t nn, const std::string& more = "") {
    return make_learner(parse_config(pcg + more, {"learner.max_iterations=" + std::to_string(it)}))->cost(10, nn, 1000);
  };
  const double e10 = pcg_cost(10, n).products, e20 = pcg_cost(20, n).products, e40 = pcg_cost(40, n).products;
  CHECK(e40 - e20 == Approx(2 * (e20 - e10)));
  // At n = 16384 a product is 16 blocks of 1024 rows, each up to its last column: n^2 (1 + 1/16) / 2.
  CHECK(e20 - e10 == Approx(10 * 0.53125 * n * n));
  CHECK(KernelOperator::product_entries(n, 1024) == Approx(0.53125 * n * n));
  // n = 2048: two blocks of 1024 rows, 3/4 of n^2 (the old model's 0.53 missed it by 1.4x).
  CHECK(pcg_cost(20, 2048).products - pcg_cost(10, 2048).products == Approx(10 * 0.75 * 2048.0 * 2048.0));
  // The kernel map and the memory passes of a product are in its rate, not counted again as map entries or elements.
  CHECK(pcg_cost(20, n).entries == Approx(pcg_cost(10, n).entries));
  CHECK(pcg_cost(20, n).elements - pcg_cost(10, n).elements < 1e-2 * (e20 - e10));
  // Its flops: the product of the inputs (2q, q = d = 10) and two accumulations per ridge (4 L) per entry.
  CHECK(pcg_cost(20, n).flops - pcg_cost(10, n).flops == Approx((e20 - e10) * (2.0 * 10 + 4.0)).epsilon(0.01));
  // At the nominal rates a product's entry costs more than its flops do: memory-bound, not flop-bound.
  CHECK((e20 - e10) / kRates.products_per_second >
        5 * (pcg_cost(20, n).flops - pcg_cost(10, n).flops) / kRates.flops_per_second);
  // n^2 per iteration: twice n, about four times the iterations' entries (32 blocks of 1024 rows: the budget).
  CHECK(pcg_cost(20, 2 * n).products - pcg_cost(10, 2 * n).products ==
        Approx(10 * KernelOperator::product_entries(2 * n, 1024)));
  CHECK(pcg_cost(20, 2 * n).products - pcg_cost(10, 2 * n).products == Approx(4 * (e20 - e10)).epsilon(0.05));
  // Without max_iterations below it, the documented guess per decade of the tolerance by the
  // preconditioner's rank: 4 per decade at rank 256, 40 at the default 1e-10, 32 at 1e-8.
  const double product = KernelOperator::product_entries(n, 1024);
  const auto planned_iterations = [&](const std::string& more) {
    const Config c = parse_config(kernel + "solver = \"pcg\"\n" + more + "[sweep]\nn_train = [16384]\n", {});
    return make_learner(c)->cost(10, n, 1000).products / product;
  };
  CHECK(planned_iterations("preconditioner_rank = 256\n") == Approx(40));
  CHECK(planned_iterations("preconditioner_rank = 256\ntolerance = 1e-8\n") == Approx(32));
  CHECK(planned_iterations("preconditioner_rank = 256\nmax_iterations = 25\n") == Approx(25));
  CHECK(planned_iterations("preconditioner_rank = 1024\n") == Approx(30));
  CHECK(planned_iterations("preconditioner_rank = 1024\ntolerance = 1e-8\n") == Approx(24));
  CHECK(planned_iterations("preconditioner_rank = 64\n") == Approx(100));
  CHECK(planned_iterations("preconditioner_rank = 0\n") == Approx(140));
  CHECK(planned_iterations("preconditioner_rank = 0\ntolerance = 0.5\n") == Approx(14));  // at least a decade
  // At n = 16384, ~40 iterations cost more than the Cholesky (bench/RESULTS.md: pcg is for n where K does not fit).
  CHECK(kRates.seconds(pcg_cost(1000, n)) > t_chol);
}

TEST_CASE("kernel cost of small points: the test predictions and fixed overheads, not 64 flops an entry") {
  const std::string kernel = "[learner]\nkind = \"kernel\"\n";
  const double t256 = seconds(kernel, {}, 12, 256, 2000), t8192 = seconds(kernel, {}, 12, 8192, 2000);
  // Measured on 2 cores: n = 256 takes ~1/70 of n = 8192 (0.14 s of 10.4 s); the old model said 1/1800.
  CHECK(t8192 / t256 < 300);
  CHECK(t8192 / t256 > 10);
}

TEST_CASE("pcg memory: one block of kernel rows per rank, at most n rows: small at n = 120") {
  const auto pcg = make_learner(
      parse_config("[learner]\nkind = \"kernel\"\nsolver = \"pcg\"\npreconditioner_rank = 16\n", {}));
  const double words = pcg->rank_words(6, 120, 500);
  CHECK(words * 8 < 1 << 20);                        // well under a MiB (it said ~0.5 GiB)
  CHECK(words >= 120.0 * 120.0);                     // the block of all of K's rows (F: memory_words)
  // At large n the block is capped by its budget (once, not twice).
  const double big = pcg->rank_words(6, 1 << 20, 500);
  CHECK(big < static_cast<double>(kMatrixFreeBlockWords) + 8.0 * (1 << 20) + 1);
  CHECK(big >= static_cast<double>(kMatrixFreeBlockWords));
  // plan's estimate at n = 120 on 1 rank: a few MiB, not half a GiB.
  const Config c = parse_config(
      "[data]\nn_test = 500\n[learner]\nkind = \"kernel\"\nsolver = \"pcg\"\npreconditioner_rank = 16\n[sweep]\nn_train = [120]\n",
      {});
  const Learners learners = make_learners(c);
  CHECK(estimate_resources(c, learners, 1).bytes_per_rank < 16.0 * (1 << 20));
}

TEST_CASE("pcg's rows per block: whole units, at most 16 blocks of >= 1024 rows, within the budget") {
  CHECK(KernelOperator::default_rows_per_block(120, 64, 1, 1) == 128);
  CHECK(KernelOperator::default_rows_per_block(65536, 128, 1, 1) == 512);  // the budget: 2^25 words / n
  CHECK(KernelOperator::default_rows_per_block(16384, 128, 1, 1) == 1024);  // 16 blocks
  CHECK(KernelOperator::default_rows_per_block(1 << 22, 128, 1, 1) == 128);  // the budget allows 8 rows: one unit
}
