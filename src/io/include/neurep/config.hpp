// Configuration: the TOML edge of neurep. The schema (src/io/config.cpp) holds
// every key once, with its default (written nowhere else), a one-line
// description and the kinds of learner or representation it applies to;
// --set overrides; parsing into the typed settings of settings.hpp (choices
// become enums, sizes SizeExpr resolved at every d of the sweep, the learner
// and the representation a variant per kind, so a key of another kind cannot
// be carried along); and one validate() with every rule that involves more
// than one key. Bad input throws InputError with one line naming the key; a
// Config that exists is valid.
#pragma once

#include <string>
#include <vector>

#include "neurep/settings.hpp"

namespace neurep {

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

// The keys that only say how far a sweep reaches (`neurep run --extend` may
// add values to them): sweep.dims (with data.dim, the d of a sweep without
// dims), sweep.n_train, sweep.seeds, learner.ridge and the candidate lists
// learner.m, learner.learning_rate, learner.regularizer.
bool is_extent_key(const std::string& section_key);
// Why `after` does not extend `before`: one "section.key: old -> new" per
// other science key that differs, and per extent key that loses a value
// "section.key: old -> new (drops v, ...)". Empty: `after` is `before` with
// values added to its extent keys (or the same).
std::vector<std::string> extension_conflicts(const Config& before, const Config& after);
// The values of a key of the science part as text, one per list item (a
// scalar is a list of one): what identifies an extent value across files.
std::vector<std::string> science_items(const Config& config, const std::string& section, const std::string& key);

// The resolved configuration as `neurep check` prints it: only the keys of the
// chosen kinds, numbers in their shortest round-trip form (0.1, not
// 0.10000000000000001). Valid TOML that parses to the same configuration.
std::string display_toml(const Config& config);

// Every key with its default and description, as TOML with comments.
std::string config_reference();

}  // namespace neurep
