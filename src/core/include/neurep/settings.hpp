// The typed settings: what the configuration means, as the modules receive
// it. Every choice a configuration key makes is an enum here with one table
// (its accepted names, which are also its labels); every size that is an
// expression of d is a SizeExpr resolved once per d of the sweep; the
// learner and the representation are a variant per kind. Text becomes these
// types in one place (config.hpp, the TOML edge); the modules only ever see
// the types. Depends on nothing but the standard library.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace neurep {

enum class InputDistribution { Sphere, Gaussian };                   // data.input
enum class FeatureActivation { Step, Relu, Tanh, Erf, Quadratic, Cubic };  // representation.activation
enum class WhitenKind { Zca, Center, None };                         // representation.whiten
enum class LearnerKind { Kernel, Taylor, Linear };                   // learner.kind
enum class KernelKind { Ntk, NtkFull, Nngp, Linear, EmpiricalNtk };  // learner.kernel
enum class KernelSolver { Auto, Cholesky, Eigen, Mixed, Pcg };       // learner.solver
enum class RidgeSelection { None, LeaveOneOut, Validation };         // learner.ridge_selection
enum class TaylorOrder { Linear, Quadratic, Full };                  // learner.order
enum class Activation { Quadratic, Relu2, Relu, Tanh, Softplus };    // learner.activation
enum class OutputSigns { Balanced, Random };                         // learner.output_signs
enum class Schedule { Constant, Cosine, Linear };                    // learner.schedule
enum class Precision { Double, Single };                             // run.precision

// The table of an enum: each value with its one name, in the order the
// configuration reference lists them. Specialised in settings.cpp for every
// enum above (and only there).
template <typename E>
struct EnumTable {
  static const std::vector<std::pair<const char*, E>>& entries();
};
#define NEUREP_DECLARE_ENUM_TABLE(E) \
  template <>                        \
  const std::vector<std::pair<const char*, E>>& EnumTable<E>::entries();
NEUREP_DECLARE_ENUM_TABLE(InputDistribution)
NEUREP_DECLARE_ENUM_TABLE(FeatureActivation)
NEUREP_DECLARE_ENUM_TABLE(WhitenKind)
NEUREP_DECLARE_ENUM_TABLE(LearnerKind)
NEUREP_DECLARE_ENUM_TABLE(KernelKind)
NEUREP_DECLARE_ENUM_TABLE(KernelSolver)
NEUREP_DECLARE_ENUM_TABLE(RidgeSelection)
NEUREP_DECLARE_ENUM_TABLE(TaylorOrder)
NEUREP_DECLARE_ENUM_TABLE(Activation)
NEUREP_DECLARE_ENUM_TABLE(OutputSigns)
NEUREP_DECLARE_ENUM_TABLE(Schedule)
NEUREP_DECLARE_ENUM_TABLE(Precision)
#undef NEUREP_DECLARE_ENUM_TABLE

// The name of a value ("ntk-full", "zca", ...): what the configuration
// accepts, the labels in the results file and the messages use.
template <typename E>
std::string name_of(E value) {
  for (const auto& [name, v] : EnumTable<E>::entries())
    if (v == value) return name;
  return "?";
}

// Every accepted name of E, in table order.
template <typename E>
std::vector<std::string> names_of() {
  std::vector<std::string> out;
  for (const auto& e : EnumTable<E>::entries()) out.emplace_back(e.first);
  return out;
}

// The value named `text`; InputError "KEY: unknown value "text"; accepted: ..." otherwise.
template <typename E>
E parse_enum(const std::string& key, const std::string& text);

// A size given as a number or an expression of d ("2*d^2"), with its value
// at every d of the sweep computed (and checked against its minimum) once,
// when the configuration is read.
class SizeExpr {
 public:
  SizeExpr() = default;
  // Evaluates `text` at every d of `dims`; InputError naming `key` if it does
  // not parse or falls below `min` at some d.
  SizeExpr(std::string text, const std::vector<int>& dims, std::string key, int64_t min = 1);
  // Not resolved yet: at() evaluates (tests, benchmarks).
  SizeExpr(std::string text, std::string key, int64_t min = 1) : SizeExpr(std::move(text), {}, std::move(key), min) {}
  const std::string& text() const { return text_; }
  // The value at d: resolved when read, else evaluated now (InputError naming the key).
  int64_t at(int d) const;

 private:
  std::string text_, key_;
  int64_t min_ = 1;
  std::map<int, int64_t> values_;
};

// run.grid: "auto" (the shape suited to the work) or a fixed "PrxPc".
struct GridRequest {
  bool automatic = true;
  int rows = 0, cols = 0;
};
// "auto" or "PrxPc"; InputError naming run.grid otherwise.
GridRequest parse_grid_request(const std::string& text);
std::string grid_request_name(const GridRequest& request);

struct DataConfig {
  int dim{};
  InputDistribution input{};
  std::vector<int> degrees;
  std::vector<double> coefficients;
  bool normalize{};
  double noise{};
  int64_t n_test{};
};

// representation.kind = "none": the learner sees the raw x.
struct RawInputConfig {};

// representation.kind = "random": h(x), random layers of D units, whitened.
struct RandomRepresentationConfig {
  SizeExpr width;  // D
  FeatureActivation activation{};
  bool bias{};
  WhitenKind whiten{};
  SizeExpr n_unlabeled;  // as given; 0 means 4 D (unlabeled_at)
  double whiten_ridge{};
  int depth{};
  bool infinite{};

  // The unlabelled inputs for the whitening statistics at d.
  int64_t unlabeled_at(int d) const {
    const int64_t n = n_unlabeled.at(d);
    return n == 0 ? 4 * width.at(d) : n;
  }
};

