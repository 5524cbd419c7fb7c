// Built by the layering test and expected to fail: the data layer must not
// include the results file (io lies below it in the data flow).
#include "neurep/data.hpp"
#include "neurep/output.hpp"
