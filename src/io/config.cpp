#include "neurep/config.hpp"

#include <fmt/core.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "neurep/errors.hpp"
#include "neurep/expression.hpp"

namespace neurep {
namespace {

enum class Kind { Int, Float, Bool, String, FloatList, IntList, Seeds, Expr, ExprList, Order };

// Which configurations a key applies to; given for any other it is an error.
enum class Scope {
  Always,
  Random,          // representation.kind = "random"
  Kernel,          // learner.kind = "kernel"
  Taylor,          // learner.kind = "taylor"
  Network,          // taylor, or kernel = "empirical-ntk"
  ValidationSplit,  // taylor, or kernel with ridge_selection = "validation"
  Iterative,        // kernel with solver = "mixed" or "pcg"
  Pcg,              // kernel with solver = "pcg"
  Grid,             // sweep.target_error = [] (a fixed grid of n)
  Search            // sweep.target_error given (n found by search)
};

constexpr bool kScience = true;

struct KeySpec {
  const char* section;
  const char* name;
  Kind kind;
  const char* default_toml;  // the default, as a TOML value
  const char* help;
  std::vector<std::string> choices = {};  // for strings: the accepted values
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool results = true;  // does the key change the numbers? (resume compares these)
  Scope scope = Scope::Always;  // which kinds of learner or representation it applies to
};

constexpr double kInf = std::numeric_limits<double>::infinity();

// Keys of earlier versions and their names now: (section, old, new).
struct Renamed {
  const char* section;
  const char* old_name;
  const char* new_name;
};
const Renamed kRenamed[] = {{"learner", "width", "m"}};

KeySpec scoped(KeySpec k, Scope scope) {
  k.scope = scope;
  return k;
}

// The public interface of DESIGN 3.1. Add keys freely; rename none without
// keeping the old name working (kRenamed).
const std::vector<KeySpec>& schema() {
  // clang-format off: one key per line
  static const std::vector<KeySpec> keys = {
      {"data", "dim", Kind::Int, "16", "input dimension d (used when sweep.dims is empty)", {}, 1, 1e6},
      {"data", "input", Kind::String, "\"sphere\"", "input distribution: uniform on the sphere of radius sqrt(d), or N(0, I_d)", names_of<InputDistribution>()},
      {"data", "degrees", Kind::IntList, "[4]", "target degrees p_s, one per term alpha_s (beta_s . x)^p_s", {}, 0, 64},
      {"data", "coefficients", Kind::FloatList, "[1.0]", "target coefficients alpha_s, one per degree"},
      {"data", "normalize", Kind::Bool, "true", "normalise f* to mean 0, variance 1 with exact moments"},
      {"data", "noise", Kind::Float, "0.0", "standard deviation tau of Gaussian label noise", {}, 0, kInf},
      {"data", "n_test", Kind::Int, "4000", "test points per seed (shared by every n and learner)", {}, 1, 1e9},

      {"representation", "kind", Kind::String, "\"none\"", "learner input: raw x (none) or the random representation h(x)", {"none", "random"}},
      scoped({"representation", "width", Kind::Expr, "\"2*d^2\"", "D, number of random features: a number or an expression of d"}, Scope::Random),
      scoped({"representation", "activation", Kind::String, "\"step\"", "phi of the random layer", names_of<FeatureActivation>()}, Scope::Random),
      scoped({"representation", "bias", Kind::Bool, "true", "random biases b_j ~ N(0, 1) in the random layer"}, Scope::Random),
      scoped({"representation", "whiten", Kind::String, "\"zca\"", "whitening of g(x): zca, center ((g - mean)/sqrt(D)) or none (g/sqrt(D))", names_of<WhitenKind>()}, Scope::Random),
      scoped({"representation", "n_unlabeled", Kind::Expr, "0", "unlabelled inputs for the whitening statistics; 0 means 4*width"}, Scope::Random),
      scoped({"representation", "whiten_ridge", Kind::Float, "1e-3", "epsilon: ridge epsilon*tr(Sigma)/D added before the inverse square root (large enough that units constant on the unlabelled sample are not amplified)", {}, 0, kInf}, Scope::Random),
      scoped({"representation", "depth", Kind::Int, "1", "number of random layers", {}, 1, 16}, Scope::Random),
      scoped({"representation", "infinite", Kind::Bool, "false", "use the D -> infinity kernel of the representation (kernel learners only)"}, Scope::Random),

      {"learner", "kind", Kind::String, "\"kernel\"", "kernel regression, a two-layer Taylor model trained by gradient descent, or the best linear function alpha . u + c by exact least squares (a representation's linear floor)", names_of<LearnerKind>()},
      scoped({"learner", "kernel", Kind::String, "\"ntk\"", "kernel of kernel regression", names_of<KernelKind>()}, Scope::Kernel),
      {"learner", "input_bias", Kind::Bool, "false", "append a constant coordinate to the learner's input u"},
      scoped({"learner", "ridge", Kind::FloatList, "[1e-6]", "ridge lambda values, relative to the mean diagonal of K (one row each)", {}, 0, kInf}, Scope::Kernel),
      scoped({"learner", "ridge_selection", Kind::String, "\"none\"", "choose the ridge on the training set: none (a row per ridge, no choice), loo (exact leave-one-out errors, needs the eigendecomposition) or validation (each ridge fitted by Cholesky on the first n - v points and scored on the last v = floor(validation_fraction n)); the error is in validation_error, the best ridge has selected = 1, every row's test error is of the fit on all n", names_of<RidgeSelection>()}, Scope::Kernel),
      scoped({"learner", "solver", Kind::String, "\"auto\"", "kernel solve: cholesky per ridge, one eigendecomposition for all ridges, auto (eigen only for leave-one-out: on few cores it costs about as much as 50-100 Cholesky factorisations), mixed (float Cholesky refined to double accuracy) or pcg (matrix-free preconditioned conjugate gradients, K never stored)", names_of<KernelSolver>()}, Scope::Kernel),
      scoped({"learner", "tolerance", Kind::Float, "1e-10", "solver = mixed or pcg: stop when the residual |y - (K + n lambda' I) alpha| / |y| is below this (mixed also stops when the residual stops decreasing)", {}, 0, kInf}, Scope::Iterative),
      scoped({"learner", "max_iterations", Kind::Int, "1000", "solver = mixed or pcg: at most this many refinement or CG iterations", {}, 1, 1e9}, Scope::Iterative),
      scoped({"learner", "preconditioner_rank", Kind::Int, "256", "solver = pcg: rank r of the Nystrom preconditioner (landmarks by randomly pivoted Cholesky); 0 = none", {}, 0, 1e9}, Scope::Pcg),
      scoped({"learner", "order", Kind::Order, "2", "Taylor model: 1 (linearised), 2 (quadratic, Quad) or \"full\" (the network)"}, Scope::Taylor),
      scoped({"learner", "m", Kind::ExprList, "512", "m, hidden units of the trainable network (the m column): a number or an expression of d, or a list of candidates chosen on the validation split"}, Scope::Network),
      scoped({"learner", "activation", Kind::String, "\"quadratic\"", "sigma of the trainable network", names_of<Activation>()}, Scope::Network),
      scoped({"learner", "sign_randomization", Kind::Bool, "false", "fresh random signs s_r each step (order = \"full\" only)"}, Scope::Taylor),
      scoped({"learner", "init_scale", Kind::Float, "0.1", "scale of the random initial movement W (rows ~ N(0, s^2 I/q))", {}, 0, kInf}, Scope::Taylor),
      scoped({"learner", "output_signs", Kind::String, "\"balanced\"", "output signs a_r: first ceil(m/2) +1, rest -1 (balanced), or random", names_of<OutputSigns>()}, Scope::Taylor),
      scoped({"learner", "regularizer", Kind::FloatList, "0.0", "lambda of the ||W||_{2,4}^k regulariser, or a list of candidates chosen on the validation split", {}, 0, kInf}, Scope::Taylor),
      scoped({"learner", "reg_power", Kind::Int, "4", "k of ||W||_{2,4}^k: 4 (Chen et al.) or 8 (Bai & Lee)", {}, 4, 8}, Scope::Taylor),
      scoped({"learner", "weight_decay", Kind::Float, "0.0", "plain weight decay (lambda/2) ||W||_F^2", {}, 0, kInf}, Scope::Taylor),
      scoped({"learner", "learning_rate", Kind::FloatList, "0.1", "gradient-descent step size, or a list of candidates chosen on the validation split", {}, 0, kInf}, Scope::Taylor),
      scoped({"learner", "momentum", Kind::Float, "0.0", "heavy-ball momentum", {}, 0, 1}, Scope::Taylor),
      scoped({"learner", "schedule", Kind::String, "\"constant\"", "learning-rate schedule", names_of<Schedule>()}, Scope::Taylor),
      scoped({"learner", "steps", Kind::Int, "2000", "gradient-descent steps", {}, 0, 1e12}, Scope::Taylor),
      scoped({"learner", "eval_every", Kind::Int, "50", "steps between evaluations (curve points)", {}, 1, 1e12}, Scope::Taylor),
      scoped({"learner", "validation_fraction", Kind::Float, "0.0", "share of the n training points (the last ones) held out to choose among candidates: the step count, rate, m and regulariser of a Taylor model, the ridge of kernel regression with ridge_selection = validation", {}, 0, 0.9}, Scope::ValidationSplit),
      scoped({"learner", "patience", Kind::Int, "0", "evaluations without validation improvement before stopping; 0 = never stop early", {}, 0, 1e12}, Scope::Taylor),
      scoped({"learner", "output_bias", Kind::Bool, "false", "a trained scalar offset c added to the Taylor model's output f(u) (any order; its value is in the output_bias column)"}, Scope::Taylor),
      scoped({"learner", "require_converged", Kind::Bool, "false", "Taylor models measuring a floor: a row is ok only if its optimisation converged -- the chosen evaluation is after step 0, at it the training error is within 10 % of the validation error (or both differ by at most 1e-4), and the validation error improved by at most 1 % (or 1e-4) over the last quarter of the steps run; otherwise its status is not-converged (errors still recorded; the analysis counts it as failed). Needs a validation split"}, Scope::Taylor),
      scoped({"learner", "refit", Kind::Bool, "false", "Taylor models: once the validation split has chosen m, learning rate, regulariser and step count, train again on all n points with them and report that fit (an extra row with refit = 1 and selected = 1), as kernel learners report their fit on all n"}, Scope::Taylor),

      {"sweep", "dims", Kind::IntList, "[]", "input dimensions d to sweep; empty: just data.dim", {}, 1, 1e6},
      scoped({"sweep", "n_train", Kind::IntList, "[256, 512, 1024]", "training-set sizes (nested prefixes of one stream)", {}, 1, 1e12}, Scope::Grid),
      {"sweep", "seeds", Kind::Seeds, "3", "a count of seeds, or a list of seed indices"},
      {"sweep", "target_error", Kind::FloatList, "[]", "search n instead of a grid: per (d, seed) double n from n_min until the selected row's test error is below the largest target, bisect in log n to n_resolution, then the next target; the brackets and n_eps go to /complexity; empty: the grid sweep.n_train", {}, 0, kInf},
      scoped({"sweep", "n_min", Kind::Int, "64", "search: the first n of the doubling ladder", {}, 1, 1e12}, Scope::Search),
      scoped({"sweep", "n_max", Kind::Int, "65536", "search: the largest n computed (status n_max when a target is not reached by it)", {}, 1, 1e12}, Scope::Search),
      scoped({"sweep", "n_resolution", Kind::Float, "1.189207115002721", "search: bisect until n_hi / n_lo is at most this (default 2^(1/4)), up to the rounding of n to integers ((n_hi - 1/2) / (n_lo + 1/2)), or n_hi - n_lo <= 1", {}, 0, kInf}, Scope::Search),

      {"run", "seed", Kind::Int, "2020", "master seed", {}, 0, 9.2e18},
      {"run", "grid", Kind::String, "\"auto\"", "process grid: auto (P x 1 for Taylor models, most square Pr <= Pc for kernels) or \"PrxPc\"", {}, -kInf, kInf, false},
      {"run", "block", Kind::Int, "128", "block size of the block-cyclic layout", {}, 1, 1e6, false},
      {"run", "precision", Kind::String, "\"double\"", "storage and products of the learner's large matrices and the representation's whitening; single halves their memory (taylor: float products, W and optimiser in double; kernel: K, its Cholesky or eigendecomposition and the predictions in float, errors summed in double; representation: the zca product h = (g - mu) S^{-1/2} in float, the random layers and the whitening statistics in double)", names_of<Precision>()},
      {"run", "save_data", Kind::Bool, "false", "store inputs, labels and features in /data"},
      {"run", "checkpoint_every", Kind::Int, "0", "steps (pcg: iterations) between checkpoints of iterative learners; 0 = off", {}, 0, 1e12, false},
      {"run", "checkpoint_seconds", Kind::Float, "600", "seconds between checkpoints of iterative learners (taylor, pcg)", {}, 0, kInf, false},
      {"run", "log", Kind::String, "\"\"", "a JSON-lines file of run events for batch jobs (point started, evaluations inside a point, point done with its rows, checkpoint, run finished or interrupted), one object a line, written by rank 0, appended on --resume; empty = none", {}, -kInf, kInf, false},
  };
  // clang-format on
  return keys;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string suggestion(const std::string& key) {
  std::string best;
  size_t best_d = 4;
  for (const auto& k : schema()) {
    const std::string full = std::string(k.section) + "." + k.name;
    const size_t dist = std::min(edit_distance(key, full), edit_distance(key, k.name) + 0);
    if (dist < best_d) best_d = dist, best = full;
  }
  return best.empty() ? "" : fmt::format(" (did you mean '{}'?)", best);
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Int: return "an integer";
    case Kind::Float: return "a number";
    case Kind::Bool: return "true or false";
    case Kind::String: return "a string";
    case Kind::FloatList: return "a number or a list of numbers";
    case Kind::IntList: return "a list of integers";
    case Kind::Seeds: return "a count or a list of seed indices";
    case Kind::Expr: return "a number or an expression of d such as \"2*d^2\"";
    case Kind::ExprList: return "a number, an expression of d such as \"2*d^2\", or a list of them";
    case Kind::Order: return "1, 2 or \"full\"";
  }
  return "";
}

[[noreturn]] void bad(const KeySpec& k, const std::string& what) {
  throw InputError(fmt::format("{}.{}: {}", k.section, k.name, what));
}

std::string show(const toml::node& n) {
  std::ostringstream os;
  n.visit([&](const auto& v) {
    if constexpr (toml::is_string<decltype(v)>) os << '"' << v.get() << '"';
    else os << v;
  });
  return os.str();
}

std::string display_value(const toml::node& n) {
  if (const auto* d = n.as_floating_point()) {
    std::string s = fmt::format("{}", d->get());                  // shortest round trip
    if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // a float, not an integer (n: inf, nan)
    return s;
  }
  if (const auto* a = n.as_array()) {
    std::vector<std::string> items;
    for (const auto& e : *a) items.push_back(display_value(e));
    return items.empty() ? "[]" : fmt::format("[ {} ]", fmt::join(items, ", "));
  }
  std::ostringstream os;
  n.visit([&](const auto& v) { os << v; });
  return os.str();
}

// A value in a message: numbers as written (0.1), strings in double quotes.
std::string message_value(const toml::node& n) { return n.is_string() ? show(n) : display_value(n); }

double as_number(const KeySpec& k, const toml::node& n) {
  if (auto i = n.as_integer()) return static_cast<double>(i->get());
  if (auto f = n.as_floating_point()) {
    if (!std::isfinite(f->get())) bad(k, fmt::format("expected a finite number, got {}", show(n)));
    return f->get();
  }
  bad(k, fmt::format("expected {}, got {}", kind_name(k.kind), show(n)));
}

int64_t as_int(const KeySpec& k, const toml::node& n) {
  if (auto i = n.as_integer()) return i->get();
  if (auto f = n.as_floating_point()) {
    if (std::floor(f->get()) == f->get() && std::abs(f->get()) < 9e15) return static_cast<int64_t>(f->get());
  }
  bad(k, fmt::format("expected {}, got {}", kind_name(k.kind), show(n)));
}

void check_range(const KeySpec& k, double v) {
  if (!(v >= k.min && v <= k.max))
    bad(k, fmt::format("{} is out of range [{}, {}]", v, k.min, k.max));
}

// Checks one value against its spec and returns it in canonical form.
toml::array canonical_list(const KeySpec& k, const toml::node& n) {
  toml::array out;
  auto push = [&](const toml::node& e) {
    if (k.kind == Kind::FloatList) {
      double v = as_number(k, e);
      check_range(k, v);
      out.push_back(v);
    } else {
      int64_t v = as_int(k, e);
      check_range(k, static_cast<double>(v));
      out.push_back(v);
    }
  };
  if (auto arr = n.as_array()) {
    for (const auto& e : *arr) push(e);
  } else if (k.kind == Kind::FloatList) {
    push(n);
  } else {
    bad(k, fmt::format("expected {}, got {}", kind_name(k.kind), show(n)));
  }
  return out;
}

void insert_canonical(toml::table& section, const KeySpec& k, const toml::node& n) {
  switch (k.kind) {
    case Kind::Int: {
      int64_t v = as_int(k, n);
      check_range(k, static_cast<double>(v));
      section.insert_or_assign(k.name, v);
      break;
    }
    case Kind::Float: {
      double v = as_number(k, n);
      check_range(k, v);
      section.insert_or_assign(k.name, v);
      break;
    }
    case Kind::Bool:
      if (!n.is_boolean()) bad(k, fmt::format("expected true or false, got {}", show(n)));
      section.insert_or_assign(k.name, n.as_boolean()->get());
      break;
    case Kind::String: {
      if (!n.is_string()) bad(k, fmt::format("expected a string, got {}", show(n)));
      std::string v = n.as_string()->get();
      if (!k.choices.empty() && std::find(k.choices.begin(), k.choices.end(), v) == k.choices.end())
        bad(k, fmt::format("unknown value \"{}\"; accepted: {}", v, fmt::join(k.choices, ", ")));
      section.insert_or_assign(k.name, v);
      break;
    }
    case Kind::FloatList:
    case Kind::IntList:
      section.insert_or_assign(k.name, canonical_list(k, n));
      break;
    case Kind::Seeds: {
      toml::array out;
      if (auto i = n.as_integer()) {
        if (i->get() < 1 || i->get() > 100000) bad(k, fmt::format("a count of seeds must be in [1, 100000], got {}", i->get()));
        for (int64_t s = 0; s < i->get(); ++s) out.push_back(s);
      } else if (auto arr = n.as_array()) {
        if (arr->empty()) bad(k, "the list of seeds is empty");
        for (const auto& e : *arr) {
          auto v = as_int(k, e);
          if (v < 0) bad(k, fmt::format("seed indices must be >= 0, got {}", v));
          out.push_back(v);
        }
      } else {
        bad(k, fmt::format("expected {}, got {}", kind_name(k.kind), show(n)));
      }
      section.insert_or_assign(k.name, out);
      break;
    }
    case Kind::Expr: {
      std::string text;
      if (auto i = n.as_integer()) text = std::to_string(i->get());
      else if (auto s = n.as_string()) text = s->get();
      else bad(k, fmt::format("expected {}, got {}", kind_name(k.kind), show(n)));
      try {
        (void)evaluate_expression(text, 16.0);  // syntax check
      } catch (const InputError& e) {
        bad(k, e.what());
      }
      if (n.is_integer()) section.insert_or_assign(k.name, n.as_integer()->get());
      else section.insert_or_assign(k.name, text);
      break;
    }
    case Kind::ExprList: {
      KeySpec one = k;
      one.kind = Kind::Expr;
      if (auto arr = n.as_array()) {
        if (arr->empty()) bad(k, "the list is empty");
        toml::table tmp;
        toml::array out;
        for (const auto& e : *arr) {
          insert_canonical(tmp, one, e);
          out.push_back(*tmp[k.name].node());
        }
        section.insert_or_assign(k.name, out);
      } else {
        insert_canonical(section, one, n);
      }
      break;
    }
    case Kind::Order:
      if (auto i = n.as_integer()) {
        if (i->get() != 1 && i->get() != 2) bad(k, fmt::format("expected 1, 2 or \"full\", got {}", i->get()));
        section.insert_or_assign(k.name, i->get());
      } else if (auto s = n.as_string(); s && s->get() == "full") {
        section.insert_or_assign(k.name, "full");
      } else {
        bad(k, fmt::format("expected 1, 2 or \"full\", got {}", show(n)));
      }
      break;
  }
}

toml::table parse_toml(const std::string& text, const std::string& origin) {
  try {
    return toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    throw InputError(fmt::format("{}: not valid TOML: {} (line {}, column {})", origin,
                                 e.description(), e.source().begin.line, e.source().begin.column));
  }
}

void apply_override(toml::table& root, const std::string& item) {
  const auto eq = item.find('=');
  const auto dot = item.find('.');
  if (eq == std::string::npos || dot == std::string::npos || dot > eq)
    throw InputError(fmt::format("--set '{}': expected section.key=value", item));
  const std::string section = item.substr(0, dot), key = item.substr(dot + 1, eq - dot - 1);
  const std::string value = item.substr(eq + 1);
  toml::table parsed;
  try {
    parsed = toml::parse("v = " + value);
  } catch (const toml::parse_error&) {
    parsed.insert_or_assign("v", value);  // a bare word is a string
  }
  auto* sec = root[section].as_table();
  if (!sec) {
    root.insert_or_assign(section, toml::table{});
    sec = root[section].as_table();
  }
  sec->insert_or_assign(key, *parsed["v"].node());
}

std::string str(const toml::table& t, const char* s, const char* k) { return t[s][k].value<std::string>().value(); }
int64_t i64(const toml::table& t, const char* s, const char* k) { return t[s][k].value<int64_t>().value(); }
double num(const toml::table& t, const char* s, const char* k) { return t[s][k].value<double>().value(); }
bool flag(const toml::table& t, const char* s, const char* k) { return t[s][k].value<bool>().value(); }
std::string expr_text(const toml::node& n) {
  if (n.is_integer()) return std::to_string(n.value<int64_t>().value());
  return n.value<std::string>().value();
}
template <typename E>
E choice(const toml::table& t, const char* s, const char* k) {
  return parse_enum<E>(fmt::format("{}.{}", s, k), str(t, s, k));
}
template <typename T>
std::vector<T> list(const toml::table& t, const char* s, const char* k) {
  std::vector<T> out;
  for (const auto& e : *t[s][k].as_array()) out.push_back(e.value<T>().value());
  return out;
}
// A size expression at every d of the sweep (InputError naming the key).
SizeExpr size(const toml::table& t, const char* s, const char* k, const std::vector<int>& dims, int64_t min = 1) {
  return SizeExpr(expr_text(*t[s][k].node()), dims, fmt::format("{}.{}", s, k), min);
}
std::vector<SizeExpr> sizes(const toml::table& t, const char* s, const char* k, const std::vector<int>& dims) {
  std::vector<SizeExpr> out;
  const std::string key = fmt::format("{}.{}", s, k);
  if (auto arr = t[s][k].as_array()) {
    for (const auto& e : *arr) out.emplace_back(expr_text(e), dims, key);
  } else {
    out.emplace_back(expr_text(*t[s][k].node()), dims, key);
  }
  return out;
}

// Does a key of this scope apply to the configuration `t` (resolved)?
// Returns "" if so, else what it applies to.
std::string scope_mismatch(Scope scope, const toml::table& t) {
  const bool random = str(t, "representation", "kind") == "random";
  const std::string kind = str(t, "learner", "kind");
  const bool kernel = kind == "kernel", taylor = kind == "taylor";
  switch (scope) {
    case Scope::Always: return "";
    case Scope::Random: return random ? "" : "representation.kind = \"random\"";
    case Scope::Kernel: return kernel ? "" : "learner.kind = \"kernel\"";
    case Scope::Taylor: return taylor ? "" : "learner.kind = \"taylor\"";
    case Scope::Network:
      return taylor || str(t, "learner", "kernel") == "empirical-ntk"
                 ? "" : "learner.kind = \"taylor\" or learner.kernel = \"empirical-ntk\"";
    case Scope::ValidationSplit:
      return taylor || str(t, "learner", "ridge_selection") == "validation"
                 ? "" : "learner.kind = \"taylor\" or learner.ridge_selection = \"validation\"";
    case Scope::Iterative: {
      const std::string solver = str(t, "learner", "solver");
      return kernel && (solver == "mixed" || solver == "pcg") ? "" : "learner.solver = \"mixed\" or \"pcg\"";
    }
    case Scope::Pcg:
      return kernel && str(t, "learner", "solver") == "pcg" ? "" : "learner.solver = \"pcg\"";
    case Scope::Grid:
      return t["sweep"]["target_error"].as_array()->empty() ? "" : "sweep.target_error = [] (a grid; a search has sweep.n_min and n_max)";
    case Scope::Search:
      return t["sweep"]["target_error"].as_array()->empty() ? "sweep.target_error given (a search)" : "";
  }
  return "";
}

// Every rule that involves more than one key (or a key and the sweep's d).
void validate(const Config& c) {
  auto fail = [](const std::string& m) { throw InputError(m); };
  if (c.data.degrees.empty()) fail("data.degrees: at least one degree is needed");
  if (c.data.degrees.size() != c.data.coefficients.size())
    fail(fmt::format("data.coefficients: {} coefficients for {} degrees; give one per degree",
                     c.data.coefficients.size(), c.data.degrees.size()));
  bool varies = false;  // f* = sum_j c_j (beta_j . x)^k_j: constant if every c_j of k_j > 0 is 0
  for (size_t j = 0; j < c.data.degrees.size(); ++j) varies = varies || (c.data.degrees[j] > 0 && c.data.coefficients[j] != 0);
  if (!varies)
    fail("data.coefficients: the target f* is constant (no non-zero coefficient of a degree above 0), so the errors, "
         "relative to Var f*, are undefined");
  for (int d : c.dims())
    if (static_cast<size_t>(d) < c.data.degrees.size())
      fail(fmt::format("data.degrees: {} orthonormal directions do not fit in d = {}",
                       c.data.degrees.size(), d));
  const auto& l = c.learner;
  const KernelLearnerConfig* kernel = l.kernel();
  const TaylorLearnerConfig* taylor = l.taylor();
  if (const RandomRepresentationConfig* r = c.representation.random()) {
    if (r->infinite) {
      if (!kernel)
        fail("representation.infinite: the infinite-width representation exists only as a kernel; set learner.kind = \"kernel\"");
      if (r->whiten == WhitenKind::Zca)
        fail("representation.infinite: zca whitening has no closed-form infinite-width limit; use whiten = \"center\" or \"none\"");
      if (r->activation == FeatureActivation::Tanh)  // the closed forms: representation_kernel.hpp
        fail("representation.activation: no closed-form infinite-width kernel for \"tanh\"; accepted with infinite = true: step, relu, erf, quadratic, cubic");
      if (kernel && kernel->kernel == KernelKind::EmpiricalNtk)
        fail("learner.kernel: \"empirical-ntk\" needs finite inputs; set representation.infinite = false or use ntk, ntk-full, nngp, linear");
    }
    if (r->whiten != WhitenKind::None && !r->infinite)
      for (int d : c.dims())
        if (r->unlabeled_at(d) < 2)
          fail(fmt::format("representation.n_unlabeled: {} unlabelled inputs cannot estimate a mean and covariance; give at least 2",
                           r->unlabeled_at(d)));
  }
  if (taylor) {
    if (taylor->order == TaylorOrder::Quadratic && taylor->network.activation == Activation::Relu)
      fail("learner.activation: relu has sigma'' = 0 almost everywhere, so the quadratic model (order 2) is zero; use quadratic or relu2");
    if (taylor->init_scale == 0.0 && taylor->order != TaylorOrder::Linear)
      fail("learner.init_scale: W = 0 is a stationary point of the order-2 and full models; init_scale = 0 is allowed only with order = 1");
    if (taylor->sign_randomization && taylor->order != TaylorOrder::Full)
      fail("learner.sign_randomization: only meaningful with order = \"full\"");
    if (taylor->reg_power != 4 && taylor->reg_power != 8)
      fail(fmt::format("learner.reg_power: expected 4 or 8, got {}", taylor->reg_power));
  }
  if (taylor && taylor->require_converged && !(l.validation_fraction > 0))
    fail("learner.require_converged: the convergence rule compares the training error with the validation error; set learner.validation_fraction above 0, e.g. 0.2");
  if (l.kind() == LearnerKind::Linear)
    for (int d : c.dims()) {
      // alpha . u + c: dim u + 1 unknowns (with input_bias u's constant coordinate is c's).
      const RandomRepresentationConfig* r = c.representation.random();
      const int64_t dim = r ? r->width.at(d) : d;
      for (int64_t n : c.sweep.n_train)
        if (n < dim + 1)
          fail(fmt::format("sweep.n_train: n = {} training points cannot determine the {} unknowns of the linear learner's "
                           "alpha . u + c at d = {} ({} inputs plus c); give n >= {}, and n >= {} for a floor",
                           n, dim + 1, d, dim, dim + 1, 10 * (dim + 1)));
    }
  if (taylor && taylor->refit && !(l.validation_fraction > 0))
    fail("learner.refit: refitting on all n points needs the choices of a validation split; set learner.validation_fraction above 0, e.g. 0.2");
  const size_t candidates = learner_candidates(l).size();
  if (candidates > 1 && !(l.validation_fraction > 0))
    fail(fmt::format("learner.validation_fraction: choosing among {} candidate settings (lists in learner.learning_rate, "
                     "m or regularizer) needs a validation split; set it above 0, e.g. 0.2", candidates));
  if (c.sweep.n_train.empty()) fail("sweep.n_train: at least one training-set size is needed");
  if (c.sweep.searches()) {
    const SearchConfig& s = c.sweep.search;
    for (size_t i = 0; i < s.targets.size(); ++i) {
      if (!(s.targets[i] > 0))
        fail(fmt::format("sweep.target_error: {} is not a positive test error", s.targets[i]));
      if (i > 0 && s.targets[i] == s.targets[i - 1])
        fail(fmt::format("sweep.target_error: {} is given twice", s.targets[i]));
    }
    if (s.n_max < s.n_min) fail(fmt::format("sweep.n_max: {} is below sweep.n_min = {}", s.n_max, s.n_min));
    if (!(s.resolution > 1))
      fail(fmt::format("sweep.n_resolution: {} must be above 1 (a ratio n_hi / n_lo, e.g. 1.19 = 2^(1/4))", s.resolution));
    const bool split = taylor ? l.validation_fraction > 0
                              : kernel && kernel->ridge_selection == RidgeSelection::Validation;
    if (split && validation_size(l.validation_fraction, s.n_min) < 1)
      fail(fmt::format("sweep.n_min: {} training points leave no validation point at validation_fraction = {}; "
                       "use n_min >= {}", s.n_min, l.validation_fraction,
                       static_cast<int64_t>(std::ceil(1.0 / l.validation_fraction))));
    if (kernel && kernel->ridges.size() > 1 && kernel->ridge_selection == RidgeSelection::None)
      fail("learner.ridge_selection: a search decides on the selected row's test error; with several ridges "
           "set ridge_selection = \"validation\" or \"loo\", or give one ridge");
  }
  if (kernel) {
    if (kernel->ridges.empty()) fail("learner.ridge: at least one ridge value is needed");
    if (kernel->ridge_selection == RidgeSelection::LeaveOneOut && kernel->solver == KernelSolver::Cholesky)
      fail("learner.ridge_selection: leave-one-out needs the eigendecomposition; set learner.solver = \"eigen\" or \"auto\"");
    if (kernel->ridge_selection == RidgeSelection::Validation)
      for (int64_t n : c.sweep.n_train) {
        const int64_t v = validation_size(l.validation_fraction, n);
        if (v < 1 || v >= n)
          fail(fmt::format("learner.validation_fraction: ridge_selection = \"validation\" holds out floor({} x {}) = {} of "
                           "n = {} training points; it needs at least one on each side, e.g. validation_fraction = 0.2",
                           l.validation_fraction, n, v, n));
      }
    // The iterative solvers (mixed, pcg).
    const bool iterative = kernel->solver == KernelSolver::Mixed || kernel->solver == KernelSolver::Pcg;
    if (iterative) {
      const std::string solver = name_of(kernel->solver);
      if (!(kernel->iterative.tolerance > 0))
        fail(fmt::format("learner.tolerance: {} must be above 0", kernel->iterative.tolerance));
      if (c.run.precision == Precision::Single)
        fail(fmt::format("learner.solver: \"{}\" computes a double-precision answer; it needs run.precision = \"double\"", solver));
      if (kernel->ridge_selection == RidgeSelection::LeaveOneOut)
        fail(fmt::format("learner.ridge_selection: leave-one-out needs the eigendecomposition, not learner.solver = \"{}\"", solver));
    }
    if (kernel->solver == KernelSolver::Pcg) {
      if (kernel->kernel == KernelKind::EmpiricalNtk)
        fail("learner.solver: \"pcg\" is not available for learner.kernel = \"empirical-ntk\"");
      for (int64_t n : c.sweep.n_train) {
        const int64_t fitted =
            kernel->ridge_selection == RidgeSelection::Validation ? n - validation_size(l.validation_fraction, n) : n;
        if (kernel->iterative.preconditioner_rank > fitted)
          fail(fmt::format("learner.preconditioner_rank: {} exceeds n = {} training points fitted; use at most {}",
                           kernel->iterative.preconditioner_rank, fitted, fitted));
      }
    }
  }
}

// The typed configuration from the resolved table (every key present and of its kind).
Config typed(const toml::table& t) {
  Config c;
  c.data.dim = static_cast<int>(i64(t, "data", "dim"));
  c.data.input = choice<InputDistribution>(t, "data", "input");
  c.data.degrees = list<int>(t, "data", "degrees");
  c.data.coefficients = list<double>(t, "data", "coefficients");
  c.data.normalize = flag(t, "data", "normalize");
  c.data.noise = num(t, "data", "noise");
  c.data.n_test = i64(t, "data", "n_test");

  c.sweep.dims = list<int>(t, "sweep", "dims");
  c.sweep.n_train = list<int64_t>(t, "sweep", "n_train");
  c.sweep.seeds = list<int64_t>(t, "sweep", "seeds");
  c.sweep.search.targets = list<double>(t, "sweep", "target_error");
  c.sweep.search.n_min = i64(t, "sweep", "n_min");
  c.sweep.search.n_max = i64(t, "sweep", "n_max");
  c.sweep.search.resolution = num(t, "sweep", "n_resolution");
  if (c.sweep.searches()) {  // largest target first; the ladder stands for n_train (memory, plan, save_data)
    std::sort(c.sweep.search.targets.begin(), c.sweep.search.targets.end(), std::greater<double>());
    c.sweep.n_train = doubling_ladder(c.sweep.search.n_min, std::max(c.sweep.search.n_min, c.sweep.search.n_max));
  }
  const std::vector<int> dims = c.dims();

  if (str(t, "representation", "kind") == "random") {
    RandomRepresentationConfig r;
    r.width = size(t, "representation", "width", dims);
    r.activation = choice<FeatureActivation>(t, "representation", "activation");
    r.bias = flag(t, "representation", "bias");
    r.whiten = choice<WhitenKind>(t, "representation", "whiten");
    r.n_unlabeled = size(t, "representation", "n_unlabeled", dims, 0);
    r.whiten_ridge = num(t, "representation", "whiten_ridge");
    r.depth = static_cast<int>(i64(t, "representation", "depth"));
    r.infinite = flag(t, "representation", "infinite");
    c.representation.kind = std::move(r);
  }

  auto& l = c.learner;
  l.input_bias = flag(t, "learner", "input_bias");
  l.validation_fraction = num(t, "learner", "validation_fraction");
  auto network = [&] {
    NetworkConfig n;
    n.activation = choice<Activation>(t, "learner", "activation");
    n.widths = sizes(t, "learner", "m", dims);
    if (n.widths.empty()) throw InputError("learner.m: the list is empty");
    return n;
  };
  const LearnerKind kind = choice<LearnerKind>(t, "learner", "kind");
  if (kind == LearnerKind::Linear) {
    l.method = LinearLearnerConfig{};
  } else if (kind == LearnerKind::Kernel) {
    KernelLearnerConfig k;
    k.kernel = choice<KernelKind>(t, "learner", "kernel");
    k.ridges = list<double>(t, "learner", "ridge");
    k.solver = choice<KernelSolver>(t, "learner", "solver");
    k.ridge_selection = choice<RidgeSelection>(t, "learner", "ridge_selection");
    k.iterative.tolerance = num(t, "learner", "tolerance");
    k.iterative.max_iterations = i64(t, "learner", "max_iterations");
    k.iterative.preconditioner_rank = i64(t, "learner", "preconditioner_rank");
    if (k.kernel == KernelKind::EmpiricalNtk) k.network = network();
    l.method = std::move(k);
  } else {
    TaylorLearnerConfig m;
    m.order = parse_enum<TaylorOrder>("learner.order", expr_text(*t["learner"]["order"].node()));
    m.network = network();
    m.sign_randomization = flag(t, "learner", "sign_randomization");
    m.init_scale = num(t, "learner", "init_scale");
    m.output_signs = choice<OutputSigns>(t, "learner", "output_signs");
    m.regularizers = list<double>(t, "learner", "regularizer");
    m.reg_power = static_cast<int>(i64(t, "learner", "reg_power"));
    m.weight_decay = num(t, "learner", "weight_decay");
    m.learning_rates = list<double>(t, "learner", "learning_rate");
    m.momentum = num(t, "learner", "momentum");
    m.schedule = choice<Schedule>(t, "learner", "schedule");
    m.steps = i64(t, "learner", "steps");
    m.eval_every = i64(t, "learner", "eval_every");
    m.patience = i64(t, "learner", "patience");
    m.output_bias = flag(t, "learner", "output_bias");
    m.refit = flag(t, "learner", "refit");
    m.require_converged = flag(t, "learner", "require_converged");
    l.method = std::move(m);
  }

  c.run.seed = i64(t, "run", "seed");
  c.run.grid = parse_grid_request(str(t, "run", "grid"));
  c.run.block = static_cast<int>(i64(t, "run", "block"));
  c.run.precision = choice<Precision>(t, "run", "precision");
  c.run.save_data = flag(t, "run", "save_data");
  c.run.checkpoint_every = i64(t, "run", "checkpoint_every");
  c.run.checkpoint_seconds = num(t, "run", "checkpoint_seconds");
  c.run.log = str(t, "run", "log");
  return c;
}

}  // namespace

Config parse_config(const std::string& toml_text, const std::vector<std::string>& overrides,
                    const std::string& origin, bool stored) {
  toml::table file = parse_toml(toml_text, origin);
  toml::table user = file;
  for (const auto& o : overrides) apply_override(user, o);
  // Keys renamed since earlier versions keep working (users' files and
  // stored /config depend on them): read under the new name.
  for (toml::table* t : {&file, &user})
    for (const auto& [section, old_name, new_name] : kRenamed) {
      toml::table* sec = (*t)[section].as_table();
      if (!sec || !sec->contains(old_name)) continue;
      if (sec->contains(new_name))
        throw InputError(fmt::format("{}.{}: given together with '{}.{}', its earlier name; give it once", section,
                                     new_name, section, old_name));
      toml::table value;
      value.insert_or_assign("v", *sec->get(old_name));
      sec->erase(old_name);
      sec->insert_or_assign(new_name, *value["v"].node());
    }

  // Unknown sections and keys are mistakes (a typo must not fall back to a default).
  for (const auto& [sname, snode] : user) {
    const std::string s(sname.str());
    bool known_section = std::any_of(schema().begin(), schema().end(), [&](const KeySpec& k) { return s == k.section; });
    if (!known_section || !snode.is_table()) {
      throw InputError(fmt::format("{}: unknown section '{}'{}; sections: data, representation, learner, sweep, run",
                                   origin, s, known_section ? " (expected a table)" : ""));
    }
    for (const auto& [kname, knode] : *snode.as_table()) {
      const std::string k(kname.str());
      bool known = std::any_of(schema().begin(), schema().end(), [&](const KeySpec& spec) { return s == spec.section && k == spec.name; });
      if (!known) throw InputError(fmt::format("{}: unknown key '{}.{}'{}", origin, s, k, suggestion(s + "." + k)));
    }
  }

  toml::table resolved, science;
  for (const auto& k : schema()) {
    const toml::node* given = user[k.section][k.name].node();
    toml::table def = toml::parse(std::string("v = ") + k.default_toml);
    const toml::node& value = given ? *given : *def["v"].node();
    for (toml::table* t : {&resolved, &science}) {
      if (t == &science && !k.results) continue;
      if (!(*t)[k.section].is_table()) t->insert_or_assign(k.section, toml::table{});
      insert_canonical(*(*t)[k.section].as_table(), k, value);
    }
  }
  // A key given for another kind of learner or representation would be
  // silently ignored: in the configuration it is an error; from --set (which
  // a campaign passes to all its configurations) it is ignored with a note
  // and the key keeps its default. A stored /config lists every key.
  std::vector<std::string> notes;
  if (!stored)
    for (const auto& k : schema()) {
      if (!user[k.section][k.name].node()) continue;
      const std::string applies = scope_mismatch(k.scope, resolved);
      if (applies.empty()) continue;
      if (file[k.section][k.name].node())
        throw InputError(fmt::format("{}.{}: applies only with {}; remove it from this configuration", k.section,
                                     k.name, applies));
      notes.push_back(fmt::format("--set {}.{}: applies only with {}; ignored for {}", k.section, k.name, applies, origin));
      toml::table def = toml::parse(std::string("v = ") + k.default_toml);
      for (toml::table* t : {&resolved, &science})
        if (t == &resolved || k.results) insert_canonical(*(*t)[k.section].as_table(), k, *def["v"].node());
    }

  Config c = typed(resolved);
  c.notes = std::move(notes);
  validate(c);

  std::ostringstream os, ss;
  os << resolved;
  ss << science;
  c.resolved_toml = os.str() + "\n";
  c.science_toml = ss.str() + "\n";
  return c;
}

Config default_config() { return parse_config("", {}); }

std::vector<std::string> config_differences(const Config& before, const Config& after) {
  const toml::table a = toml::parse(before.science_toml), b = toml::parse(after.science_toml);
  std::vector<std::string> out;
  for (const auto& k : schema()) {
    const toml::node* x = a[k.section][k.name].node();
    const toml::node* y = b[k.section][k.name].node();
    const std::string sx = x ? message_value(*x) : "(absent)", sy = y ? message_value(*y) : "(absent)";
    if (sx != sy) out.push_back(fmt::format("{}.{}: {} -> {}", k.section, k.name, sx, sy));
  }
  return out;
}

bool is_extent_key(const std::string& key) {
  static const std::set<std::string> keys = {"data.dim",    "sweep.dims",    "sweep.n_train",         "sweep.seeds",
                                             "learner.ridge", "learner.m", "learner.learning_rate", "learner.regularizer"};
  return keys.count(key) > 0;
}

namespace {

std::vector<std::string> items_of(const toml::node* n) {
  std::vector<std::string> out;
  if (!n) return out;
  if (const auto* a = n->as_array())
    for (const auto& e : *a) out.push_back(message_value(e));
  else
    out.push_back(message_value(*n));
  return out;
}

}  // namespace

std::vector<std::string> science_items(const Config& config, const std::string& section, const std::string& key) {
  const toml::table t = toml::parse(config.science_toml);
  return items_of(t[section][key].node());
}

std::vector<std::string> extension_conflicts(const Config& before, const Config& after) {
  const toml::table a = toml::parse(before.science_toml), b = toml::parse(after.science_toml);
  std::vector<std::string> out;
  auto show_list = [](const std::vector<std::string>& v) {
    return v.empty() ? std::string("[]") : fmt::format("[ {} ]", fmt::join(v, ", "));
  };
  // Values of `old` missing from `now`: an extension keeps every one.
  auto check_kept = [&](const std::string& key, const std::vector<std::string>& old, const std::vector<std::string>& now) {
    std::vector<std::string> dropped;
    for (const auto& v : old)
      if (std::find(now.begin(), now.end(), v) == now.end()) dropped.push_back(v);
    if (!dropped.empty())
      out.push_back(fmt::format("{}: {} -> {} (drops {}; an extension keeps every earlier value)", key, show_list(old),
                                show_list(now), fmt::join(dropped, ", ")));
  };
  for (const auto& k : schema()) {
    if (!k.results) continue;
    const std::string key = fmt::format("{}.{}", k.section, k.name);
    const toml::node* x = a[k.section][k.name].node();
    const toml::node* y = b[k.section][k.name].node();
    if (key == "data.dim") continue;  // with sweep.dims
    if (key == "sweep.dims") {
      // The d values the sweep runs: sweep.dims, or data.dim when it is empty.
      const std::vector<std::string> old = items_of(x), now = items_of(y);
      const bool plain = old.empty() && now.empty();
      check_kept(plain ? "data.dim" : key, old.empty() ? items_of(a["data"]["dim"].node()) : old,
                 now.empty() ? items_of(b["data"]["dim"].node()) : now);
    } else if (is_extent_key(key)) {
      check_kept(key, items_of(x), items_of(y));
    } else {
      const std::string sx = x ? message_value(*x) : "(absent)", sy = y ? message_value(*y) : "(absent)";
      if (sx != sy) out.push_back(fmt::format("{}: {} -> {}", key, sx, sy));
    }
  }
  return out;
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))  // an ifstream opens a folder and reads nothing: the default sweep
    throw InputError(fmt::format("{}: a folder, not a configuration file", path));
  std::ifstream in(path);
  if (!in) throw InputError(fmt::format("{}: cannot read the configuration file", path));
  std::stringstream buf;
  buf << in.rdbuf();
  return parse_config(buf.str(), overrides, path);
}

