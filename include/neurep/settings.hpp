// The vocabulary of the configuration: every choice a configuration key makes
// is an enum here with one table (its accepted names, which are also its
// labels), and every size that is an expression of d is a SizeExpr resolved
// once per d of the sweep. Text becomes these types in one place (config.cpp,
// through parse_enum and SizeExpr); the modules only ever see the types.
// Depends on nothing but the standard library (the bottom of the layers).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace neurep {

enum class InputDistribution { Sphere, Gaussian };                   // data.input
enum class FeatureActivation { Step, Relu, Tanh, Erf, Quadratic };    // representation.activation
enum class WhitenKind { Zca, Center, None };                         // representation.whiten
enum class LearnerKind { Kernel, Taylor };                           // learner.kind
enum class KernelKind { Ntk, NtkFull, Nngp, Linear, EmpiricalNtk };  // learner.kernel
enum class KernelSolver { Auto, Cholesky, Eigen };                   // learner.solver
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

}  // namespace neurep
