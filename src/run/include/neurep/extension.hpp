// neurep run --extend (DESIGN 3.5): an existing results file grown to a
// configuration that adds values to the sweep's extent keys (is_extent_key:
// d, n, seeds, ridges, candidate lists), so that the file ends as one run of
// the larger sweep would write it, without recomputing a point that is done.
//
// What is a done point under the larger sweep:
//  - a (d, n, seed, candidate) of the earlier file whose candidate settings
//    are in the new lists: done (its rows and curve kept, the candidate
//    renumbered to its place among the new candidates); an unfinished point
//    continues from its checkpoint if it is the first the extension runs,
//    else it starts again (first_pending_point);
//  - a kernel point whose ridge list changed: not done. A kernel point solves
//    all its ridges together (one kernel matrix; its test predictions one
//    product over all ridges, its flops and a leave-one-out choice those of
//    the whole list), so it runs again with the new list and its rows are
//    replaced by the same values a single run gives;
//  - a refit (learner.refit) whose candidate list grew: not done (the
//    validation split may now choose another candidate);
//  - `selected` of a (d, n, seed) with new candidates is decided again over
//    all of them when the new ones are done (as every point does).
#pragma once

#include <string>
#include <vector>

#include "neurep/config.hpp"
#include "neurep/output.hpp"
#include "neurep/sweep.hpp"

namespace neurep {

// Checks that `config` extends `stored`, the configuration that wrote
// `earlier` (else InputError naming every key that differs, old -> new), and
// rewrites `earlier` into the points of `config` (above). Returns what the
// extension adds, "section.key: old -> new; ..." (empty: nothing).
std::string extend_results(ResultsContents& earlier, const Config& stored, const Config& config,
                           const std::string& output);

// The name of the first point `plan` runs that is not done ("" when all are).
// An unfinished point's /checkpoint continues only if it is this point: the
// first commit of another point leaves the checkpoint out of the file (after
// --extend a new point can come first).
std::string first_pending_point(const Config& config, const SweepPlan& plan);

// Sorts rows into the order one run of `config` writes them: by d, seed and n
// in the order the configuration lists them, then by the point's place in
// `plan.points()`; the rows of one point keep their order. A no-op for a file
// written by one run (or resumed); after --extend, the order of a fresh run.
void order_rows(std::vector<ResultRow>& rows, const Config& config, const SweepPlan& plan);

}  // namespace neurep
