// Kernel ridge regression as a Learner (learner.kind = "kernel"): the Gram
// source for the point's input (features U U^T, the infinite-width K_h, or
// the empirical NTK of the order-1 network), kernel_regression for every
// ridge, and with ridge_selection = "validation" every ridge refitted on the
// first n - v points and scored on the last v.
#pragma once

#include <memory>

#include "neurep/learner.hpp"

namespace neurep {

std::unique_ptr<Learner> make_kernel_learner(const Config& config);

}  // namespace neurep
