// The Taylor models as a Learner (learner.kind = "taylor"): gradient descent
// on one point (taylor.hpp), checkpointed through PointCheckpoints as a typed
// state (TrainerState saved and loaded by one list of its fields).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "neurep/learner.hpp"
#include "neurep/taylor.hpp"

namespace neurep {

std::unique_ptr<Learner> make_taylor_learner(const Config& config);

// A trainer's state as a /checkpoint (the driver names the point) and
// back, by one list of its fields; `seconds` replaces state.seconds. The
// matrices point into `state`. load_state reads them through
// `load_matrix` (collective).
Checkpoint save_state(const TrainerState& state, double seconds);
void load_state(const Checkpoint& checkpoint,
                const std::function<void(const std::string&, DistMatrix<double>&)>& load_matrix, TrainerState& state);

}  // namespace neurep
