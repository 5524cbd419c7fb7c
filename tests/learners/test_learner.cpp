// The Learner interface and its registries: how "the smallest validation
// error" is chosen, what make_learner and make_ridge_solver return for every
// kind, the Taylor learner's typed checkpoint state (save, load) and a fit
// interrupted by PointCheckpoints and resumed from its checkpoint, which
// must equal the fit that ran through.
#include <catch2/catch.hpp>

#include <boost/mpi/communicator.hpp>
#include <cmath>
#include <limits>
#include <map>

#include "neurep/config.hpp"
#include "neurep/data.hpp"
#include "neurep/kernel_solver.hpp"
#include "neurep/learner.hpp"
#include "neurep/taylor_learner.hpp"
#include "test_helpers.hpp"

using namespace neurep;

namespace {

// Saves at step `stop_at` and interrupts, or resumes from `saved`.
class TestCheckpoints : public PointCheckpoints {
 public:
  int64_t stop_at = -1;
  Checkpoint saved;
  std::map<std::string, DistMatrix<double>> matrices;  // copies of the saved matrices
  bool resume = false;

  const Checkpoint* earlier() const override { return resume ? &saved : nullptr; }
  void load_matrix(const std::string& name, DistMatrix<double>& a) const override { a = matrices.at(name); }
  void after_step(int64_t step, const std::function<Checkpoint()>& save) override {
    if (step != stop_at) return;
    saved = save();
    for (const auto& [name, m] : saved.matrices) matrices.emplace(name, *m);
    throw Interrupted{};
  }
};

bool same(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

// The same columns with the same values (NaN equal to NaN).
bool same(const std::map<std::string, double>& a, const std::map<std::string, double>& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [key, value] : a)
    if (!b.count(key) || !same(value, b.at(key))) return false;
  return true;
}

}  // namespace

TEST_CASE("the smallest validation error is the smallest finite one; a NaN is never selected") {
  const double nan = std::nan(""), inf = std::numeric_limits<double>::infinity();
  CHECK(smallest_finite({nan, 0.3, 0.2, 0.2, inf}) == 2);
  CHECK(smallest_finite({0.5, nan}) == 0);
  CHECK(smallest_finite({nan, nan}) == -1);
  CHECK(smallest_finite({inf}) == -1);
  CHECK(smallest_finite({}) == -1);
}

TEST_CASE("the learner registry makes every learner.kind, and the solver registry every learner.solver") {
  const auto kernel = make_learner(parse_config("[learner]\nkernel = \"nngp\"\n", {}));
  CHECK(kernel->label() == "kernel:nngp");
  CHECK(kernel->grid_work() == GridWork::Square);
  CHECK_FALSE(kernel->selects_rows());
  const auto eigen = make_learner(parse_config("[learner]\nsolver = \"eigen\"\n", {}));
  CHECK(eigen->memory_words(8, 1000, 500) == Approx(4.0 * 1000 * 1000 + 500 * 1000));
  CHECK(kernel->memory_words(8, 1000, 500) == Approx(1000.0 * 1000 + 500 * 1000));
  // pcg: K never stored; its Nystrom factor F (n x r) is distributed by rows, so
  // it is in the words shared by the ranks, not in those every rank holds.
  const auto pcg = make_learner(parse_config("[learner]\nsolver = \"pcg\"\npreconditioner_rank = 64\n", {}));
  CHECK(pcg->memory_words(8, 1000, 500) == Approx(1000.0 * 64));
  const auto pcg0 = make_learner(parse_config("[learner]\nsolver = \"pcg\"\npreconditioner_rank = 0\n", {}));
  CHECK(pcg->rank_words(8, 1000, 500) == Approx(pcg0->rank_words(8, 1000, 500)));
  const auto taylor = make_learner(parse_config("[learner]\nkind = \"taylor\"\norder = \"full\"\nm = \"2*d\"\n", {}));
  CHECK(taylor->label() == "taylor:order=full");
  CHECK(taylor->grid_work() == GridWork::Tall);
  CHECK(taylor->memory_words(8, 100, 50) == Approx(2.0 * 150 * 16));
  CHECK(make_learner(parse_config("[learner]\nridge_selection = \"validation\"\nvalidation_fraction = 0.2\n", {}))->selects_rows());
  for (const std::string& name : names_of<KernelSolver>())
    for (bool loo : {false, true}) CHECK(make_ridge_solver(parse_enum<KernelSolver>("learner.solver", name), loo) != nullptr);
}

