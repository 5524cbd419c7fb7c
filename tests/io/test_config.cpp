// The configuration schema: defaults, overrides, and each class of bad input.
#include <catch2/catch.hpp>

#include "neurep/config.hpp"
#include "neurep/errors.hpp"
#include "neurep/expression.hpp"

using namespace neurep;

namespace {
std::string error_of(const std::string& toml, std::vector<std::string> overrides = {}) {
  try {
    parse_config(toml, overrides);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("defaults are those of DESIGN 3.1") {
  const Config c = parse_config("", {});
  CHECK(c.data.dim == 16);
  CHECK(c.data.degrees == std::vector<int>{4});
  CHECK(c.data.n_test == 4000);
  CHECK(c.learner.kernel()->kernel == KernelKind::Ntk);
  CHECK(c.sweep.seeds == std::vector<int64_t>{0, 1, 2});
  CHECK(c.dims() == std::vector<int>{16});
  CHECK(c.run.seed == 2020);
  CHECK(c.resolved_toml.find("[representation]") != std::string::npos);
}

TEST_CASE("overrides take TOML values, bare words as strings") {
  const Config c = parse_config("[data]\ndim = 8\n", {"data.dim=12", "learner.ridge=[1e-3, 1e-2]",
                                                      "learner.kernel=nngp", "sweep.seeds=[4, 7]",
                                                      "representation.kind=random", "representation.width=4*d^2"});
  CHECK(c.data.dim == 12);
  CHECK(c.learner.kernel()->ridges == std::vector<double>{1e-3, 1e-2});
  CHECK(c.learner.kernel()->kernel == KernelKind::Nngp);
  CHECK(c.sweep.seeds == std::vector<int64_t>{4, 7});
  REQUIRE(c.representation.random());
  CHECK(c.representation.random()->width.text() == "4*d^2");
  CHECK(c.representation.random()->width.at(12) == 576);
  // A single number is accepted where a list of numbers is expected.
  CHECK(parse_config("[learner]\nridge = 0.5\n", {}).learner.kernel()->ridges == std::vector<double>{0.5});
}

TEST_CASE("each class of bad input is one message naming the key") {
  CHECK(error_of("[data]\ndimm = 3\n").find("did you mean 'data.dim'") != std::string::npos);
  CHECK(error_of("[dat]\ndim = 3\n").find("unknown section 'dat'") != std::string::npos);
  CHECK(error_of("[data]\ndim = \"ten\"\n").find("data.dim: expected an integer") != std::string::npos);
  CHECK(error_of("[data]\ndim = 0\n").find("data.dim: 0 is out of range") != std::string::npos);
  CHECK(error_of("[data]\ninput = \"cube\"\n").find("accepted: sphere, gaussian") != std::string::npos);
  CHECK(error_of("[data]\ndim = [\n").find("not valid TOML") != std::string::npos);
  CHECK(error_of("[data]\ndegrees = [2, 4]\n").find("data.coefficients") != std::string::npos);
  CHECK(error_of("[representation]\nkind = \"random\"\ninfinite = true\n").find("zca") != std::string::npos);
  CHECK(error_of("[representation]\nkind = \"random\"\nwidth = \"2*x\"\n").find("representation.width") != std::string::npos);
  CHECK(error_of("", {"data.dim"}).find("section.key=value") != std::string::npos);
  CHECK(error_of("[learner]\nkind = \"taylor\"\norder = 3\n").find("learner.order") != std::string::npos);
  CHECK(error_of("[learner]\nkind = \"taylor\"\ninit_scale = 0.0\n").find("init_scale") != std::string::npos);
  CHECK(error_of("[sweep]\nseeds = []\n").find("sweep.seeds") != std::string::npos);
  CHECK(error_of("[data]\ndegrees = [1, 1, 1]\ncoefficients = [1, 1, 1]\n[sweep]\ndims = [2]\n").find("do not fit") != std::string::npos);
  // Every message is one line.
  CHECK(error_of("[data]\ndim = \"ten\"\n").find('\n') == std::string::npos);
}

TEST_CASE("the science part of a configuration ignores the grid and block") {
  const Config a = parse_config("", {"run.grid=\"2x1\"", "run.block=32"});
  const Config b = parse_config("", {});
  CHECK(a.science_toml == b.science_toml);
  CHECK(a.resolved_toml != b.resolved_toml);
  CHECK(parse_config("", {"run.seed=1"}).science_toml != b.science_toml);
}

TEST_CASE("size expressions of d") {
  CHECK(evaluate_expression("2*d^2", 8) == 128);
  CHECK(evaluate_expression("(d+1)*(d+2)/2", 8) == 45);
  CHECK(evaluate_expression("2^3^2", 0) == 512);  // right-associative
  CHECK(evaluate_expression("-d + 10", 4) == 6);
  CHECK(evaluate_size("d^1.5", 16, "x") == 64);
  CHECK_THROWS_AS(evaluate_expression("2*", 8), InputError);
  CHECK_THROWS_AS(evaluate_expression("(d", 8), InputError);
  CHECK_THROWS_AS(evaluate_size("d-20", 8, "representation.width"), InputError);
}

TEST_CASE("the configuration reference lists every key once") {
  const std::string ref = config_reference();
  for (const char* key : {"dim =", "ridge =", "order =", "n_train =", "checkpoint_every ="})
    CHECK(ref.find(key) != std::string::npos);
}

TEST_CASE("lists of learner settings are candidates chosen on a validation split") {
  const Config c = parse_config("[learner]\nkind = \"taylor\"\nm = [4, \"2*d\"]\nlearning_rate = [0.01, 0.1, 1.0]\n"
                                "validation_fraction = 0.25\n", {});
  const auto cands = learner_candidates(c.learner);
  REQUIRE(cands.size() == 6);
  CHECK(cands[0].taylor()->network.widths.at(0).text() == "4");
  CHECK(cands[0].taylor()->learning_rates == std::vector<double>{0.01});
  CHECK(cands[5].taylor()->network.widths.at(0).text() == "2*d");
  CHECK(cands[5].taylor()->learning_rates == std::vector<double>{1.0});
  for (const auto& l : cands) CHECK(learner_candidates(l).size() == 1);
  // A single value is one candidate, and kernels ignore the network's lists.
  CHECK(learner_candidates(parse_config("", {}).learner).size() == 1);
  CHECK(learner_candidates(parse_config("[learner]\nkernel = \"ntk\"\nridge = [0.1, 0.2]\n", {}).learner).size() == 1);
  // ... and a kernel learner takes no list of rates at all: the key does not apply.
  CHECK(error_of("[learner]\nlearning_rate = [0.1, 0.2]\n").rfind("learner.learning_rate: applies only with learner.kind = \"taylor\"", 0) == 0);
  // Choosing needs somewhere to choose on.
  CHECK(error_of("[learner]\nkind = \"taylor\"\nlearning_rate = [0.01, 0.1]\n").find("learner.validation_fraction") != std::string::npos);
  CHECK(error_of("[learner]\nkind = \"taylor\"\nm = []\nvalidation_fraction = 0.2\n").find("learner.m") != std::string::npos);
}

TEST_CASE("a key that does not apply to the chosen kind is an error naming it") {
  auto starts = [](const std::string& message, const std::string& key) { return message.rfind(key + ": applies only", 0) == 0; };
  CHECK(starts(error_of("[representation]\nwidth = 64\n"), "representation.width"));
  CHECK(starts(error_of("[representation]\nkind = \"none\"\nwhiten = \"none\"\n"), "representation.whiten"));
  CHECK(starts(error_of("[learner]\nkind = \"taylor\"\nkernel = \"ntk\"\n"), "learner.kernel"));
  CHECK(starts(error_of("[learner]\nkind = \"taylor\"\nridge = [1e-3]\n"), "learner.ridge"));
  CHECK(starts(error_of("[learner]\nkernel = \"ntk\"\nsteps = 10\n"), "learner.steps"));
  CHECK(starts(error_of("[learner]\nkernel = \"ntk\"\nm = 10\n"), "learner.m"));
  CHECK(starts(error_of("[learner]\nkernel = \"ntk\"\nvalidation_fraction = 0.2\n"), "learner.validation_fraction"));
  // From --set (a campaign passes the same ones to all its configurations) it is a note, and the key keeps its default.
  const Config noted = parse_config("", {"learner.kind=taylor", "learner.solver=eigen"});
  REQUIRE(noted.notes.size() == 1);
  CHECK(noted.notes[0].rfind("--set learner.solver: applies only with learner.kind = \"kernel\"; ignored", 0) == 0);
  CHECK(noted.science_toml == parse_config("", {"learner.kind=taylor"}).science_toml);
  CHECK(starts(error_of("[learner]\nsolver = \"eigen\"\n", {"learner.kind=taylor"}), "learner.solver"));
  // The keys of the chosen kinds are accepted, and so is a stored /config, which lists every key.
  CHECK(error_of("[representation]\nkind = \"random\"\nwidth = 64\n[learner]\nkernel = \"empirical-ntk\"\nm = 10\n").empty());
  CHECK(error_of("[learner]\nridge_selection = \"validation\"\nvalidation_fraction = 0.2\n").empty());
  const Config c = parse_config("[learner]\nkind = \"taylor\"\n", {});
  CHECK_NOTHROW(parse_config(c.resolved_toml, {}, "stored", /*stored=*/true));
  CHECK_THROWS_AS(parse_config(c.resolved_toml, {}), InputError);
}

TEST_CASE("the differences between two configurations name each key with its old and new value") {
  const Config a = parse_config("[learner]\nridge = [1e-3]\n", {});
  const Config b = parse_config("[learner]\nridge = [1e-2]\n[data]\nnoise = 0.5\n", {"run.block=16"});
  const auto diff = config_differences(a, b);
  REQUIRE(diff.size() == 2);  // run.block does not change the results
  CHECK(diff[0] == "data.noise: 0.0 -> 0.5");
  CHECK(diff[1] == "learner.ridge: [ 0.001 ] -> [ 0.01 ]");
  CHECK(config_differences(a, a).empty());
}

TEST_CASE("an extension adds values to the extent keys only; anything else is a conflict naming the key") {
  const Config a = parse_config("[data]\ndim = 6\nnoise = 0.1\n[sweep]\nn_train = [40, 80]\nseeds = 1\n", {});
  CHECK(extension_conflicts(a, a).empty());
  // More n (in another order), seeds given as a list, another d, another ridge; run keys are free.
  CHECK(extension_conflicts(a, parse_config("[data]\ndim = 6\nnoise = 0.1\n[sweep]\nn_train = [20, 80, 40]\n"
                                            "seeds = [0, 3]\ndims = [8, 6]\n[learner]\nridge = [1e-6, 1e-2]\n"
                                            "[run]\nblock = 16\ngrid = \"1x1\"\n", {}))
            .empty());
  // A science key, and a dropped value, each one item naming the key.
  const auto c = extension_conflicts(a, parse_config("[data]\ndim = 6\nnoise = 0.2\n[sweep]\nn_train = [80]\n", {}));
  REQUIRE(c.size() == 2);
  CHECK(c[0] == "data.noise: 0.1 -> 0.2");
  CHECK(c[1] == "sweep.n_train: [ 40, 80 ] -> [ 80 ] (drops 40; an extension keeps every earlier value)");
  // data.dim is the sweep's d without sweep.dims: another d drops 6; with dims containing 6 it is free.
  CHECK(extension_conflicts(a, parse_config("[data]\ndim = 7\nnoise = 0.1\n[sweep]\nn_train = [40, 80]\nseeds = 1\n", {})) ==
        std::vector<std::string>{"data.dim: [ 6 ] -> [ 7 ] (drops 6; an extension keeps every earlier value)"});
  CHECK(extension_conflicts(a, parse_config("[data]\ndim = 9\nnoise = 0.1\n[sweep]\ndims = [6, 9]\nn_train = [40, 80]\n"
                                            "seeds = 1\n", {}))
            .empty());
  // Taylor candidate lists: a scalar is a list of one; removing one is a conflict.
  const Config t = parse_config("[learner]\nkind = \"taylor\"\nm = 8\nlearning_rate = 0.1\nvalidation_fraction = 0.2\n", {});
  CHECK(extension_conflicts(t, parse_config("[learner]\nkind = \"taylor\"\nm = [\"2*d\", 8]\nlearning_rate = [0.05, 0.1]\n"
                                            "validation_fraction = 0.2\n", {}))
            .empty());
  CHECK(extension_conflicts(t, parse_config("[learner]\nkind = \"taylor\"\nm = 8\nlearning_rate = 0.2\nvalidation_fraction = 0.2\n", {})) ==
        std::vector<std::string>{"learner.learning_rate: [ 0.1 ] -> [ 0.2 ] (drops 0.1; an extension keeps every earlier value)"});
  CHECK(is_extent_key("sweep.seeds"));
  CHECK_FALSE(is_extent_key("learner.steps"));
}

TEST_CASE("every choice is one enum table: names round-trip, unknown names list the accepted ones") {
  for (auto s : {KernelSolver::Auto, KernelSolver::Cholesky, KernelSolver::Eigen, KernelSolver::Mixed, KernelSolver::Pcg})
    CHECK(parse_enum<KernelSolver>("learner.solver", name_of(s)) == s);
  CHECK(names_of<RidgeSelection>() == std::vector<std::string>{"none", "loo", "validation"});
  CHECK(error_of("[learner]\nsolver = \"lu\"\n") == "learner.solver: unknown value \"lu\"; accepted: auto, cholesky, eigen, mixed, pcg");
  CHECK(parse_config("", {"run.grid=\"2x3\""}).run.grid.rows == 2);
  CHECK(error_of("", {"run.grid=\"2by3\""}).rfind("run.grid:", 0) == 0);
}

TEST_CASE("one name per quantity: learner.m (was learner.width) and the regulariser outside the ridge column") {
  // The earlier name keeps working (configurations and stored /config), once.
  CHECK(parse_config("[learner]\nkind = \"taylor\"\nwidth = 64\n", {}).learner.taylor()->network.widths.at(0).at(8) == 64);
  CHECK(error_of("[learner]\nkind = \"taylor\"\nwidth = 64\nm = 32\n").rfind("learner.m: given together with 'learner.width'", 0) == 0);
  const Config stored = parse_config("[learner]\nkind = \"taylor\"\nwidth = \"2*d\"\n", {}, "old /config", /*stored=*/true);
  CHECK(stored.learner.taylor()->network.widths.at(0).text() == "2*d");
  CHECK(stored.science_toml == parse_config("[learner]\nkind = \"taylor\"\nm = \"2*d\"\n", {}).science_toml);
  CHECK(config_reference().find("\nm = 512") != std::string::npos);
}

TEST_CASE("the iterative solvers' keys: typed, scoped to their solvers, validated") {
  const Config c = parse_config("[learner]\nsolver = \"pcg\"\ntolerance = 1e-8\nmax_iterations = 77\npreconditioner_rank = 12\n"
                                "[sweep]\nn_train = [64]\n", {});
  REQUIRE(c.learner.kernel());
  CHECK(c.learner.kernel()->solver == KernelSolver::Pcg);
  CHECK(c.learner.kernel()->iterative.tolerance == 1e-8);
  CHECK(c.learner.kernel()->iterative.max_iterations == 77);
  CHECK(c.learner.kernel()->iterative.preconditioner_rank == 12);
  const Config d = parse_config("[learner]\nsolver = \"mixed\"\n", {});
  CHECK(d.learner.kernel()->iterative.tolerance == 1e-10);  // the schema's defaults
  CHECK(d.learner.kernel()->iterative.max_iterations == 1000);
  auto starts = [](const std::string& message, const std::string& prefix) { return message.rfind(prefix, 0) == 0; };
  // Scope: only with the solvers that use them.
  CHECK(starts(error_of("[learner]\ntolerance = 1e-8\n"), "learner.tolerance: applies only with learner.solver = \"mixed\" or \"pcg\""));
  CHECK(starts(error_of("[learner]\nsolver = \"mixed\"\npreconditioner_rank = 4\n"),
               "learner.preconditioner_rank: applies only with learner.solver = \"pcg\""));
  // Rules.
  CHECK(starts(error_of("[learner]\nsolver = \"mixed\"\ntolerance = 0.0\n"), "learner.tolerance: 0 must be above 0"));
  CHECK(starts(error_of("[learner]\nsolver = \"pcg\"\npreconditioner_rank = 65\n[sweep]\nn_train = [32, 64]\n"),
               "learner.preconditioner_rank: 65 exceeds n = 32"));
  CHECK(starts(error_of("[learner]\nsolver = \"pcg\"\npreconditioner_rank = 30\nridge_selection = \"validation\"\n"
                        "validation_fraction = 0.25\n[sweep]\nn_train = [32]\n"),
               "learner.preconditioner_rank: 30 exceeds n = 24"));
  CHECK(starts(error_of("[learner]\nsolver = \"mixed\"\n[run]\nprecision = \"single\"\n"), "learner.solver: \"mixed\""));
  CHECK(starts(error_of("[learner]\nsolver = \"pcg\"\npreconditioner_rank = 8\nridge_selection = \"loo\"\n"),
               "learner.ridge_selection: leave-one-out"));
  CHECK(starts(error_of("[learner]\nsolver = \"pcg\"\npreconditioner_rank = 8\nkernel = \"empirical-ntk\"\n"),
               "learner.solver: \"pcg\" is not available"));
}
