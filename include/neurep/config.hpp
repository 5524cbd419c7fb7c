// Configuration: the TOML schema of SPEC 3.1 (every key with a default and a
// one-line description), parsing, --set overrides and validation.
// Bad input throws InputError with one line naming the key and the accepted
// values; a Config that exists is valid.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace neurep {

struct DataConfig {
  int dim = 16;
  std::string input = "sphere";  // sphere | gaussian
  std::vector<int> degrees{4};
  std::vector<double> coefficients{1.0};
  bool normalize = true;
  double noise = 0.0;
  int64_t n_test = 4000;
};

struct RepresentationConfig {
  std::string kind = "none";  // none | random
  std::string width = "2*d^2";  // D, an expression of d
  std::string activation = "step";
  bool bias = true;
  std::string whiten = "zca";  // zca | center | none
  std::string n_unlabeled = "0";  // 0 means 4*width
  double whiten_ridge = 1e-3;
  int depth = 1;
  bool infinite = false;
};

// The validation split of n training points: the last
// floor(validation_fraction n) of them (so nested training sets share their
// first points and the split moves with n).
inline int64_t validation_size(double validation_fraction, int64_t n) {
  return static_cast<int64_t>(std::floor(validation_fraction * static_cast<double>(n)));
}

struct LearnerConfig {
  std::string kind = "kernel";  // kernel | taylor
  std::string kernel = "ntk";
  bool input_bias = false;
  std::vector<double> ridge{1e-6};
  std::string solver = "auto";  // auto | cholesky | eigen
  std::string ridge_selection = "none";  // none | loo
  std::string order = "2";      // 1 | 2 | full
  std::string width = "512";    // m, an expression of d (the first candidate)
  std::vector<std::string> widths{"512"};  // all candidates
  std::string activation = "quadratic";
  bool sign_randomization = false;
  double init_scale = 0.1;
  std::string output_signs = "balanced";
  double regularizer = 0.0;  // the first candidate
  std::vector<double> regularizers{0.0};
  int reg_power = 4;
  double weight_decay = 0.0;
  double learning_rate = 0.1;  // the first candidate
  std::vector<double> learning_rates{0.1};
  double momentum = 0.0;
  std::string schedule = "constant";
  int64_t steps = 2000;
  int64_t eval_every = 50;
  double validation_fraction = 0.0;
  int64_t patience = 0;
  bool output_bias = false;  // the trained offset c of a Taylor model
  bool refit = false;        // a Taylor model trained again on all n with the validated choices
};

struct SweepConfig {
  std::vector<int> dims;  // empty: just data.dim
  std::vector<int64_t> n_train{256, 512, 1024};
  std::vector<int64_t> seeds{0, 1, 2};
};

struct RunConfig {
  int64_t seed = 2020;
  std::string grid = "auto";
  int block = 128;
  std::string precision = "double";
  bool save_data = false;
  int64_t checkpoint_every = 0;
  double checkpoint_seconds = 600;
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
// where value is TOML (a bare word is taken as a string).
Config load_config(const std::string& path, const std::vector<std::string>& overrides);
// The same from TOML text (tests, and /config of a results file).
Config parse_config(const std::string& toml_text, const std::vector<std::string>& overrides,
                    const std::string& origin = "configuration");

// Every key with its default and description, as TOML with comments.
std::string config_reference();

}  // namespace neurep