TEST_CASE("a Taylor fit interrupted at a checkpoint and resumed from it equals the fit that ran through") {
  boost::mpi::communicator world;
  ProcessGrid grid(world, parse_grid_shape("auto", world.size(), GridWork::Tall));
  const Config config = parse_config(
      "[data]\ndim = 5\ndegrees = [2]\n[learner]\nkind = \"taylor\"\nm = 12\nsteps = 60\neval_every = 10\n"
      "momentum = 0.5\nvalidation_fraction = 0.25\n[run]\nblock = 4\n", {});
  const int d = 5;
  const int64_t n = 40, nt = 30;
  const RandomStreams streams(2020, 1);
  const Dataset data(config.data, d, streams);
  DistMatrix<double> u(grid, n, d, 4, 4), ut(grid, nt, d, 4, 4);
  data.fill_inputs(Split::Train, u);
  data.fill_inputs(Split::Test, ut);
  const std::vector<double> y = data.labels(n), f = data.targets(Split::Test, nt);
  const PointInputs in{{u, y, ut, f, data.target_variance()}, d, streams, grid, nullptr};
  const auto learner = make_learner(config);

  TestCheckpoints through;
  const PointOutputs ref = learner->fit(in, through);
  REQUIRE(ref.rows.size() == 1);
  REQUIRE(ref.curve.step.size() == 7);

  TestCheckpoints ck;
  ck.stop_at = 25;
  CHECK_THROWS_AS(learner->fit(in, ck), Interrupted);
  REQUIRE(ck.saved.scalars.at("step") == 25);
  CHECK(ck.saved.vectors.at("curve_step").size() == 3);  // evaluations at 0, 10, 20
  CHECK(ck.matrices.count("w") == 1);
  CHECK(ck.matrices.count("velocity") == 1);
  ck.stop_at = -1;
  ck.resume = true;
  const PointOutputs resumed = learner->fit(in, ck);
  REQUIRE(resumed.rows.size() == 1);
  CHECK(same(resumed.rows[0].test_error, ref.rows[0].test_error));
  CHECK(same(resumed.rows[0].train_error, ref.rows[0].train_error));
  CHECK(resumed.rows[0].extra == ref.rows[0].extra);
  bool curves_equal = true;
  TrainingCurve::for_each_column(ref.curve, [&](const char* name, const std::vector<double>& a) {
    std::vector<double> b;
    TrainingCurve::for_each_column(resumed.curve, [&](const char* other, const std::vector<double>& v) {
      if (std::string(other) == name) b = v;
    });
    bool eq = a.size() == b.size();
    for (size_t i = 0; eq && i < a.size(); ++i) eq = same(a[i], b[i]);
    INFO(name);
    CHECK(eq);
    curves_equal = curves_equal && eq;
  });
  CHECK(curves_equal);
}

TEST_CASE("learner.refit: the chosen Taylor candidate trained on all n for its chosen steps; the offset checkpointed") {
  boost::mpi::communicator world;
  ProcessGrid grid(world, parse_grid_shape("auto", world.size(), GridWork::Tall));
  const std::string base =
      "[data]\ndim = 6\ndegrees = [2]\nnoise = 0.5\n[learner]\nkind = \"taylor\"\nm = 16\nsteps = 2000\n"
      "eval_every = 20\nmomentum = 0.5\nlearning_rate = 0.05\noutput_bias = true\n[run]\nblock = 4\n";
  const Config config =
      parse_config(base, {"learner.validation_fraction=0.25", "learner.patience=5", "learner.refit=true"});
  const int d = 6;
  const int64_t n = 40, nt = 30;
  const RandomStreams streams(2020, 1);
  const Dataset data(config.data, d, streams);
  DistMatrix<double> u(grid, n, d, 4, 4), ut(grid, nt, d, 4, 4);
  data.fill_inputs(Split::Train, u);
  data.fill_inputs(Split::Test, ut);
  const std::vector<double> y = data.labels(n), f = data.targets(Split::Test, nt);
  const PointInputs in{{u, y, ut, f, data.target_variance()}, d, streams, grid, nullptr};
  const auto learner = make_learner(config);
  CHECK(learner->selects_rows());  // the split chooses even without candidates
  CHECK(make_learner(parse_config("", {}))->refit(10) == nullptr);

  TestCheckpoints through;
  const FitResult chosen = learner->fit(in, through).rows.at(0);
  const int64_t best = std::llround(chosen.extra.at("best_step"));
  INFO("best step " << best);
  REQUIRE(best > 0);
  CHECK(best < 2000);  // the split stops before the last step, so the refit is shorter than a plain run
  const auto refit = learner->refit(best);
  REQUIRE(refit != nullptr);
  CHECK_FALSE(refit->selects_rows());
  TestCheckpoints none;
  const PointOutputs again = refit->fit(in, none);
  const FitResult& r = again.rows.at(0);
  CHECK(r.extra.at("steps_run") == best);
  CHECK(std::isnan(r.extra.at("validation_error")));  // trained on all n: no split
  CHECK(std::isfinite(r.extra.at("output_bias")));
  // The same as a run of those settings on all n that ends at that step (a constant schedule).
  TestCheckpoints plain_ck;
  const FitResult plain =
      make_learner(parse_config(base, {"learner.steps=" + std::to_string(best)}))->fit(in, plain_ck).rows.at(0);
  CHECK(same(r.test_error, plain.test_error));
  CHECK(same(r.train_error, plain.train_error));
  CHECK(same(r.extra.at("output_bias"), plain.extra.at("output_bias")));

  // The offset and its momentum are in the checkpoint: interrupted and resumed, the refit is the same.
  TestCheckpoints ck;
  ck.stop_at = best / 2;
  CHECK_THROWS_AS(refit->fit(in, ck), Interrupted);
  CHECK(ck.saved.scalars.count("bias") == 1);
  CHECK(ck.saved.scalars.count("bias_velocity") == 1);
  CHECK(ck.saved.scalars.at("bias") != 0.0);
  ck.stop_at = -1;
  ck.resume = true;
  const FitResult resumed = refit->fit(in, ck).rows.at(0);
  CHECK(same(resumed.test_error, r.test_error));
  CHECK(same(resumed.extra, r.extra));

  // A checkpoint of a version before the offset (no bias scalars) still loads, for a model without it.
  const auto no_bias = make_learner(parse_config(base, {"learner.output_bias=false", "learner.steps=100"}));
  TestCheckpoints ref_ck, old;
  const FitResult no_bias_ref = no_bias->fit(in, ref_ck).rows.at(0);
  old.stop_at = 30;
  CHECK_THROWS_AS(no_bias->fit(in, old), Interrupted);
  for (const char* key : {"bias", "bias_velocity", "best_bias"}) old.saved.scalars.erase(key);
  old.stop_at = -1;
  old.resume = true;
  const FitResult old_resumed = no_bias->fit(in, old).rows.at(0);
  CHECK(same(old_resumed.test_error, no_bias_ref.test_error));
  CHECK(same(old_resumed.extra, no_bias_ref.extra));
}
