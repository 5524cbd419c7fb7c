// Configuration: the TOML schema (every key with its default, written once in
// src/config.cpp, and a one-line description), --set overrides, and the typed
// settings the rest of neurep receives. Text is parsed here once: choices
// become enums (settings.hpp), sizes become SizeExpr resolved at every d of
// the sweep, and the learner and the representation become a variant per
// kind, so a key of another kind cannot be carried along. One validate()
// holds every rule that involves more than one key. Bad input throws
// InputError with one line naming the key; a Config that exists is valid.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "neurep/settings.hpp"

namespace neurep {

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
  std::vector<SizeExpr> widths;  // m; more than one: candidates
  Activation activation{};
};

// learner.kind = "kernel".
struct KernelLearnerConfig {
  KernelKind kernel{};
  std::vector<double> ridges;
  KernelSolver solver{};
  RidgeSelection ridge_selection{};
  NetworkConfig network;  // kernel = "empirical-ntk" only
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
};

struct LearnerConfig {
  bool input_bias{};
  double validation_fraction{};
  std::variant<KernelLearnerConfig, TaylorLearnerConfig> method;

  LearnerKind kind() const { return method.index() == 0 ? LearnerKind::Kernel : LearnerKind::Taylor; }
  // Null unless the learner is of that kind.
  const KernelLearnerConfig* kernel() const { return std::get_if<KernelLearnerConfig>(&method); }
  const TaylorLearnerConfig* taylor() const { return std::get_if<TaylorLearnerConfig>(&method); }
  // The network this learner trains or takes its kernel from (null for the other kernels).
  const NetworkConfig* network() const;
};

struct SweepConfig {
  std::vector<int> dims;  // empty: just data.dim
  std::vector<int64_t> n_train;
  std::vector<int64_t> seeds;
};

struct RunConfig {
  int64_t seed{};
  GridRequest grid;
  int block{};
  Precision precision{};
  bool save_data{};
  int64_t checkpoint_every{};
  double checkpoint_seconds{};
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

  // The dims to sweep: sweep.dims, or {data.dim} when it is empty.
  std::vector<int> dims() const;
};

// The candidate settings of a learner: every combination of the lists in
// learner.learning_rate, width and regularizer (for a trainable network),
// each with single values. One element when there is nothing to choose.
std::vector<LearnerConfig> learner_candidates(const LearnerConfig& learner);

// Reads CONFIG (TOML) and applies overrides of the form "section.key=value",
// where value is TOML (a bare word is taken as a string). A key that does not
// apply to the chosen learner or representation kind is an error naming it.
Config load_config(const std::string& path, const std::vector<std::string>& overrides);
// The same from TOML text (tests). With `stored` (the resolved /config of a
// results file, which lists every key) keys of other kinds are accepted.
Config parse_config(const std::string& toml_text, const std::vector<std::string>& overrides,
                    const std::string& origin = "configuration", bool stored = false);
// The configuration with every key at its default.
Config default_config();

// The keys whose value differs between the science parts of two
// configurations, one "section.key: old -> new" each.
std::vector<std::string> config_differences(const Config& before, const Config& after);

// Every key with its default and description, as TOML with comments.
std::string config_reference();

}  // namespace neurep
