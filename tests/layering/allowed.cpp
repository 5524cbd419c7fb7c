// Built by the layering test: the representation layer may include the layers above it.
#include "neurep/data.hpp"
#include "neurep/grid.hpp"
#include "neurep/representation.hpp"
#include "neurep/settings.hpp"