std::string display_toml(const Config& config) {
  const toml::table t = toml::parse(config.resolved_toml);
  std::string out;
  for (const auto& [section, node] : t) {
    if (!node.is_table()) continue;
    out += fmt::format("{}[{}]\n", out.empty() ? "" : "\n", section.str());
    for (const auto& [key, value] : *node.as_table()) {
      const auto spec = std::find_if(schema().begin(), schema().end(), [&](const KeySpec& k) {
        return section.str() == k.section && key.str() == k.name;
      });
      if (spec != schema().end() && !scope_mismatch(spec->scope, t).empty()) continue;
      out += fmt::format("{} = {}\n", key.str(), display_value(value));
    }
  }
  return out;
}

std::string config_reference() {
  std::string out = "# neurep configuration: every key, its default and what it means\n";
  std::string section;
  for (const auto& k : schema()) {
    if (section != k.section) {
      section = k.section;
      out += fmt::format("\n[{}]\n", section);
    }
    std::string line = fmt::format("{} = {}", k.name, k.default_toml);
    std::string help = k.help;
    if (!k.choices.empty()) help += fmt::format(" ({})", fmt::join(k.choices, " | "));
    out += fmt::format("{:<34}# {}\n", line, help);
  }
  return out;
}

}  // namespace neurep