struct RepresentationConfig {
  RepresentationConfig() = default;
  RepresentationConfig(RandomRepresentationConfig random) : kind(std::move(random)) {}  // NOLINT: implicit
  std::variant<RawInputConfig, RandomRepresentationConfig> kind;
  // Null for raw input.
  const RandomRepresentationConfig* random() const { return std::get_if<RandomRepresentationConfig>(&kind); }
};

// The validation split of n training points: the last
// floor(validation_fraction n) of them (so nested training sets share their
// first points and the split moves with n).
inline int64_t validation_size(double validation_fraction, int64_t n) {
  return static_cast<int64_t>(std::floor(validation_fraction * static_cast<double>(n)));
}

// The trainable two-layer network: a Taylor model's, or the order-1 network
// whose empirical NTK a kernel learner uses.
struct NetworkConfig {
  std::vector<SizeExpr> widths;  // learner.m; more than one: candidates
  Activation activation{};
};

// learner.solver = "mixed" or "pcg": when the iteration stops, and pcg's
// preconditioner.
struct IterativeSolverConfig {
  double tolerance{};            // relative residual |y - (K + n lambda' I) alpha| / |y| to stop at
  int64_t max_iterations{};      // refinement steps (mixed) or CG iterations (pcg)
  int64_t preconditioner_rank{};  // pcg: rank of the Nystrom preconditioner; 0 = none
};

// learner.kind = "kernel".
struct KernelLearnerConfig {
  KernelKind kernel{};
  std::vector<double> ridges;
  KernelSolver solver{};
  RidgeSelection ridge_selection{};
  IterativeSolverConfig iterative;  // solver = "mixed" or "pcg" only
  NetworkConfig network;            // kernel = "empirical-ntk" only
};

// learner.kind = "taylor".
struct TaylorLearnerConfig {
  TaylorOrder order{};
  NetworkConfig network;
  bool sign_randomization{};
  double init_scale{};
  OutputSigns output_signs{};
  std::vector<double> regularizers;  // lambda; more than one: candidates
  int reg_power{};
  double weight_decay{};
  std::vector<double> learning_rates;  // more than one: candidates
  double momentum{};
  Schedule schedule{};
  int64_t steps{};
  int64_t eval_every{};
  int64_t patience{};
  bool output_bias{};  // the trained offset c
  bool refit{};        // the validated choice trained again on all n (needs a validation split)
  // A row is "ok" only if its optimisation converged (optimisation_converged,
  // taylor.hpp), else "not-converged": how a floor tells itself from a failure.
  bool require_converged{};
};

// learner.kind = "linear": the best alpha . u + c on the training set by an
// exact least-squares solve (linear_learner.hpp). No settings of its own.
struct LinearLearnerConfig {};

struct LearnerConfig {
  bool input_bias{};
  double validation_fraction{};
  std::variant<KernelLearnerConfig, TaylorLearnerConfig, LinearLearnerConfig> method;

  LearnerKind kind() const {
    return method.index() == 0 ? LearnerKind::Kernel : method.index() == 1 ? LearnerKind::Taylor : LearnerKind::Linear;
  }
  // Null unless the learner is of that kind.
  const KernelLearnerConfig* kernel() const { return std::get_if<KernelLearnerConfig>(&method); }
  const TaylorLearnerConfig* taylor() const { return std::get_if<TaylorLearnerConfig>(&method); }
  // The network this learner trains or takes its kernel from (null for the other kernels).
  const NetworkConfig* network() const;
};

// sweep.target_error: n found by search instead of a fixed grid (search.hpp).
struct SearchConfig {
  std::vector<double> targets;  // the test errors to cross, largest first; empty: a grid sweep
  int64_t n_min{}, n_max{};     // the doubling ladder starts at n_min and ends at n_max
  double resolution{};          // bisect until n_hi / n_lo <= resolution (or n_hi - n_lo <= 1)
};

// The doubling ladder of a search: n_min, 2 n_min, 4 n_min, ... while below
// n_max, then n_max itself.
std::vector<int64_t> doubling_ladder(int64_t n_min, int64_t n_max);

struct SweepConfig {
  std::vector<int> dims;  // empty: just data.dim
  // The training-set sizes: sweep.n_train for a grid; for a search the
  // doubling ladder n_min, 2 n_min, ... up to n_max (the points the search
  // may visit before it bisects; the largest is n_max).
  std::vector<int64_t> n_train;
  std::vector<int64_t> seeds;
  SearchConfig search;
  bool searches() const { return !search.targets.empty(); }
};

struct RunConfig {
  int64_t seed{};
  GridRequest grid;
  int block{};
  Precision precision{};
  bool save_data{};
  int64_t checkpoint_every{};
  double checkpoint_seconds{};
  std::string log;  // run.log: the JSON-lines event log (rank 0); empty = none
};

struct Config {
  DataConfig data;
  RepresentationConfig representation;
  LearnerConfig learner;
  SweepConfig sweep;
  RunConfig run;

  // The fully resolved configuration (defaults filled in) as TOML text;
  // what /config holds and what --resume compares.
  std::string resolved_toml;
  // The part of resolved_toml that determines the results (everything but
  // run.grid, run.block and the checkpoint cadence).
  std::string science_toml;
  // What reading it found worth a line to the user (a --set that does not apply).
  std::vector<std::string> notes;

  // The dims to sweep: sweep.dims, or {data.dim} when it is empty.
  std::vector<int> dims() const;
};

// The candidate settings of a learner: every combination of the lists in
// learner.learning_rate, width and regularizer (for a trainable network),
// each with single values. One element when there is nothing to choose.
std::vector<LearnerConfig> learner_candidates(const LearnerConfig& learner);


}  // namespace neurep
