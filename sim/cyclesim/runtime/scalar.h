// One lane: a value of the single copy of the design is a plain word.
#pragma once
#include "common.h"

namespace cyclesim {

constexpr int LANES = 1;
typedef U W;
static inline U V(U x) { return x; }

}  // namespace cyclesim
