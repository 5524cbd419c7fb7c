// Built by the layering test and expected to fail: the representation layer
// must not include a learner (kernel regression lies below it in the data flow).
#include "neurep/kernel_regression.hpp"
#include "neurep/representation.hpp"
